//! The ordered list of deployments one request may try: the decided model's
//! healthy deployments in selection order, then each fallback model's, all
//! filtered by residency region and tier. When every candidate's breaker is
//! open, the one that opened first is tried anyway (a panic probe) rather
//! than refusing a request the upstream may well serve again.

use std::sync::Arc;

use super::decide::{Decision, model_chain};
use super::{Deployment, Snapshot, health};
use crate::config::SelectionStrategy;
use crate::resilience::{p2c_order, weighted_order};

pub struct Plan {
    pub targets: Vec<Arc<Deployment>>,
    /// Why deployments were left out, for the error when nothing is left.
    pub excluded: Vec<String>,
    /// Every candidate was breaker-open: `targets` holds the one tried anyway.
    pub panic: bool,
}

pub fn plan(snapshot: &Snapshot, decision: &Decision) -> Plan {
    health::sync(snapshot);
    let mut targets = Vec::new();
    let mut excluded = Vec::new();
    // Breaker-open candidates that pass every other filter, with when each reopens.
    let mut open: Vec<(u64, Arc<Deployment>)> = Vec::new();
    let chain = if decision.model.pinned {
        vec![decision.model.clone()]
    } else {
        model_chain(snapshot, &decision.model)
    };
    for model in chain {
        let mut eligible: Vec<&Arc<Deployment>> = Vec::with_capacity(model.deployments.len());
        for d in &model.deployments {
            let label = || format!("{}/{}", d.provider.name, d.upstream_model);
            if !d.is_enabled() {
                excluded.push(format!("{}: provider disabled", label()));
            } else if decision
                .region
                .as_ref()
                .is_some_and(|r| d.region.as_ref() != Some(r))
            {
                excluded.push(format!("{}: outside region", label()));
            } else if decision
                .tier
                .as_ref()
                .is_some_and(|t| d.tier.as_ref() != Some(t))
            {
                excluded.push(format!("{}: other tier", label()));
            } else if !health::available(d) {
                excluded.push(format!("{}: breaker open", label()));
                open.push((health::reopens_at(d).unwrap_or(u64::MAX), d.clone()));
            } else if !targets.iter().any(|t: &Arc<Deployment>| t.index == d.index) {
                eligible.push(d);
            }
        }
        let mut rng = health::random_u64;
        let order = match snapshot.config.routing.selection {
            _ if eligible.len() <= 1 => (0..eligible.len()).collect(),
            SelectionStrategy::Weighted => {
                let weights: Vec<u32> = eligible.iter().map(|d| d.weight).collect();
                weighted_order(&weights, &mut rng)
            }
            SelectionStrategy::Latency => {
                let latencies: Vec<Option<f64>> =
                    eligible.iter().map(|d| health::ewma_ttfb_ms(d)).collect();
                p2c_order(&latencies, &mut rng)
            }
        };
        targets.extend(order.into_iter().map(|i| eligible[i].clone()));
    }
    // Envoy's panic threshold, LiteLLM's single-deployment rule: an all-open
    // plan (a lone deployment after a burst, most often) still gets one try.
    let panic = targets.is_empty() && !open.is_empty();
    if panic {
        let (_, first_opened) = open
            .into_iter()
            .min_by_key(|(until, _)| *until)
            .expect("not empty");
        targets.push(first_opened);
    }
    Plan {
        targets,
        excluded,
        panic,
    }
}
