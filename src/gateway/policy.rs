//! Policy stages: the ordered checks every request passes between routing
//! and the attempt engine. A stage sees the canonical request, the client
//! key and the routing decision; it may refuse (a client error in the
//! client's dialect), rewrite the request (every attempt then renders from
//! the rewritten canonical request, even for a same-dialect provider), or
//! attach obligations for the response side. The list holds the guard
//! stage when `[guards]` (or a route's `[models.guards]`) asks for one, and
//! the probe stage that tests configure under `[testing]`. A stage first
//! says, from the raw request, whether it needs to see it at all: a request
//! no stage needs is never parsed for them.

use super::obligations::Obligations;
use crate::api::ApiError;
use crate::canonical::ChatRequest;
use crate::config::{ProbeStageConfig, RouteGuardsConfig};
use crate::router::ClientKey;
use crate::router::decide::Decision;
use crate::server::Request;

/// What a stage is given.
pub struct StageRequest<'a> {
    pub canonical: &'a mut ChatRequest,
    pub http: &'a Request,
    pub key: Option<&'a ClientKey>,
    /// The tool policy the key's team names, if any.
    pub team_policy: Option<&'a str>,
    pub decision: &'a Decision,
    pub obligations: &'a mut Obligations,
    /// Set by a stage that changed `canonical`.
    pub rewritten: bool,
    /// What the stages did, for the delivery record (`injection:flag:rule`).
    pub events: &'a mut Vec<String>,
    /// What the client is told in `x-tollgate-guard` (flags, masks, strips).
    pub flags: &'a mut Vec<String>,
}

pub trait PolicyStage: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// Whether this request needs the stage at all, from its raw bytes.
    fn needed(&self, _http: &Request, _route: &RouteGuardsConfig) -> bool {
        true
    }
    fn apply(&self, req: &mut StageRequest<'_>) -> Result<(), ApiError>;
}

/// The stages a config asks for, in order.
pub fn stages_for(
    config: &crate::config::Config,
    guards: Option<&std::sync::Arc<super::guards::Guards>>,
) -> Vec<Box<dyn PolicyStage>> {
    let mut stages: Vec<Box<dyn PolicyStage>> = Vec::new();
    if let Some(g) = guards {
        stages.push(Box::new(super::guards::GuardStage(g.clone())));
    }
    if let Some(probe) = &config.testing.probe_stage {
        stages.push(Box::new(ProbeStage(probe.clone())));
    }
    stages
}

/// A stage for tests of the seam itself: it rewrites `temperature`, refuses
/// requests carrying a header, and holds streamed tool calls.
#[derive(Debug)]
pub struct ProbeStage(pub ProbeStageConfig);

impl PolicyStage for ProbeStage {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn apply(&self, req: &mut StageRequest<'_>) -> Result<(), ApiError> {
        if let Some(header) = &self.0.refuse_header
            && req.http.header(header).is_some()
        {
            return Err(ApiError::coded(
                403,
                "permission_error",
                "refused_by_policy",
                format!(
                    "Refused by the `{}` policy stage for model `{}`.",
                    self.name(),
                    req.decision.model.name
                ),
            ));
        }
        if let Some(t) = self.0.set_temperature {
            req.canonical.sampling.temperature = Some(t);
            req.rewritten = true;
        }
        if self.0.hold_tool_calls {
            req.obligations.hold_tool_calls = true;
        }
        Ok(())
    }
}
