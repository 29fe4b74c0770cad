//! A structure-aware mutation fuzzer on stable Rust: each target owns its
//! seeds, its mutations and its oracles; the engine here runs inputs under
//! `catch_unwind`, counts how deep each input got, and keeps what broke.

pub mod alloc;
mod answers;
mod anthropic_stream;
mod chunked;
mod config;
mod crash;
mod gemini_stream;
mod http1;
mod json_tree;
mod json_words;
mod mutate;
mod request_json;
mod sse;
mod streams;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

pub use mutate::{Rng, hash};

/// Switches for oracles that track defects owned by other branches.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Fail a config input whose error message quotes a planted secret.
    pub secret_oracle: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            secret_oracle: true,
        }
    }
}

/// The stages one input reached, as bits in the target's stage order.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reached(u32);

impl Reached {
    pub fn hit(&mut self, stage: usize) {
        self.0 |= 1 << stage;
    }

    pub fn has(&self, stage: usize) -> bool {
        self.0 >> stage & 1 == 1
    }
}

/// One fuzz target: how inputs start, how they change, what must hold.
pub trait Target: Sync {
    fn name(&self) -> &'static str;
    /// Stage names, shallow to deep; `run` marks the ones an input reached.
    fn stages(&self) -> &'static [&'static str];
    /// Starting inputs: recorded fixtures, configs, and repros of known defects.
    fn seeds(&self, root: &Path) -> Vec<Vec<u8>>;
    /// Changes `input` in place; `pool` holds every seed, for splicing.
    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]);
    /// Runs one input; `Err` names the oracle it broke.
    fn run(&self, input: &[u8], opts: &Options, reached: &mut Reached) -> Result<(), String>;
}

pub fn targets() -> Vec<&'static dyn Target> {
    vec![
        &chunked::Chunked,
        &sse::Sse,
        &request_json::RequestJson,
        &answers::Answers,
        &anthropic_stream::AnthropicStream,
        &gemini_stream::GeminiStream,
        &config::ConfigLoader,
        &http1::Http1,
    ]
}

/// What one target's run found.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub inputs: u64,
    pub elapsed: Duration,
    pub stages: Vec<(&'static str, u64)>,
    pub failures: u64,
    /// Distinct failure messages with their counts.
    pub kinds: BTreeMap<String, u64>,
    /// Corpus files written for failing inputs.
    pub saved: Vec<PathBuf>,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "## {}: {} inputs, {:.0} inputs/s, {} failures",
            self.target,
            self.inputs,
            self.per_second(),
            self.failures
        )?;
        for (name, n) in &self.stages {
            let share = 100.0 * *n as f64 / self.inputs.max(1) as f64;
            writeln!(f, "- {name}: {n} ({share:.1} %)")?;
        }
        for (kind, n) in &self.kinds {
            writeln!(f, "- FAILURE x{n}: {kind}")?;
        }
        for path in &self.saved {
            writeln!(f, "- saved {}", path.display())?;
        }
        Ok(())
    }
}

/// How a run is driven.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub inputs: u64,
    pub seed: u64,
    /// Repository root: seeds are read and failures saved under it.
    pub root: PathBuf,
    pub options: Options,
    /// Write failing inputs to `fuzz/corpus/<target>/`.
    pub save: bool,
}

/// At most this many new corpus files per target and run, one per kind of
/// failure: one defect hit a million times is one finding, not a million files.
const MAX_SAVED: usize = 16;
/// Inputs grow by splicing; past this they only get slower, not deeper.
const MAX_INPUT: usize = 256 * 1024;

pub fn corpus_dir(root: &Path, target: &str) -> PathBuf {
    root.join("fuzz").join("corpus").join(target)
}

/// Fuzzes one target: every seed once as it is, then mutated inputs.
pub fn run(target: &dyn Target, cfg: &RunConfig) -> Report {
    let mut pool = target.seeds(&cfg.root);
    pool.extend(read_corpus(&corpus_dir(&cfg.root, target.name())));
    assert!(!pool.is_empty(), "{}: no seeds", target.name());
    let mut rng = Rng::new(cfg.seed ^ hash(target.name().as_bytes()));
    let mut tally = Tally::new(target);
    let start = Instant::now();
    let _quiet = QuietPanics::install();
    if cfg.save {
        crash::arm(&corpus_dir(&cfg.root, target.name()));
    }
    for i in 0..cfg.inputs {
        let mut input = pool[i as usize % pool.len()].clone();
        if i as usize >= pool.len() {
            for _ in 0..1 + rng.below(4) {
                target.mutate(&mut rng, &mut input, &pool);
            }
            input.truncate(MAX_INPUT);
        }
        if let Err(kind) = run_one(target, &input, &cfg.options, &mut tally) {
            let first_of_kind = tally.fail(kind);
            if cfg.save
                && first_of_kind
                && tally.saved.len() < MAX_SAVED
                && let Some(path) = save(&cfg.root, target.name(), &input)
            {
                tally.saved.push(path);
            }
        }
    }
    tally.report(cfg.inputs, start.elapsed())
}

/// Runs every file of `fuzz/corpus/<target>/`; returns `(file, failure)`
/// for each that still breaks.
pub fn replay(target: &dyn Target, root: &Path, opts: &Options) -> Vec<(PathBuf, String)> {
    let _quiet = QuietPanics::install();
    let mut tally = Tally::new(target);
    let mut failures = Vec::new();
    for path in corpus_files(&corpus_dir(root, target.name())) {
        let input = std::fs::read(&path).unwrap_or_default();
        if let Err(kind) = run_one(target, &input, opts, &mut tally) {
            failures.push((path, kind));
        }
    }
    failures
}

fn run_one(
    target: &dyn Target,
    input: &[u8],
    opts: &Options,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut reached = Reached::default();
    crash::running(Some(input));
    let memory = alloc::start();
    let outcome = catch_unwind(AssertUnwindSafe(|| target.run(input, opts, &mut reached)));
    let held = alloc::held_since(memory);
    crash::running(None);
    tally.count(reached);
    match outcome {
        Ok(Ok(())) if held > alloc::budget(input.len()) => Err(format!(
            "an input of {} bytes made the code hold {} MiB at once",
            input.len(),
            held >> 20
        )),
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let at = PANIC_AT.with(|p| p.borrow_mut().take()).unwrap_or_default();
            Err(format!("panic at {at}: {what}"))
        }
    }
}

struct Tally {
    target: &'static str,
    stage_names: &'static [&'static str],
    stages: Vec<u64>,
    failures: u64,
    kinds: BTreeMap<String, u64>,
    saved: Vec<PathBuf>,
}

impl Tally {
    fn new(target: &dyn Target) -> Self {
        Tally {
            target: target.name(),
            stage_names: target.stages(),
            stages: vec![0; target.stages().len()],
            failures: 0,
            kinds: BTreeMap::new(),
            saved: Vec::new(),
        }
    }

    fn count(&mut self, reached: Reached) {
        for (i, n) in self.stages.iter_mut().enumerate() {
            *n += u64::from(reached.0 >> i & 1);
        }
    }

    /// Counts a failure; true when it is the first of its kind.
    fn fail(&mut self, kind: String) -> bool {
        self.failures += 1;
        // Messages quote input; keep the kind short so the report stays readable.
        let kind: String = kind
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        let seen = self.kinds.entry(kind).or_default();
        *seen += 1;
        *seen == 1
    }

    fn report(self, inputs: u64, elapsed: Duration) -> Report {
        Report {
            target: self.target,
            inputs,
            elapsed,
            stages: self.stage_names.iter().copied().zip(self.stages).collect(),
            failures: self.failures,
            kinds: self.kinds,
            saved: self.saved,
        }
    }
}

fn save(root: &Path, target: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = corpus_dir(root, target);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{:016x}", hash(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

fn read_corpus(dir: &Path) -> Vec<Vec<u8>> {
    corpus_files(dir)
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Reads the files of `dir` whose names end in one of `suffixes`, sorted.
pub(crate) fn read_seeds(dir: &Path, suffixes: &[&str]) -> Vec<Vec<u8>> {
    corpus_files(dir)
        .iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            suffixes.iter().any(|s| name.ends_with(s))
        })
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

thread_local! {
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
    static FUZZING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as fuzzing while alive: its panics are findings
/// recorded in the report, not a backtrace per input on stderr. Panics on
/// other threads still go to the previous hook.
struct QuietPanics;

impl QuietPanics {
    fn install() -> Self {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if FUZZING.with(Cell::get) {
                    let at = info
                        .location()
                        .map(|l| format!("{}:{}", l.file(), l.line()))
                        .unwrap_or_default();
                    PANIC_AT.with(|p| *p.borrow_mut() = Some(at));
                } else {
                    previous(info);
                }
            }));
        });
        FUZZING.with(|f| f.set(true));
        QuietPanics
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        FUZZING.with(|f| f.set(false));
    }
}
