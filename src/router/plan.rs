//! The ordered list of deployments one request may try: the decided model's
//! healthy deployments in selection order, then each fallback model's, all
//! filtered by residency region and tier.

use std::sync::Arc;

use super::decide::{Decision, model_chain};
use super::{Deployment, Snapshot, health};
use crate::config::SelectionStrategy;
use crate::resilience::{p2c_order, weighted_order};

pub struct Plan {
    pub targets: Vec<Arc<Deployment>>,
    /// Why deployments were left out, for the error when nothing is left.
    pub excluded: Vec<String>,
}

pub fn plan(snapshot: &Snapshot, decision: &Decision) -> Plan {
    health::sync(snapshot);
    let mut targets = Vec::new();
    let mut excluded = Vec::new();
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
    Plan { targets, excluded }
}
