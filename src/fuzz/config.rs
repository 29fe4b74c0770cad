//! Target `config`: the config loader (`config::load_str`) on mutated TOML
//! with secrets planted on key lines. Oracles (the secret oracle, switchable):
//! no error message quotes a planted secret, and no config holding a pasted
//! key as its provider or client key is accepted.

use std::path::Path;

use super::mutate::{Rng, byte_edit, line_edit, lines};
use super::{Options, Reached, Target, read_seeds};
use crate::config::{Config, load_str};

pub struct ConfigLoader;

/// Every planted secret contains this marker.
const MARK: &str = "sk-FUZZSECRET";

const STAGES: &[&str] = &[
    "TOML parsed",
    "schema accepted",
    "config valid",
    "secret planted",
    "secret in a refused config",
];

/// A secret pasted in the ways an operator gets it wrong (issue 10 item 5).
const PLANTED: &[&str] = &[
    "\"sk-FUZZSECRET-0123456789abcdef\"",
    "\"env:sk-FUZZSECRET-0123456789abcdef\"",
    "sk-FUZZSECRET-unquoted",
    "'sk-FUZZSECRET-unterminated",
    "\"sk-FUZZSECRET-unterminated",
    "[\"sk-FUZZSECRET-in-array\"]",
    "{ value = \"sk-FUZZSECRET-table\" }",
    "\"sk-FUZZSECRET\" trailing",
    "\"\"\"sk-FUZZSECRET-multiline",
    "\"sk-FUZZSECRET\\q\"",
    "\"env:sk-FUZZSECRET\nnext\"",
    "sk-FUZZSECRET.5",
];

const KEY_NAMES: &[&str] = &["api_key", "api_keys", "key"];

/// Values of every TOML type and some that are not TOML at all.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "18446744073709551616",
    "1.5",
    "true",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "[1, \"a\"]",
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
    "\"127.0.0.1:0\"",
    "\"io_uring\"",
    "\"mock\"",
    "\"openai_compatible\"",
    "\"anthropic\"",
    "\"gemini\"",
    "\"http://127.0.0.1:1/v1\"",
    "\"env:FUZZ_VAR\"",
    "\"file:/nonexistent\"",
    "\"\\u0000\"",
    "'''x'''",
];

const HEADERS: &[&str] = &[
    "[server]\n",
    "[[providers]]\n",
    "[[models]]\n",
    "[routing]\n",
    "[[rules]]\n",
    "[[keys]]\n",
    "[routing.breaker]\n",
    "[[models.deployments]]\n",
];

impl Target for ConfigLoader {
    fn name(&self) -> &'static str {
        "config"
    }

    fn stages(&self) -> &'static [&'static str] {
        STAGES
    }

    fn seeds(&self, root: &Path) -> Vec<Vec<u8>> {
        let mut seeds = read_seeds(&root.join("config"), &[".toml"]);
        seeds.extend(read_seeds(
            &root.join("config").join("examples"),
            &[".toml"],
        ));
        seeds.extend(
            [
                // Issue 10 item 2: an empty file; item 5: a key pasted after `env:`.
                "",
                "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\napi_key = \"env:sk-FUZZSECRET-0123456789abcdef\"\n\n[[models]]\nname = \"m\"\nprovider = \"p\"\n",
                "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n\n[[providers]]\nname = \"mockup\"\nkind = \"openai_compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\nforward_headers = [\"x-mock-*\"]\napi_keys = [\"env:A_KEY\", \"file:/run/key\"]\n\n[[models]]\nname = \"fast\"\nprovider = \"mockup\"\nupstream_model = \"mock-fast\"\n\n[[keys]]\nid = \"team-eu\"\nkey = \"env:ROUTING_TEST_EU_KEY\"\nregion = \"eu\"\n",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec()),
        );
        seeds
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
        let mut ls = lines(input);
        match rng.below(8) {
            0..=2 => plant_secret(rng, &mut ls),
            3 | 4 => line_edit(rng, &mut ls, pool),
            5 => set_value(rng, &mut ls),
            6 => {
                let at = rng.below(ls.len() + 1);
                ls.insert(at, rng.pick(HEADERS).as_bytes().to_vec());
            }
            _ => {
                let mut all = ls.concat();
                byte_edit(rng, &mut all);
                *input = all;
                return;
            }
        }
        *input = ls.concat();
    }

    fn run(&self, input: &[u8], opts: &Options, reached: &mut Reached) -> Result<(), String> {
        let text = String::from_utf8_lossy(input);
        if toml::from_str::<toml::Table>(&text).is_ok() {
            reached.hit(0);
        }
        if toml::from_str::<Config>(&text).is_ok() {
            reached.hit(1);
        }
        let planted = text.contains(MARK);
        if planted {
            reached.hit(3);
        }
        match load_str(&text) {
            Ok(config) => {
                reached.hit(2);
                if opts.secret_oracle
                    && let Some(field) = pasted_key(&config)
                {
                    let field = field.split('[').next().unwrap_or("");
                    return Err(format!("accepted a config with a pasted key in {field}"));
                }
            }
            Err(errors) => {
                if planted {
                    reached.hit(4);
                }
                let secrets = key_secrets(&text);
                let shown = format!("{errors}\n{errors:?}");
                let quoted = secrets.iter().any(|secret| shown.contains(secret));
                if opts.secret_oracle && quoted {
                    let kind = if !reached_syntax(reached) {
                        "a TOML syntax error"
                    } else if !reached_schema(reached) {
                        "a type or field error"
                    } else {
                        "a validation error"
                    };
                    return Err(format!("{kind} quotes a planted secret"));
                }
            }
        }
        Ok(())
    }
}

fn reached_syntax(reached: &Reached) -> bool {
    reached.has(0)
}

fn reached_schema(reached: &Reached) -> bool {
    reached.has(1)
}

/// The secrets planted on key lines (`api_key`, `api_keys`, `key`), whole.
/// Byte edits also move the marker into other values, names or table
/// headers; naming those back is not printing a key.
fn key_secrets(text: &str) -> Vec<&str> {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    text.lines()
        .filter(|line| {
            let line = line.trim_start();
            KEY_NAMES.iter().any(|k| {
                line.strip_prefix(k)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        })
        .flat_map(|line| line.match_indices(MARK).map(move |(at, _)| &line[at..]))
        .map(|rest| &rest[..rest.find(|c| !is_token(c)).unwrap_or(rest.len())])
        .collect()
}

/// The first key field of an accepted config that holds a planted secret
/// instead of a reference to one.
fn pasted_key(config: &Config) -> Option<String> {
    for (i, p) in config.providers.iter().enumerate() {
        for key in p.api_key.iter().chain(&p.api_keys) {
            if key.contains(MARK) {
                return Some(format!("providers[{i}]"));
            }
        }
    }
    config
        .keys
        .iter()
        .position(|k| k.key.as_deref().is_some_and(|s| s.contains(MARK)))
        .map(|i| format!("keys[{i}]"))
}

/// Puts a secret on a key line: replaces the value of an existing one, or
/// adds a new key line.
fn plant_secret(rng: &mut Rng, ls: &mut Vec<Vec<u8>>) {
    let secret = rng.pick(PLANTED);
    let key_lines: Vec<usize> = (0..ls.len())
        .filter(|&i| {
            let l = String::from_utf8_lossy(&ls[i]);
            KEY_NAMES.iter().any(|k| l.trim_start().starts_with(k))
        })
        .collect();
    let line = if !key_lines.is_empty() && rng.below(4) > 0 {
        let i = *rng.pick(&key_lines);
        let old = String::from_utf8_lossy(&ls[i]).into_owned();
        let name = old
            .split('=')
            .next()
            .unwrap_or("api_key")
            .trim()
            .to_string();
        let value = if name == "api_keys" {
            format!("[\"env:A\", {secret}]")
        } else {
            secret.to_string()
        };
        ls.remove(i);
        (i, format!("{name} = {value}\n"))
    } else {
        let name = rng.pick(KEY_NAMES);
        (rng.below(ls.len() + 1), format!("{name} = {secret}\n"))
    };
    ls.insert(line.0, line.1.into_bytes());
}

/// Replaces the value of a `name = value` line with one of another type or range.
fn set_value(rng: &mut Rng, ls: &mut [Vec<u8>]) {
    let candidates: Vec<usize> = (0..ls.len()).filter(|&i| ls[i].contains(&b'=')).collect();
    if candidates.is_empty() {
        return;
    }
    let i = *rng.pick(&candidates);
    let line = String::from_utf8_lossy(&ls[i]).into_owned();
    let name = line.split('=').next().unwrap_or("").trim_end();
    ls[i] = format!("{name} = {}\n", rng.pick(VALUES)).into_bytes();
}
