//! The supervisor: one thread of its own (its own monoio loop, never a
//! worker's) that asks every upstream for its lists each probe interval,
//! isolates a server whose probes or calls fail and brings it back when
//! it answers again, follows config reloads (a server whose entry did not
//! change keeps its client, and so its upstream session), and publishes
//! the federated catalog whenever what a client could see changed.

use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use super::catalog::{self, Catalog, ServerLists, ServerState, list_items};
use super::json::{members, string_member};
use super::upstream::{Client, Era, Event, UpstreamSpec};
use crate::config::{McpConfig, McpServerConfig};

/// Pages of one list followed at most (a server paging forever is cut off).
const MAX_PAGES: usize = 50;

/// Starts the supervisor once per process.
pub fn start() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("tollgate-mcp".into())
            .spawn(|| {
                let rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                    .enable_timer()
                    .build();
                match rt {
                    Ok(mut rt) => rt.block_on(run()),
                    Err(e) => eprintln!("tollgate: mcp: supervisor runtime: {e}"),
                }
            });
        if let Err(e) = spawned {
            eprintln!("tollgate: mcp: cannot start the supervisor: {e}");
        }
    });
}

/// One configured server as the supervisor follows it.
struct Watched {
    config: McpServerConfig,
    spec: Arc<UpstreamSpec>,
    client: Rc<Client>,
    failures: u32,
    state: ServerState,
}

async fn run() {
    let mut watched: Vec<Watched> = Vec::new();
    let mut seen_generation = u64::MAX;
    loop {
        let snapshot = crate::router::current();
        let mcp = &snapshot.config.mcp;
        if snapshot.generation != seen_generation {
            seen_generation = snapshot.generation;
            reconcile(&mut watched, mcp);
        }
        probe_all(&mut watched, mcp).await;
        publish(&watched);
        super::sessions::get().sync(crate::resilience::unix_secs());
        let interval = Duration::from_millis(mcp.probe_interval_ms.max(50));
        drop(snapshot);
        monoio::time::sleep(interval).await;
    }
}

/// Follows the config: unchanged servers keep their client and state.
fn reconcile(watched: &mut Vec<Watched>, mcp: &McpConfig) {
    let mut old: FxHashMap<String, Watched> = watched
        .drain(..)
        .map(|w| (w.config.name.clone(), w))
        .collect();
    for config in &mcp.servers {
        match old.remove(&config.name) {
            Some(w) if w.config == *config => watched.push(w),
            _ => match UpstreamSpec::from_config(config, mcp.call_timeout_ms) {
                Ok(spec) => {
                    let spec = Arc::new(spec);
                    watched.push(Watched {
                        config: config.clone(),
                        client: Rc::new(Client::new(spec.clone(), None)),
                        spec,
                        failures: 0,
                        state: ServerState {
                            name: config.name.clone(),
                            spec: None,
                            prefix: config.prefix().to_owned(),
                            up: false,
                            version: None,
                            lists: ServerLists::default(),
                        },
                    });
                }
                Err(e) => eprintln!("tollgate: mcp: server `{}` is disabled: {e}", config.name),
            },
        }
    }
    let names: Vec<String> = watched.iter().map(|w| w.config.name.clone()).collect();
    health().store(Arc::new(
        names
            .into_iter()
            .map(|n| (n, Arc::new(AtomicU32::new(0))))
            .collect(),
    ));
}

async fn probe_all(watched: &mut [Watched], mcp: &McpConfig) {
    let timeout = Duration::from_millis(mcp.probe_timeout_ms.max(1));
    let handles: Vec<_> = watched
        .iter()
        .map(|w| {
            let client = w.client.clone();
            monoio::spawn(async move {
                monoio::time::timeout(timeout, probe(&client))
                    .await
                    .unwrap_or_else(|_| Err("the probe timed out".into()))
            })
        })
        .collect();
    let reported = health().load();
    for (w, handle) in watched.iter_mut().zip(handles) {
        let calls_failed = reported
            .get(&w.config.name)
            .map_or(0, |c| c.swap(0, Ordering::Relaxed));
        match handle.await {
            Ok((version, lists)) if calls_failed == 0 => {
                if !w.state.up {
                    eprintln!(
                        "tollgate: mcp: server `{}` is up ({version})",
                        w.config.name
                    );
                }
                w.failures = 0;
                w.state.up = true;
                w.state.version = Some(version);
                w.state.lists = lists;
            }
            outcome => {
                w.failures = w.failures.saturating_add(1);
                if w.state.up && w.failures >= mcp.isolate_after {
                    let why = match outcome {
                        Err(e) => e,
                        Ok(_) => format!("{calls_failed} calls failed"),
                    };
                    eprintln!("tollgate: mcp: server `{}` isolated: {why}", w.config.name);
                    w.state.up = false;
                }
            }
        }
    }
}

/// One probe: the era (once), then every list the server offers.
async fn probe(client: &Client) -> Result<(&'static str, ServerLists), String> {
    let era = client.ready().await.map_err(|e| e.to_string())?;
    let version = match era {
        Era::Legacy(v) | Era::Modern(v) => v,
    };
    let info = client.server_info().unwrap_or_default();
    let offers = |kind: &[u8]| capability(&info, kind);
    let mut lists = ServerLists {
        tools: list_all(client, "tools/list", b"tools").await?,
        ..ServerLists::default()
    };
    if offers(b"prompts") {
        lists.prompts = list_all(client, "prompts/list", b"prompts").await?;
    }
    if offers(b"resources") {
        lists.resources = list_all(client, "resources/list", b"resources").await?;
        lists.templates =
            list_all(client, "resources/templates/list", b"resourceTemplates").await?;
    }
    Ok((version, lists))
}

/// Whether a discover or initialize result's `capabilities` names `kind`.
fn capability(info: &[u8], kind: &[u8]) -> bool {
    let [caps] = members(info, 0..info.len(), [b"capabilities"]);
    caps.is_some_and(|c| members(info, c, [kind])[0].is_some())
}

/// Every page of one list.
async fn list_all(client: &Client, method: &str, key: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(c) => {
                let mut p = b"{\"cursor\":".to_vec();
                p.extend_from_slice(&super::json::quoted(c));
                p.push(b'}');
                p
            }
            None => b"{}".to_vec(),
        };
        let result = request(client, method, &params).await?;
        out.extend(
            list_items(&result, key)
                .ok_or_else(|| format!("{method}: no `{}` list", String::from_utf8_lossy(key)))?,
        );
        cursor = string_member(&result, 0..result.len(), b"nextCursor").map(|c| c.into_owned());
        if cursor.is_none() {
            return Ok(out);
        }
    }
    Ok(out)
}

/// One request's `result`, or why there is none.
pub(super) async fn request(
    client: &Client,
    method: &str,
    params: &[u8],
) -> Result<Vec<u8>, String> {
    let timeout = Duration::from_secs(30);
    let mut exchange = client
        .call(method, params, &[], timeout)
        .await
        .map_err(|e| format!("{method}: {e}"))?;
    loop {
        match exchange
            .next()
            .await
            .map_err(|e| format!("{method}: {e}"))?
        {
            Event::Message(_) => continue,
            Event::Final(msg) => {
                let [result, error] = members(&msg, 0..msg.len(), [b"result", b"error"]);
                return match (result, error) {
                    (Some(r), _) => Ok(msg[r].to_vec()),
                    (None, Some(_)) => Err(format!("{method}: the server answered with an error")),
                    _ => Err(format!(
                        "{method}: a response with neither result nor error"
                    )),
                };
            }
        }
    }
}

fn publish(watched: &[Watched]) {
    let previous = catalog::current();
    let states = watched
        .iter()
        .map(|w| ServerState {
            spec: Some(w.spec.clone()),
            ..w.state.clone()
        })
        .collect();
    let next = Catalog::build(states, &previous);
    if next.generation != previous.generation
        || next.servers.len() != previous.servers.len()
        || specs_moved(&next, &previous)
    {
        catalog::publish(next);
    }
}

/// Whether a server's spec was replaced (a reload changed its entry).
fn specs_moved(a: &Catalog, b: &Catalog) -> bool {
    a.servers
        .iter()
        .zip(&b.servers)
        .any(|(x, y)| match (&x.spec, &y.spec) {
            (Some(x), Some(y)) => !Arc::ptr_eq(x, y),
            _ => true,
        })
}

/// Calls that failed since the last probe, per server: a core counts a
/// transport failure here (an atomic add, only on a failed call) and the
/// next probe round isolates the server.
fn health() -> &'static ArcSwap<FxHashMap<String, Arc<AtomicU32>>> {
    static HEALTH: OnceLock<ArcSwap<FxHashMap<String, Arc<AtomicU32>>>> = OnceLock::new();
    HEALTH.get_or_init(|| ArcSwap::from_pointee(FxHashMap::default()))
}

pub fn report_failure(server: &str) {
    if let Some(c) = health().load().get(server) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}
