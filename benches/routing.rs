//! The cost of one routing decision over a large catalog: 500 models (two
//! deployments each, with fallbacks) and 20 rules, rules evaluated in order
//! with the matching one last, then the plan with breakers and weighted order.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::router::Snapshot;
use tollgate::router::decide::{RequestFacts, decide};
use tollgate::router::plan::plan;

fn catalog() -> Snapshot {
    let mut toml = String::from(
        "[[providers]]\nname = \"p1\"\nkind = \"openai_compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
         [[providers]]\nname = \"p2\"\nkind = \"openai_compatible\"\nbase_url = \"http://127.0.0.1:10/v1\"\n",
    );
    for i in 0..500 {
        let fallback = if i > 0 {
            format!("fallbacks = [\"model-{}\"]\n", i - 1)
        } else {
            String::new()
        };
        toml.push_str(&format!(
            "[[models]]\nname = \"model-{i}\"\n{fallback}deployments = [\n  {{ provider = \"p1\", upstream_model = \"up-{i}-a\", region = \"eu\", weight = 2, tier = \"cheap\" }},\n  {{ provider = \"p2\", upstream_model = \"up-{i}-b\", region = \"us\", weight = 1, tier = \"flagship\" }},\n]\n"
        ));
    }
    for r in 0..19 {
        toml.push_str(&format!(
            "[[rules]]\nname = \"rule-{r}\"\nmatch = {{ tags = [\"tag-{r}\"], models = [\"model-{r}\"] }}\nroute_to = \"model-{}\"\n",
            r + 100
        ));
    }
    toml.push_str(
        "[[rules]]\nname = \"hard\"\nmatch = { min_complexity = 0.5 }\nregion = \"eu\"\n",
    );
    let config = tollgate::config::load_str(&toml).expect("bench config is valid");
    Snapshot::build(Arc::new(config), 1)
}

fn bench(c: &mut Criterion) {
    let snapshot = catalog();
    let mut g = c.benchmark_group("routing");
    g.sample_size(50);
    g.bench_function("decide (500 models, 20 rules, last rule matches)", |b| {
        b.iter(|| {
            let facts = RequestFacts {
                model: "model-250",
                tags: vec!["interactive".into()],
                complexity: 0.7,
                ..Default::default()
            };
            decide(&snapshot, &facts).unwrap()
        })
    });
    g.bench_function("decide + plan (fallback chain of 8 models)", |b| {
        b.iter(|| {
            let facts = RequestFacts {
                model: "model-250",
                complexity: 0.1,
                ..Default::default()
            };
            let d = decide(&snapshot, &facts).unwrap();
            plan(&snapshot, &d).targets.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
