//! The federated catalog: every reachable server's tools, prompts,
//! resources and templates under their `<prefix>-<name>` names, the item
//! JSON spliced (schemas intact), built by the supervisor thread and read
//! by every core through one `ArcSwap`. Each kind has its own generation,
//! so a listener hears only of the lists that changed.

use std::ops::Range;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use super::json::{items, members, quoted, string, string_member, with_member};
use super::upstream::UpstreamSpec;
use super::wire::headers::{HeaderParam, header_params};
use super::wire::names::federated;

/// One server's lists as its last probe returned them (each item's raw JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerLists {
    pub tools: Vec<Vec<u8>>,
    pub prompts: Vec<Vec<u8>>,
    pub resources: Vec<Vec<u8>>,
    pub templates: Vec<Vec<u8>>,
}

/// What the supervisor knows of one configured server.
#[derive(Clone)]
pub struct ServerState {
    pub name: String,
    /// How to reach it; cores keep their clients per spec, so a reload
    /// that replaces the spec replaces their clients, and only then.
    pub spec: Option<Arc<UpstreamSpec>>,
    pub prefix: String,
    /// Reachable: its items are in the catalog and calls go to it.
    pub up: bool,
    /// The protocol version the gateway speaks with it, once known.
    pub version: Option<&'static str>,
    pub lists: ServerLists,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("name", &self.name)
            .field("up", &self.up)
            .field("version", &self.version)
            .finish()
    }
}

#[derive(Debug)]
pub struct Tool {
    pub federated: String,
    pub server: usize,
    pub original: String,
    /// The tool object as clients see it (its `name` federated).
    pub json: Vec<u8>,
    /// `definition_hash` of the federated definition, for pins.
    pub hash: Option<String>,
    /// Arguments mirrored into `Mcp-Param-*` headers (`x-mcp-header`).
    pub header_params: Vec<HeaderParam>,
}

#[derive(Debug)]
pub struct Prompt {
    pub federated: String,
    pub server: usize,
    pub original: String,
    pub json: Vec<u8>,
}

#[derive(Debug)]
pub struct Resource {
    pub server: usize,
    /// `uri` of a resource; `uriTemplate` of a template.
    pub uri: String,
    pub json: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Catalog {
    /// Bumped whenever anything a client could see changed.
    pub generation: u64,
    pub tools_gen: u64,
    pub prompts_gen: u64,
    pub resources_gen: u64,
    pub servers: Vec<ServerState>,
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    pub templates: Vec<Resource>,
    tool_index: FxHashMap<String, usize>,
    prompt_index: FxHashMap<String, usize>,
    resource_index: FxHashMap<String, usize>,
}

impl Catalog {
    /// The catalog of `servers` as they are; generations carried over from
    /// `previous` and bumped for each kind whose items changed.
    pub fn build(servers: Vec<ServerState>, previous: &Catalog) -> Catalog {
        let mut c = Catalog {
            servers,
            ..Catalog::default()
        };
        for (i, s) in c.servers.iter().enumerate().filter(|(_, s)| s.up) {
            for item in &s.lists.tools {
                if let Some(tool) = federate_tool(i, &s.prefix, item)
                    && !c.tool_index.contains_key(&tool.federated)
                {
                    c.tool_index.insert(tool.federated.clone(), c.tools.len());
                    c.tools.push(tool);
                }
            }
            for item in &s.lists.prompts {
                if let Some((federated, original, json)) = federate_named(&s.prefix, item)
                    && !c.prompt_index.contains_key(&federated)
                {
                    c.prompt_index.insert(federated.clone(), c.prompts.len());
                    c.prompts.push(Prompt {
                        federated,
                        server: i,
                        original,
                        json,
                    });
                }
            }
            for item in &s.lists.resources {
                if let Some(r) = federate_resource(i, &s.prefix, item, b"uri")
                    && !c.resource_index.contains_key(&r.uri)
                {
                    c.resource_index.insert(r.uri.clone(), c.resources.len());
                    c.resources.push(r);
                }
            }
            for item in &s.lists.templates {
                if let Some(r) = federate_resource(i, &s.prefix, item, b"uriTemplate") {
                    c.templates.push(r);
                }
            }
        }
        let same = |a: &[Vec<u8>], b: &[&Vec<u8>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == *y)
        };
        let tools: Vec<&Vec<u8>> = c.tools.iter().map(|t| &t.json).collect();
        let old_tools: Vec<Vec<u8>> = previous.tools.iter().map(|t| t.json.clone()).collect();
        let prompts: Vec<&Vec<u8>> = c.prompts.iter().map(|p| &p.json).collect();
        let old_prompts: Vec<Vec<u8>> = previous.prompts.iter().map(|p| p.json.clone()).collect();
        let resources: Vec<&Vec<u8>> = c
            .resources
            .iter()
            .chain(&c.templates)
            .map(|r| &r.json)
            .collect();
        let old_resources: Vec<Vec<u8>> = previous
            .resources
            .iter()
            .chain(&previous.templates)
            .map(|r| r.json.clone())
            .collect();
        let bump = |changed: bool, g: u64| if changed { g + 1 } else { g };
        c.tools_gen = bump(!same(&old_tools, &tools), previous.tools_gen);
        c.prompts_gen = bump(!same(&old_prompts, &prompts), previous.prompts_gen);
        c.resources_gen = bump(!same(&old_resources, &resources), previous.resources_gen);
        let servers_changed = c.servers.len() != previous.servers.len()
            || c.servers
                .iter()
                .zip(&previous.servers)
                .any(|(a, b)| a.up != b.up || a.name != b.name);
        let changed = c.tools_gen != previous.tools_gen
            || c.prompts_gen != previous.prompts_gen
            || c.resources_gen != previous.resources_gen
            || servers_changed;
        c.generation = bump(changed, previous.generation);
        c
    }

    pub fn tool(&self, federated: &str) -> Option<&Tool> {
        self.tool_index.get(federated).map(|&i| &self.tools[i])
    }

    pub fn prompt(&self, federated: &str) -> Option<&Prompt> {
        self.prompt_index.get(federated).map(|&i| &self.prompts[i])
    }

    /// The server a resource URI belongs to: a listed resource, else the
    /// template whose literal head is the longest prefix of `uri`.
    pub fn resource_server(&self, uri: &str) -> Option<usize> {
        if let Some(&i) = self.resource_index.get(uri) {
            return Some(self.resources[i].server);
        }
        self.templates
            .iter()
            .filter_map(|t| {
                let head = t.uri.split('{').next().unwrap_or("");
                (!head.is_empty() && uri.starts_with(head)).then_some((head.len(), t.server))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, server)| server)
    }

    pub fn server_up(&self, server: usize) -> bool {
        self.servers.get(server).is_some_and(|s| s.up)
    }
}

fn whole(item: &[u8]) -> Range<usize> {
    0..item.len()
}

fn federate_tool(server: usize, prefix: &str, item: &[u8]) -> Option<Tool> {
    let (federated, original, json) = federate_named(prefix, item)?;
    let [description, schema] = members(&json, whole(&json), [b"description", b"inputSchema"]);
    let description = description
        .and_then(|d| string(&json, d))
        .map(|d| d.into_owned());
    let schema_text = schema.and_then(|s| std::str::from_utf8(&json[s]).ok());
    let hash =
        crate::guard::tools::definition_hash(&federated, description.as_deref(), schema_text).ok();
    // A tool whose header annotations are invalid is left out, as the
    // transport tells clients to do: no client could call it correctly.
    let header_params = match schema_text {
        Some(s) => header_params(s.as_bytes()).ok()?,
        None => Vec::new(),
    };
    Some(Tool {
        federated,
        server,
        original,
        json,
        hash,
        header_params,
    })
}

/// `(federated name, original name, item with its name federated)`.
fn federate_named(prefix: &str, item: &[u8]) -> Option<(String, String, Vec<u8>)> {
    let original = string_member(item, whole(item), b"name")?.into_owned();
    let federated = federated(prefix, &original);
    let json = with_member(item, whole(item), "name", &quoted(&federated));
    Some((federated, original, json))
}

fn federate_resource(server: usize, prefix: &str, item: &[u8], uri_key: &[u8]) -> Option<Resource> {
    let uri = string_member(item, whole(item), uri_key)?.into_owned();
    let json = match string_member(item, whole(item), b"name") {
        Some(name) => with_member(
            item,
            whole(item),
            "name",
            &quoted(&format!("{prefix}-{name}")),
        ),
        None => item.to_vec(),
    };
    Some(Resource { server, uri, json })
}

/// The item JSONs of the `key` array in a list result.
pub fn list_items(result: &[u8], key: &[u8]) -> Option<Vec<Vec<u8>>> {
    let [span] = members(result, whole(result), [key]);
    let list = items(result, span?)?;
    Some(list.into_iter().map(|r| result[r].to_vec()).collect())
}

/// The process's catalog, swapped whole by the supervisor.
pub fn current() -> Arc<Catalog> {
    cell().load_full()
}

pub(super) fn publish(catalog: Catalog) {
    cell().store(Arc::new(catalog));
}

fn cell() -> &'static ArcSwap<Catalog> {
    static CELL: std::sync::OnceLock<ArcSwap<Catalog>> = std::sync::OnceLock::new();
    CELL.get_or_init(|| ArcSwap::from_pointee(Catalog::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, up: bool, tools: &[&str]) -> ServerState {
        ServerState {
            name: name.into(),
            spec: None,
            prefix: name.into(),
            up,
            version: Some("2026-07-28"),
            lists: ServerLists {
                tools: tools.iter().map(|t| t.as_bytes().to_vec()).collect(),
                ..ServerLists::default()
            },
        }
    }

    #[test]
    fn tools_are_federated_with_their_schemas_intact_and_down_servers_left_out() {
        let a = server(
            "alpha",
            true,
            &[r#"{"name":"echo","inputSchema":{"type" : "object"}}"#],
        );
        let b = server("beta", false, &[r#"{"name":"add"}"#]);
        let c = Catalog::build(vec![a, b], &Catalog::default());
        assert_eq!(c.tools.len(), 1);
        let t = c.tool("alpha-echo").unwrap();
        assert_eq!(t.original, "echo");
        assert_eq!(
            t.json,
            br#"{"name":"alpha-echo","inputSchema":{"type" : "object"}}"#
        );
        assert!(c.tool("beta-add").is_none());
        assert_eq!((c.generation, c.tools_gen), (1, 1));
    }

    #[test]
    fn generations_move_only_for_the_kind_that_changed() {
        let first = Catalog::build(
            vec![server("a", true, &[r#"{"name":"x"}"#])],
            &Catalog::default(),
        );
        let same = Catalog::build(vec![server("a", true, &[r#"{"name":"x"}"#])], &first);
        assert_eq!(same.generation, first.generation);
        let changed = Catalog::build(
            vec![server("a", true, &[r#"{"name":"x","description":"new"}"#])],
            &same,
        );
        assert_eq!(changed.tools_gen, first.tools_gen + 1);
        assert_eq!(changed.prompts_gen, first.prompts_gen);
        let down = Catalog::build(vec![server("a", false, &[r#"{"name":"x"}"#])], &changed);
        assert!(down.tools.is_empty());
        assert_eq!(down.tools_gen, changed.tools_gen + 1);
    }

    #[test]
    fn resources_route_by_uri_then_by_template_head() {
        let mut s = server("a", true, &[]);
        s.lists.resources = vec![br#"{"uri":"file:///a/readme","name":"readme"}"#.to_vec()];
        s.lists.templates =
            vec![br#"{"uriTemplate":"file:///a/items/{id}","name":"item"}"#.to_vec()];
        let c = Catalog::build(vec![s], &Catalog::default());
        assert_eq!(c.resource_server("file:///a/readme"), Some(0));
        assert_eq!(c.resource_server("file:///a/items/7"), Some(0));
        assert_eq!(c.resource_server("file:///b/x"), None);
        assert_eq!(
            c.resources[0].json,
            br#"{"uri":"file:///a/readme","name":"a-readme"}"#
        );
    }
}
