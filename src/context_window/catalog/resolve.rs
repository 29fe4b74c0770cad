//! The catalog as one config sees it: the built-in entries with the
//! config's `[catalog."<model>"]` tables merged in, built once per config
//! snapshot, plus the check that names every problem in those tables.
//!
//! A table whose name is a built-in id or alias changes that entry for all
//! its names; a table whose name only resolves to an entry (a dated
//! snapshot, a host's path) or that says `like = "<id>"` defines that one
//! name, starting from the entry; any other table defines a new model.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use super::data::build_spec;
use super::{Catalog, ModelSpec, SpecOrigin, lookup_keys};
use crate::config::{CatalogOverride, Config, ConfigError};

/// Where a name's entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    BuiltIn(usize),
    Added(usize),
}

/// The built-in catalog with one config's tables merged in. Read-only once
/// built; `get` for a configured upstream name is one hash lookup.
#[derive(Debug)]
pub struct ResolvedCatalog {
    builtin: &'static Catalog,
    /// Built-in entries a table changed, by entry index.
    merged: HashMap<usize, ModelSpec>,
    /// Models (or single names) only the config defines.
    added: Vec<ModelSpec>,
    added_by_name: HashMap<String, usize>,
    /// Every upstream name the config's models and deployments send,
    /// resolved in advance (`None`: unknown, no fitting).
    configured: HashMap<String, Option<Slot>>,
}

impl ResolvedCatalog {
    /// Merges the config's tables into the built-in catalog. The config has
    /// passed [`check_overrides`]; a table that would not build is skipped.
    pub fn resolve(config: &Config) -> ResolvedCatalog {
        Self::resolve_with(Catalog::builtin(), config)
    }

    pub(crate) fn resolve_with(builtin: &'static Catalog, config: &Config) -> ResolvedCatalog {
        let mut resolved = ResolvedCatalog {
            builtin,
            merged: HashMap::new(),
            added: Vec::new(),
            added_by_name: HashMap::new(),
            configured: HashMap::new(),
        };
        for (name, table) in &config.catalog {
            match plan(builtin, name, table) {
                Ok(Planned::Merge(i, spec)) => {
                    resolved.merged.insert(i, spec);
                }
                Ok(Planned::Add(spec)) => {
                    resolved
                        .added_by_name
                        .insert(name.trim().to_ascii_lowercase(), resolved.added.len());
                    resolved.added.push(spec);
                }
                Err(_) => {}
            }
        }
        for name in configured_upstream_names(config) {
            let slot = resolved.find(&name);
            resolved.configured.insert(name, slot);
        }
        resolved
    }

    /// The entry for an upstream model name, `None` when the catalog and
    /// the config know nothing of it (the caller then fits nothing).
    pub fn get(&self, model: &str) -> Option<&ModelSpec> {
        let slot = match self.configured.get(model) {
            Some(slot) => *slot,
            None => self.find(model),
        };
        slot.map(|s| self.spec(s))
    }

    /// Configured upstream names the catalog does not know.
    pub fn unknown_configured(&self) -> impl Iterator<Item = &str> {
        self.configured
            .iter()
            .filter(|(_, slot)| slot.is_none())
            .map(|(name, _)| name.as_str())
    }

    /// Logs each configured unknown model once per process; call it where
    /// a snapshot is built, off the request path.
    pub fn log_unknown_configured(&self) {
        let mut names: Vec<&str> = self.unknown_configured().collect();
        names.sort_unstable();
        for name in names {
            log_unknown_once(name);
        }
    }

    fn find(&self, model: &str) -> Option<Slot> {
        lookup_keys(model).iter().find_map(|k| {
            self.added_by_name
                .get(k)
                .map(|&i| Slot::Added(i))
                .or_else(|| self.builtin.by_name.get(k).map(|&i| Slot::BuiltIn(i)))
        })
    }

    fn spec(&self, slot: Slot) -> &ModelSpec {
        match slot {
            Slot::Added(i) => &self.added[i],
            Slot::BuiltIn(i) => self.merged.get(&i).unwrap_or(&self.builtin.entry(i).spec),
        }
    }
}

enum Planned {
    Merge(usize, ModelSpec),
    Add(ModelSpec),
}

/// What one table does, or its problems as (field, message).
fn plan(
    builtin: &Catalog,
    name: &str,
    table: &CatalogOverride,
) -> Result<Planned, Vec<(String, String)>> {
    if name.trim().is_empty() {
        return Err(vec![(
            String::new(),
            "a model name must not be empty".into(),
        )]);
    }
    let base = match &table.like {
        Some(like) => match builtin.find(like) {
            Some(i) => Some(i),
            None => {
                return Err(vec![(
                    "like".into(),
                    format!("the built-in catalog has no model `{like}`"),
                )]);
            }
        },
        None => builtin.find(name),
    };
    let Some(i) = base else {
        let spec = build_spec(name, "config", table, SpecOrigin::Config)?;
        return Ok(Planned::Add(spec));
    };
    let entry = builtin.entry(i);
    let fields = clamped(&entry.fields, table);
    let whole_entry = table.like.is_none() && builtin.find_exact(name) == Some(i);
    if whole_entry {
        let spec = build_spec(
            &entry.spec.id,
            &entry.spec.provider,
            &fields,
            SpecOrigin::Overridden,
        )?;
        Ok(Planned::Merge(i, spec))
    } else {
        let spec = build_spec(name, &entry.spec.provider, &fields, SpecOrigin::Overridden)?;
        Ok(Planned::Add(spec))
    }
}

/// The entry's figures with the table's merged in. A limit the table
/// leaves alone gives way to one it sets: lowering the window lowers the
/// built-in output and prompt caps with it instead of failing the check.
fn clamped(base: &CatalogOverride, table: &CatalogOverride) -> CatalogOverride {
    let mut f = base.merged(table);
    let window = f.context_window.unwrap_or(u32::MAX);
    if table.max_output_tokens.is_none() {
        f.max_output_tokens = f.max_output_tokens.map(|m| m.min(window));
    }
    if table.max_input_tokens.is_none() && f.max_input_tokens.is_some_and(|m| m > window) {
        f.max_input_tokens = None;
    }
    if table.default_output_tokens.is_none()
        && let (Some(d), Some(max)) = (f.default_output_tokens, f.max_output_tokens)
    {
        f.default_output_tokens = Some(d.min(max));
    }
    f
}

/// Every problem in the config's `[catalog."…"]` tables, each named by its
/// path (`catalog."my-model".context_window`).
pub fn check_overrides(tables: &BTreeMap<String, CatalogOverride>) -> Vec<ConfigError> {
    let builtin = Catalog::builtin();
    let mut errors = Vec::new();
    for (name, table) in tables {
        if let Err(problems) = plan(builtin, name, table) {
            for (field, message) in problems {
                let at = format!("catalog.\"{name}\"");
                let path = if field.is_empty() {
                    at
                } else {
                    format!("{at}.{field}")
                };
                errors.push(ConfigError { path, message });
            }
        }
    }
    errors
}

/// The upstream model names the config's models and deployments send, in
/// config order, each once.
pub fn configured_upstream_names(config: &Config) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    // The in-process mock model has no window to fit: it is not listed.
    let in_process = |provider: &str| {
        config
            .providers
            .iter()
            .any(|p| p.name == provider && p.kind == crate::config::ProviderKind::Mock)
    };
    for m in &config.models {
        let upstreams: Vec<&str> = if m.deployments.is_empty() {
            m.provider
                .as_deref()
                .filter(|p| !in_process(p))
                .map(|_| m.upstream_model.as_deref().unwrap_or(&m.name))
                .into_iter()
                .collect()
        } else {
            m.deployments
                .iter()
                .filter(|d| !in_process(&d.provider))
                .map(|d| d.upstream_model.as_deref().unwrap_or(&m.name))
                .collect()
        };
        for u in upstreams {
            if seen.insert(u) {
                names.push(u.to_string());
            }
        }
    }
    names
}

/// Says once per process that a model is not in the catalog, so its
/// requests are not fitted. Returns whether this call logged. The set is
/// touched only for unknown models, when a snapshot is built.
pub fn log_unknown_once(model: &str) -> bool {
    static LOGGED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut logged = LOGGED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !logged.insert(model.to_string()) {
        return false;
    }
    eprintln!(
        "tollgate: model `{model}` is not in the model catalog: its requests are not fitted \
         (describe it in a [catalog.\"{model}\"] table to fit them)"
    );
    true
}
