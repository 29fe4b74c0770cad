//! How long one attempt may take before it is abandoned for the next
//! deployment. A stream owes its first token within seconds; a whole answer
//! arrives only when generation ends, so its deadline grows with the tokens
//! the request allows (a base plus an allowance per token), capped by the
//! total timeout — a fixed few seconds would kill long answers and bill the
//! fallback for them again.

use std::time::Duration;

/// The resolved timeouts of one deployment (model settings over provider
/// settings over the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// A fixed cap on the wait for the response head, when configured.
    pub first_byte: Option<Duration>,
    /// Streams: from sending the request to the first body byte. Whole
    /// answers: from the response head to the first body byte.
    pub ttft: Duration,
    /// Longest silence between two body pieces once output has begun.
    pub stall: Duration,
    /// A whole answer's deadline: this base…
    pub answer_base: Duration,
    /// …plus this much per token the request allows.
    pub answer_per_token: Duration,
    /// The whole exchange, body included.
    pub total: Duration,
}

/// Settings in milliseconds as a config layer gives them; `None` inherits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeoutSettings {
    pub first_byte_ms: Option<u64>,
    pub ttft_ms: Option<u64>,
    pub stall_ms: Option<u64>,
    pub answer_ms: Option<u64>,
    pub answer_ms_per_token: Option<u64>,
    pub total_ms: Option<u64>,
}

impl Timeouts {
    pub const DEFAULT: Timeouts = Timeouts {
        first_byte: None,
        ttft: Duration::from_secs(30),
        stall: Duration::from_secs(30),
        answer_base: Duration::from_secs(20),
        answer_per_token: Duration::from_millis(30),
        total: Duration::from_secs(600),
    };

    /// These timeouts with every setting that `s` gives replacing its own.
    pub fn overridden(self, s: &TimeoutSettings) -> Timeouts {
        let ms = Duration::from_millis;
        Timeouts {
            first_byte: s.first_byte_ms.map(ms).or(self.first_byte),
            ttft: s.ttft_ms.map_or(self.ttft, ms),
            stall: s.stall_ms.map_or(self.stall, ms),
            answer_base: s.answer_ms.map_or(self.answer_base, ms),
            answer_per_token: s.answer_ms_per_token.map_or(self.answer_per_token, ms),
            total: s.total_ms.map_or(self.total, ms),
        }
    }

    /// How long an attempt may take to produce its output — a stream's first
    /// token, or a whole answer — counted from sending the request.
    /// `max_tokens` is what the request allows (its own, or the model's
    /// default when it sets none); `cap` is a client's lower limit.
    pub fn output_budget(&self, stream: bool, max_tokens: u32, cap: Option<Duration>) -> Duration {
        let own = if stream {
            self.ttft
        } else {
            self.answer_base
                .saturating_add(self.answer_per_token.saturating_mul(max_tokens))
        };
        let budget = own.min(self.total);
        cap.map_or(budget, |c| budget.min(c))
    }

    /// The wait for the response head within an output budget.
    pub fn head_budget(&self, output_budget: Duration) -> Duration {
        self.first_byte
            .map_or(output_budget, |f| f.min(output_budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_stream_owes_its_first_token_within_seconds_whatever_it_may_write() {
        let t = Timeouts::DEFAULT;
        assert_eq!(t.output_budget(true, 100_000, None), S(30));
        assert_eq!(t.output_budget(true, 1, None), S(30));
    }

    #[test]
    fn a_whole_answer_deadline_grows_with_its_tokens_up_to_the_total() {
        let t = Timeouts::DEFAULT;
        assert_eq!(t.output_budget(false, 0, None), S(20));
        assert_eq!(t.output_budget(false, 256, None), MS(27_680));
        assert_eq!(t.output_budget(false, 4096, None), MS(142_880));
        assert_eq!(t.output_budget(false, 32_000, None), S(600));
        assert_eq!(t.output_budget(false, u32::MAX, None), S(600));
    }

    #[test]
    fn a_client_cap_only_ever_lowers_the_deadline() {
        let t = Timeouts::DEFAULT;
        assert_eq!(t.output_budget(false, 4096, Some(S(5))), S(5));
        assert_eq!(t.output_budget(true, 0, Some(S(5))), S(5));
        assert_eq!(t.output_budget(true, 0, Some(S(3600))), S(30));
        assert_eq!(t.output_budget(false, 0, Some(S(3600))), S(20));
    }

    #[test]
    fn model_settings_override_provider_settings_which_override_defaults() {
        let provider = TimeoutSettings {
            ttft_ms: Some(10_000),
            answer_ms: Some(5_000),
            total_ms: Some(60_000),
            ..TimeoutSettings::default()
        };
        let model = TimeoutSettings {
            ttft_ms: Some(2_000),
            answer_ms_per_token: Some(0),
            first_byte_ms: Some(1_000),
            ..TimeoutSettings::default()
        };
        let t = Timeouts::DEFAULT.overridden(&provider).overridden(&model);
        assert_eq!(t.ttft, S(2));
        assert_eq!(t.stall, S(30));
        assert_eq!(t.output_budget(false, 4096, None), S(5));
        assert_eq!(t.total, S(60));
        assert_eq!(t.head_budget(S(5)), S(1));
        assert_eq!(Timeouts::DEFAULT.head_budget(S(5)), S(5));
    }
}
