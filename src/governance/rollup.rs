//! A batch of ledger rows summed per dimension, id and UTC day: what the
//! store's rollup table and Redis's rollup hashes both add. The ledger
//! writer sums a batch once and hands the same sums to both.

use rustc_hash::FxHashMap;

use super::types::{Dimension, LedgerRow, Period, same_str};

/// One rollup line's sums.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub provider_nanos: i64,
    pub charge_nanos: i64,
    pub gateway_nanos: i64,
}

impl Totals {
    fn add_row(&mut self, row: &LedgerRow) {
        self.requests = self.requests.saturating_add(1);
        self.prompt_tokens = self.prompt_tokens.saturating_add(row.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(row.completion_tokens);
        self.provider_nanos = self.provider_nanos.saturating_add(row.provider_nanos);
        self.charge_nanos = self.charge_nanos.saturating_add(row.charge_nanos);
        self.gateway_nanos = self.gateway_nanos.saturating_add(row.gateway_nanos);
    }

    pub fn add(&mut self, other: &Totals) {
        self.requests = self.requests.saturating_add(other.requests);
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.provider_nanos = self.provider_nanos.saturating_add(other.provider_nanos);
        self.charge_nanos = self.charge_nanos.saturating_add(other.charge_nanos);
        self.gateway_nanos = self.gateway_nanos.saturating_add(other.gateway_nanos);
    }

    /// The six counters in Redis's order (tokens clamped to `i64`).
    pub fn counters(&self) -> [i64; 6] {
        let tokens = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        [
            tokens(self.requests),
            tokens(self.prompt_tokens),
            tokens(self.completion_tokens),
            self.provider_nanos,
            self.charge_nanos,
            self.gateway_nanos,
        ]
    }
}

/// One dimension's id on one day, and what the batch adds to it. The day
/// dimension's id is the day itself (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollup {
    pub dim: Dimension,
    pub id: String,
    pub day: i64,
    pub totals: Totals,
}

/// `rows` summed per (dimension, id, day), ordered by dimension, id, day.
/// A row with no id in a dimension (no team, say) is left out of that
/// dimension only. A batch is mostly the same few keys and models: a row
/// with the same ids and day as the one before adds to the same lines
/// without a look-up, and an id is copied once per batch, not per row.
pub fn rollups(rows: &[LedgerRow]) -> Vec<Rollup> {
    let mut index: FxHashMap<(Dimension, &str, i64), usize> = FxHashMap::default();
    let mut lines: Vec<(Dimension, &str, i64, Totals)> = Vec::new();
    // A run of rows with the same ids and day is summed once, then added
    // to each of its lines.
    let mut run = Totals::default();
    let mut prev: Option<(&LedgerRow, i64, [Option<usize>; 5])> = None;
    for row in rows {
        let day = row.day();
        let slots = match prev {
            Some((p, p_day, slots)) if p_day == day && same_ids(p, row) => slots,
            _ => {
                if let Some((_, _, slots)) = prev {
                    for &slot in slots.iter().flatten() {
                        lines[slot].3.add(&run);
                    }
                    run = Totals::default();
                }
                let ids = [
                    (Dimension::Key, row.key_id.as_deref()),
                    (Dimension::Team, row.team.as_deref()),
                    (Dimension::EndUser, row.end_user.as_deref()),
                    (Dimension::Model, Some(&*row.model)),
                    (Dimension::Day, Some("")),
                ];
                ids.map(|(dim, id)| {
                    let id = id?;
                    Some(*index.entry((dim, id, day)).or_insert_with(|| {
                        lines.push((dim, id, day, Totals::default()));
                        lines.len() - 1
                    }))
                })
            }
        };
        run.add_row(row);
        prev = Some((row, day, slots));
    }
    if let Some((_, _, slots)) = prev {
        for &slot in slots.iter().flatten() {
            lines[slot].3.add(&run);
        }
    }
    let mut out: Vec<Rollup> = lines
        .into_iter()
        .map(|(dim, id, day, totals)| Rollup {
            dim,
            id: match dim {
                Dimension::Day => Period::Day.id(day),
                _ => id.to_owned(),
            },
            day,
            totals,
        })
        .collect();
    out.sort_unstable_by(|a, b| (a.dim.name(), &a.id, a.day).cmp(&(b.dim.name(), &b.id, b.day)));
    out
}

fn same_ids(a: &LedgerRow, b: &LedgerRow) -> bool {
    same_str(a.key_id.as_deref(), b.key_id.as_deref())
        && a.model == b.model
        && same_str(a.team.as_deref(), b.team.as_deref())
        && a.end_user == b.end_user
}

/// Adds `more` into `into`, line by line (both from [`rollups`]; the result
/// stays ordered).
pub fn merge(into: &mut Vec<Rollup>, more: &[Rollup]) {
    for line in more {
        match into
            .iter_mut()
            .find(|l| l.dim == line.dim && l.day == line.day && l.id == line.id)
        {
            Some(l) => l.totals.add(&line.totals),
            None => into.push(line.clone()),
        }
    }
    into.sort_unstable_by(|a, b| (a.dim.name(), &a.id, a.day).cmp(&(b.dim.name(), &b.id, b.day)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: i64, key: Option<&str>, model: &str, charge: i64) -> LedgerRow {
        LedgerRow {
            ts_ms: day as u64 * 86_400_000 + 5,
            request_id: "r".into(),
            key_id: key.map(Into::into),
            model: model.into(),
            prompt_tokens: 10,
            completion_tokens: 2,
            charge_nanos: charge,
            ..LedgerRow::default()
        }
    }

    #[test]
    fn a_batch_is_summed_per_dimension_id_and_day() {
        let rows = [
            row(20_000, Some("a"), "m", 5),
            row(20_000, Some("a"), "m", 7),
            row(20_001, None, "m", 1),
        ];
        let lines = rollups(&rows);
        let find = |dim: Dimension, id: &str, day: i64| {
            lines
                .iter()
                .find(|l| l.dim == dim && l.id == id && l.day == day)
                .map(|l| l.totals)
        };
        let a = find(Dimension::Key, "a", 20_000).unwrap();
        assert_eq!((a.requests, a.prompt_tokens, a.charge_nanos), (2, 20, 12));
        assert!(find(Dimension::Key, "a", 20_001).is_none());
        assert_eq!(find(Dimension::Model, "m", 20_001).unwrap().requests, 1);
        assert_eq!(
            find(Dimension::Day, &Period::Day.id(20_000), 20_000)
                .unwrap()
                .charge_nanos,
            12
        );
        assert!(
            lines.iter().all(|l| l.dim != Dimension::Team),
            "no team, no team line"
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn interleaved_ids_sum_like_sorted_ones() {
        let rows = [
            row(20_000, Some("a"), "m", 1),
            row(20_000, Some("a"), "m", 2),
            row(20_000, Some("b"), "m", 4),
            row(20_001, Some("b"), "m", 8),
            row(20_000, Some("a"), "n", 16),
            row(20_000, Some("a"), "m", 32),
        ];
        let mut sorted = rows.clone();
        sorted.sort_by_key(|r| (r.key_id.clone(), r.model.clone(), r.ts_ms));
        assert_eq!(rollups(&rows), rollups(&sorted));
        let a = rollups(&rows)
            .into_iter()
            .find(|l| l.dim == Dimension::Key && l.id == "a")
            .unwrap();
        assert_eq!(a.totals.charge_nanos, 1 + 2 + 16 + 32);
    }

    #[test]
    fn merged_batches_sum_like_one_batch() {
        let rows = [
            row(20_000, Some("a"), "m", 5),
            row(20_000, Some("b"), "m", 7),
            row(20_001, Some("a"), "n", 1),
        ];
        let mut merged = rollups(&rows[..1]);
        merge(&mut merged, &rollups(&rows[1..]));
        assert_eq!(merged, rollups(&rows));
    }

    #[test]
    fn sums_saturate() {
        let mut big = row(1, Some("a"), "m", i64::MAX);
        big.prompt_tokens = u64::MAX;
        let lines = rollups(&[big.clone(), big]);
        let a = &lines[0].totals;
        assert_eq!(a.charge_nanos, i64::MAX);
        assert_eq!(a.prompt_tokens, u64::MAX);
        assert_eq!(a.counters()[1], i64::MAX);
    }
}
