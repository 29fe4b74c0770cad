//! `summarize`: the planned range, the summary put in its place, and ranges
//! that no longer fit the request.

use super::*;

#[test]
fn summarize_names_the_oldest_turns_and_the_summary_takes_their_place() {
    let mut req = request(chat(12));
    let before = req.messages.clone();
    let b = budget(2500, Some(500));
    let strategies = [Strategy::Summarize, Strategy::Truncate];
    let outcome = run(&mut req, b, &strategies);
    let FitOutcome::NeedsSummary {
        range,
        range_tokens,
        max_summary_tokens,
        next,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(req.messages, before);
    assert_eq!((range.start, next), (1, 1));
    assert_eq!(req.messages[range.end].role, Role::User);
    assert!(
        range_tokens >= 1024 && max_summary_tokens >= 1024,
        "{range_tokens} {max_summary_tokens}"
    );
    let source: Vec<_> = summary_source(&req, &range).cloned().collect();
    assert_eq!(source, before[range.clone()]);
    apply_summary(&mut req, range.clone(), "they said hello").expect("fresh range");
    assert_eq!(
        req.messages[1].joined_text(),
        format!("{SUMMARY_HEADING}\nthey said hello")
    );
    assert_eq!(req.messages[2..], before[range.end..]);
    assert!(matches!(
        run(&mut req, b, &strategies),
        FitOutcome::Fits { .. }
    ));
}

#[test]
fn a_stale_summary_range_is_refused() {
    let mut req = request(chat(3));
    let before = req.messages.clone();
    #[allow(clippy::reversed_empty_ranges)]
    let stale = [0..0, 1..2, 1..99, 5..1];
    for range in stale {
        assert!(apply_summary(&mut req, range, "x").is_err());
    }
    assert_eq!(req.messages, before);
    assert_eq!(summary_source(&req, &(1..99)).count(), 0);
}

#[test]
fn pinned_prompts_inside_a_summarized_range_stay() {
    let mut msgs = chat(3);
    msgs.insert(3, Message::text(Role::Developer, "mid"));
    let mut req = request(msgs.clone());
    apply_summary(&mut req, 1..4, "s").expect("ends at u1");
    assert_eq!(req.messages[0], msgs[0]);
    assert_eq!(req.messages[1].role, Role::User);
    assert_eq!(req.messages[2], msgs[3]);
    assert_eq!(req.messages[3..], msgs[4..]);
}
