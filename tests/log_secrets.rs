//! The audit of the whole suite's logs: every line every gateway and mock
//! process wrote during `scripts/test.sh` (kept under
//! `$TOLLGATE_TEST_LOG_DIR` by the Rust and Python test harnesses) is
//! searched for every gateway key, admin token and provider key the tests
//! used — gathered from the tests' own sources, so a new test's secret is
//! covered without being listed here. `scripts/test.sh` runs this last,
//! with `TOLLGATE_LOG_AUDIT=1`; run alone, it says it was skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Secrets as the tests write them: gateway keys (`tg-…`), provider-style
/// keys (`sk-…`), and tokens named `…-secret…`.
fn secrets_in(text: &str, out: &mut BTreeSet<String>) {
    let re = regex::Regex::new(
        r#""((?:tg|sk)-[A-Za-z0-9_-]{5,}|[a-z0-9-]*-secret(?:-[a-z0-9-]+)?|[a-z0-9-]+-secret)""#,
    )
    .unwrap();
    for c in re.captures_iter(text) {
        let s = &c[1];
        // A directory named for its contents is not a secret.
        if !s.ends_with("-dir") {
            out.insert(s.to_owned());
        }
    }
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

#[test]
fn no_secret_in_any_log_the_suite_produced() {
    if std::env::var_os("TOLLGATE_LOG_AUDIT").is_none() {
        eprintln!(
            "skipped: scripts/test.sh runs this after the whole suite (TOLLGATE_LOG_AUDIT=1)"
        );
        return;
    }
    let dir = std::env::var_os("TOLLGATE_TEST_LOG_DIR").expect("TOLLGATE_TEST_LOG_DIR");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut sources = Vec::new();
    files(&root, "rs", &mut sources);
    files(&root, "py", &mut sources);
    let mut secrets = BTreeSet::new();
    for f in &sources {
        secrets_in(
            &std::fs::read_to_string(f).unwrap_or_default(),
            &mut secrets,
        );
    }
    assert!(
        secrets.len() > 20,
        "too few secrets found in the tests: {secrets:?}"
    );
    let mut logs = Vec::new();
    files(Path::new(&dir), "log", &mut logs);
    assert!(
        logs.len() > 50,
        "the suite left only {} logs in {dir:?}",
        logs.len()
    );
    let mut lines = 0usize;
    let mut found = Vec::new();
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for line in text.lines() {
            lines += 1;
            for s in &secrets {
                if line.contains(s.as_str()) {
                    found.push(format!("{}: {s}", log.display()));
                }
            }
        }
    }
    println!(
        "log audit: {} secrets searched for in {} lines of {} logs",
        secrets.len(),
        lines,
        logs.len()
    );
    assert!(found.is_empty(), "secrets in logs: {found:#?}");
}
