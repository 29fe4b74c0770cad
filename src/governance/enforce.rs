//! Governance on the request path: which models a key may use, its
//! priority, and the reservation every limit and budget takes before any
//! upstream is tried — corrected to what the request really used once it
//! ends, so a budget is overshot by at most the in-flight requests' excess
//! over their reservations. Nothing here waits: every take is a per-core
//! bucket operation (see `limits`).

use std::rc::Rc;

use super::limits::Denied;
use super::state::{BudgetBuckets, CoreGov, GovSnapshot, Key, RateBuckets};
use super::types::Priority;
use crate::api::ApiError;

/// What a bucket counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Unit {
    #[default]
    Requests,
    Tokens,
    Nanos,
}

/// What the request asks of governance.
pub struct Ask<'a> {
    /// The model the client asked for (client-facing name).
    pub model: &'a str,
    pub end_user: Option<&'a str>,
    /// `x-tollgate-priority`, when sent.
    pub priority_header: Option<&'a [u8]>,
    /// Estimated prompt tokens; computed only if a token limit or budget needs it.
    pub prompt_tokens: &'a dyn Fn() -> u64,
    /// The output the request may produce (`max_tokens`, else the model's default).
    pub output_tokens: u64,
    /// The reservation's price: nanos for `(prompt, output)` tokens.
    pub price: &'a dyn Fn(u64, u64) -> i64,
}

/// A request's hold on its limits and budgets, released with the actual
/// figures by [`Admission::settle`] (or, if dropped unsettled, given back).
pub struct Admission {
    gov: Rc<CoreGov>,
    pub priority: Priority,
    taken: Taken,
    reserved_prompt: u64,
    reserved_tokens: i64,
    reserved_nanos: i64,
    settled: bool,
}

/// The buckets a request holds and what each counts, inline (no
/// allocation per request). What a take reserved follows from its unit:
/// one request, the reserved tokens, the reserved nanos.
#[derive(Default)]
struct Taken {
    buckets: [u32; Taken::MOST],
    units: [Unit; Taken::MOST],
    /// A byte: the admission stays within 128 bytes, which a move copies
    /// inline (a larger one is a `memcpy` call at each of its moves).
    len: u8,
}

impl Taken {
    /// The most a request takes: the rpm and tpm of its key, team, model
    /// and provider (8), the day, month and total budgets of its key, team
    /// and end user (9).
    const MOST: usize = 17;

    /// False (nothing recorded) when full, which the takes above never make it.
    fn push(&mut self, bucket: u32, unit: Unit) -> bool {
        let at = usize::from(self.len);
        let (Some(b), Some(u)) = (self.buckets.get_mut(at), self.units.get_mut(at)) else {
            return false;
        };
        (*b, *u) = (bucket, unit);
        self.len += 1;
        true
    }

    fn iter(&self) -> impl Iterator<Item = (u32, Unit)> + '_ {
        let n = usize::from(self.len);
        self.buckets[..n]
            .iter()
            .copied()
            .zip(self.units[..n].iter().copied())
    }

    /// Forgets the takes after the first `len`.
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(u8::try_from(len).unwrap_or(u8::MAX));
    }

    fn count(&self) -> usize {
        usize::from(self.len)
    }
}

/// What one take of `unit` reserved, in its bucket's unit.
#[derive(Clone, Copy)]
struct Amounts {
    tokens: i64,
    nanos: i64,
}

impl Amounts {
    fn of(self, unit: Unit) -> i64 {
        match unit {
            Unit::Requests => 1,
            Unit::Tokens => self.tokens.max(1),
            Unit::Nanos => self.nanos,
        }
    }
}

/// A refusal, with the headers it carries (`retry-after`, `x-ratelimit-*`).
pub struct Refusal {
    pub error: ApiError,
    pub headers: Vec<(&'static str, Vec<u8>)>,
    /// The limit has room, but not on this core yet: asking again after the
    /// aggregator's next pass may succeed.
    pub retry_soon: bool,
}

impl From<ApiError> for Box<Refusal> {
    fn from(error: ApiError) -> Self {
        Box::new(Refusal {
            error,
            headers: Vec::new(),
            retry_soon: false,
        })
    }
}

impl Admission {
    pub fn reserved_tokens(&self) -> i64 {
        self.reserved_tokens
    }

    /// The prompt tokens the reservation estimated (0 when none was needed).
    pub fn reserved_prompt_tokens(&self) -> u64 {
        self.reserved_prompt
    }

    /// Releases the reservations: tokens and nanos not used are given back,
    /// those used beyond them are taken (a bucket may go into debt).
    pub fn settle(&mut self, used_tokens: u64, charged_nanos: i64) {
        if self.settled {
            return;
        }
        self.settled = true;
        let amounts = self.amounts();
        for (i, unit) in self.taken.iter() {
            let delta = match unit {
                Unit::Requests => 0,
                Unit::Tokens => amounts.of(unit) - used_tokens as i64,
                Unit::Nanos => amounts.of(unit) - charged_nanos,
            };
            if delta != 0 {
                self.gov.bucket(i).settle(delta);
            }
        }
    }

    /// Takes one request (and the reserved tokens) from a provider
    /// endpoint's limits; `false` when they are spent (the plan then moves
    /// on to another provider).
    pub fn take_provider(&mut self, provider: &str) -> bool {
        let Some(rates) = self.gov.providers.get(provider).copied() else {
            return true;
        };
        let before = self.taken.count();
        let ok = take_rates(
            &self.gov,
            &rates,
            self.amounts(),
            self.priority,
            &mut self.taken,
        )
        .is_ok();
        if !ok {
            give_back(&self.gov, &self.taken, before, self.amounts());
            self.taken.truncate(before);
        }
        ok
    }

    fn amounts(&self) -> Amounts {
        Amounts {
            tokens: self.reserved_tokens,
            nanos: self.reserved_nanos,
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        // A request that never reached its end used nothing it reserved.
        self.settle(0, 0);
    }
}

/// Admits a request, or refuses it: 403 for a model the key (or its team)
/// may not use, 429 for a spent limit or budget.
pub fn admit(
    gov: &Rc<CoreGov>,
    key: Option<&Key>,
    ask: &Ask<'_>,
) -> Result<Admission, Box<Refusal>> {
    let team = key.and_then(|k| gov.team_of(k));
    if let Some(k) = key {
        let allowed = |list: &[String]| list.is_empty() || list.iter().any(|m| m == ask.model);
        if !allowed(&k.models) || team.is_some_and(|t| !allowed(&t.record.models)) {
            return Err(ApiError::coded(
                403,
                "permission_error",
                "model_not_allowed",
                format!("This key may not use model `{}`.", ask.model),
            )
            .into());
        }
    }
    let priority = priority_of(key, ask.priority_header)?;
    let mut adm = Admission {
        gov: gov.clone(),
        priority,
        taken: Taken::default(),
        reserved_prompt: 0,
        reserved_tokens: 0,
        reserved_nanos: 0,
        settled: false,
    };
    let model = gov.models.get(ask.model).copied();
    let user = ask.end_user.and_then(|u| gov.end_users.get(u)).copied();
    let rates: [Option<RateBuckets>; 3] = [key.map(|k| k.rates), team.map(|t| t.rates), model];
    let budgets: [Option<BudgetBuckets>; 3] =
        [key.map(|k| k.budgets), team.map(|t| t.budgets), user];
    let needs_tokens = rates.iter().flatten().any(|r| r.tpm.is_some())
        || budgets
            .iter()
            .flatten()
            .any(|b| b.0.iter().any(Option::is_some))
        || !gov.providers.is_empty();
    if needs_tokens {
        let prompt = (ask.prompt_tokens)();
        adm.reserved_prompt = prompt;
        adm.reserved_tokens = (prompt + ask.output_tokens) as i64;
        if budgets
            .iter()
            .flatten()
            .any(|b| b.0.iter().any(Option::is_some))
        {
            adm.reserved_nanos = (ask.price)(prompt, ask.output_tokens);
        }
    }
    let amounts = adm.amounts();
    let taken = &mut adm.taken;
    let outcome = (|| {
        for r in rates.iter().flatten() {
            take_rates(gov, r, amounts, priority, taken)?;
        }
        for b in budgets.iter().flatten() {
            for i in b.0.iter().flatten() {
                take(gov, *i, Unit::Nanos, amounts, priority, taken)?;
            }
        }
        Ok(())
    })();
    if let Err((i, unit, denied)) = outcome {
        give_back(gov, &adm.taken, 0, amounts);
        // The request never held them: nothing to settle on drop.
        adm.settled = true;
        return Err(Box::new(refusal(gov, i, unit, &denied)));
    }
    Ok(adm)
}

/// The key's class, or a lower one the request asks for when the key may choose.
fn priority_of(key: Option<&Key>, header: Option<&[u8]>) -> Result<Priority, Box<Refusal>> {
    let base = key.map_or(Priority::Standard, |k| k.priority);
    let Some(h) = header else {
        return Ok(base);
    };
    let asked = std::str::from_utf8(h)
        .ok()
        .map(str::trim)
        .and_then(Priority::from_name)
        .ok_or_else(|| {
            ApiError::invalid_request(
                "invalid_priority",
                "`x-tollgate-priority` must be batch, standard or critical.",
            )
        })?;
    // Never above what the key was given; a key that may not choose keeps its own.
    let may_choose = key.is_none_or(|k| k.allow_priority_header);
    Ok(if may_choose { asked.min(base) } else { base })
}

type Failed = (u32, Unit, Denied);

fn take(
    gov: &GovSnapshot,
    i: u32,
    unit: Unit,
    amounts: Amounts,
    p: Priority,
    taken: &mut Taken,
) -> Result<(), Failed> {
    gov.bucket(i)
        .try_take(amounts.of(unit), p)
        .map_err(|d| (i, unit, d))?;
    if !taken.push(i, unit) {
        return Err(untracked(gov, i, unit, amounts));
    }
    Ok(())
}

/// Never reached (see `Taken::MOST`): a take that could not be remembered
/// is given back, and the request refused.
#[cold]
fn untracked(gov: &GovSnapshot, i: u32, unit: Unit, amounts: Amounts) -> Failed {
    gov.bucket(i).settle(amounts.of(unit));
    let denied = Denied {
        retry_after_ms: super::limits::NEVER,
        elsewhere: false,
        limit: 0,
        remaining: 0,
        reset_ms: 0,
        unavailable: true,
    };
    (i, unit, denied)
}

fn take_rates(
    gov: &GovSnapshot,
    r: &RateBuckets,
    amounts: Amounts,
    p: Priority,
    taken: &mut Taken,
) -> Result<(), Failed> {
    if let Some(i) = r.rpm {
        take(gov, i, Unit::Requests, amounts, p, taken)?;
    }
    if let Some(i) = r.tpm {
        take(gov, i, Unit::Tokens, amounts, p, taken)?;
    }
    Ok(())
}

/// Gives back the takes after the first `from`.
fn give_back(gov: &GovSnapshot, taken: &Taken, from: usize, amounts: Amounts) {
    for (i, unit) in taken.iter().skip(from) {
        gov.bucket(i).settle(amounts.of(unit));
    }
}

fn refusal(gov: &GovSnapshot, i: u32, unit: Unit, d: &Denied) -> Refusal {
    let id = &gov.bucket(i).spec_id();
    let secs = d.retry_after_ms.div_ceil(1000).max(1);
    let mut headers = vec![("retry-after", secs.to_string().into_bytes())];
    let error = if d.unavailable {
        ApiError::coded(
            503,
            "service_unavailable_error",
            "limits_unavailable",
            "The shared limits store is unreachable and this gateway is configured to fail closed.",
        )
    } else if unit == Unit::Nanos {
        ApiError::coded(
            429,
            "rate_limit_error",
            "budget_exceeded",
            format!(
                "Budget exhausted ({}); it resets with its period.",
                describe(id)
            ),
        )
    } else {
        let what = if unit == Unit::Requests {
            "requests"
        } else {
            "tokens"
        };
        push_limit_headers(what, d.limit, d.remaining, d.reset_ms, &mut headers);
        ApiError::coded(
            429,
            "rate_limit_error",
            "rate_limit_exceeded",
            format!(
                "Rate limit reached for {what} per minute ({}). Retry after {secs} s.",
                describe(id)
            ),
        )
    };
    Refusal {
        error,
        headers,
        retry_soon: d.elsewhere && !d.unavailable,
    }
}

/// `rpm:key:k1` → `key k1`: names the limit without any secret.
fn describe(bucket_id: &str) -> String {
    let mut parts = bucket_id.splitn(3, ':');
    let _ = parts.next();
    let kind = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    let id = rest
        .rsplit_once(':')
        .filter(|_| bucket_id.starts_with("budget:"))
        .map_or(rest, |(id, _)| id);
    let kind = if kind == "user" { "end user" } else { kind };
    format!("{kind} `{id}`")
}

fn push_limit_headers(
    what: &str,
    limit: i64,
    remaining: i64,
    reset_ms: u64,
    out: &mut Vec<(&'static str, Vec<u8>)>,
) {
    let (l, r, z) = match what {
        "requests" => (
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
        ),
        _ => (
            "x-ratelimit-limit-tokens",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
        ),
    };
    out.push((l, limit.to_string().into_bytes()));
    out.push((r, remaining.max(0).to_string().into_bytes()));
    out.push((z, duration_text(reset_ms).into_bytes()));
}

/// OpenAI's reset format: `6m0s`, `1.5s`, `20ms`.
fn duration_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let tenths = ms / 100;
        if tenths.is_multiple_of(10) {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        }
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn resets_read_like_openai_s() {
        assert_eq!(super::duration_text(20), "20ms");
        assert_eq!(super::duration_text(1500), "1.5s");
        assert_eq!(super::duration_text(2000), "2s");
        assert_eq!(super::duration_text(360_000), "6m0s");
        assert_eq!(super::describe("budget:key:k1:day"), "key `k1`");
        assert_eq!(super::describe("rpm:model:gpt-4o"), "model `gpt-4o`");
    }

    #[test]
    fn an_admission_is_moved_inline_and_holds_every_take() {
        // Within 128 bytes a move is a few vector copies; past it, a call.
        assert!(std::mem::size_of::<super::Admission>() <= 128);
        let mut taken = super::Taken::default();
        for i in 0..super::Taken::MOST {
            assert!(taken.push(i as u32, super::Unit::Tokens));
        }
        assert!(
            !taken.push(99, super::Unit::Nanos),
            "the 18th take is refused"
        );
        assert_eq!(taken.count(), super::Taken::MOST);
        taken.truncate(1000);
        assert_eq!(taken.count(), super::Taken::MOST);
        taken.truncate(3);
        assert_eq!(taken.iter().map(|(b, _)| b).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
