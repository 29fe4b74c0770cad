//! The block rule that keeps a growing conversation's fitted prefix stable
//! from one request to the next (see the parent module's `//!` for why).
//!
//! A strategy offers its possible cuts oldest first, each with the tokens
//! it would free counted from the start of what the strategy may remove.
//! Grid lines lie every `block` tokens along that count; a *grid cut* is the
//! first cut at or past a line. The rule picks the first grid cut that frees
//! enough. Earlier messages never change as a conversation grows, so the
//! grid cuts stay where they are, and the pick moves only when the kept part
//! outgrows the limit, and then by about a whole block.

/// What a strategy aims at: the prompt limit, the block size, and whether
/// it may stop off the grid (see [`pick`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Aim {
    pub limit: u64,
    pub block: u64,
    pub exact: bool,
}

/// Where to cut, as a position in the strategy's list of cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    /// This cut frees enough.
    Enough(usize),
    /// No cut frees enough; this is the last grid cut (if any), the most a
    /// strategy that cannot fit should do, so that the next strategy in the
    /// chain sees a stable result too.
    Short(Option<usize>),
}

/// Picks among cuts whose cumulative frees are `freed` (non-decreasing) so
/// that at least `excess` tokens go. When no grid cut frees enough and the
/// aim is `exact`, the first cut that does is taken: the strategy is the
/// last resort, the conversation nearly used up, and stability moot.
pub(super) fn pick(freed: &[u64], excess: u64, aim: Aim) -> Pick {
    let block = aim.block.max(1);
    let mut line = 0;
    let mut last_grid = None;
    let mut enough = None;
    for (k, &f) in freed.iter().enumerate() {
        if f >= excess && enough.is_none() {
            enough = Some(k);
        }
        if f / block > line {
            if f >= excess {
                return Pick::Enough(k);
            }
            line = f / block;
            last_grid = Some(k);
        }
    }
    match enough {
        Some(k) if aim.exact => Pick::Enough(k),
        _ => Pick::Short(last_grid),
    }
}

#[cfg(test)]
mod tests {
    use super::{Aim, Pick, pick};

    fn exact(block: u64) -> Aim {
        Aim {
            limit: 0,
            block,
            exact: true,
        }
    }

    #[test]
    fn takes_the_first_grid_cut_that_frees_enough() {
        let freed = [10, 25, 31, 50, 61, 70, 95];
        // Lines at 30, 60, 90: grid cuts are 31 (k=2), 61 (k=4), 95 (k=6).
        assert_eq!(pick(&freed, 5, exact(30)), Pick::Enough(2));
        assert_eq!(pick(&freed, 31, exact(30)), Pick::Enough(2));
        assert_eq!(pick(&freed, 32, exact(30)), Pick::Enough(4));
        assert_eq!(pick(&freed, 62, exact(30)), Pick::Enough(6));
    }

    #[test]
    fn the_pick_holds_while_the_excess_grows_within_a_block() {
        let freed = [10, 25, 31, 50, 61, 70, 95];
        let picks: Vec<_> = (1..=31)
            .map(|excess| pick(&freed, excess, exact(30)))
            .collect();
        assert!(picks.iter().all(|&p| p == Pick::Enough(2)), "{picks:?}");
    }

    #[test]
    fn past_the_last_line_takes_the_first_cut_that_frees_enough() {
        assert_eq!(pick(&[35, 50, 59], 55, exact(30)), Pick::Enough(2));
        assert_eq!(pick(&[35, 50, 59], 60, exact(30)), Pick::Short(Some(0)));
        assert_eq!(pick(&[], 1, exact(30)), Pick::Short(None));
        assert_eq!(pick(&[5, 10], 11, exact(30)), Pick::Short(None));
    }

    #[test]
    fn a_cut_that_crosses_several_lines_at_once_is_one_grid_cut() {
        // 100 crosses lines 30, 60 and 90 at once; 125 crosses 120.
        assert_eq!(pick(&[5, 100, 125], 70, exact(30)), Pick::Enough(1));
        assert_eq!(pick(&[5, 100, 125], 101, exact(30)), Pick::Enough(2));
    }

    #[test]
    fn off_the_grid_only_when_exact() {
        let grid_only = Aim {
            exact: false,
            ..exact(30)
        };
        assert_eq!(pick(&[35, 50, 59], 55, grid_only), Pick::Short(Some(0)));
        assert_eq!(pick(&[35, 50, 59], 30, grid_only), Pick::Enough(0));
    }

    #[test]
    fn a_zero_block_is_read_as_one_token() {
        assert_eq!(pick(&[0, 2, 3], 3, exact(0)), Pick::Enough(2));
    }
}
