//! When a request fits, when `max_tokens` is lowered instead, and the
//! outcomes that hand the decision back to the caller.

use super::*;
use crate::canonical::ReasoningConfig;

#[test]
fn a_request_that_fits_is_left_alone() {
    let mut req = request(chat(3));
    let before = req.messages.clone();
    let p = prompt(&req);
    let outcome = run(&mut req, budget(p + 1000, None), &[Strategy::Truncate]);
    assert_eq!(
        outcome,
        FitOutcome::Fits {
            prompt_tokens: p,
            lowered_max_tokens: None
        }
    );
    assert_eq!(req.messages, before);
}

#[test]
fn max_tokens_is_lowered_to_the_room_left_when_the_route_allows() {
    let mut req = request(chat(3));
    let p = prompt(&req);
    let mut b = budget(p + 3000, Some(8000));
    b.may_lower_max_tokens = true;
    let outcome = run(&mut req, b, &[Strategy::Reject]);
    assert_eq!(
        outcome,
        FitOutcome::Fits {
            prompt_tokens: p,
            lowered_max_tokens: Some(3000)
        }
    );
    assert_eq!(req.sampling.max_output_tokens, Some(3000));
    // Unset max_tokens: the default output is what is lowered.
    let mut req = request(chat(3));
    let b = Budget {
        max_output: None,
        default_output: 4000,
        ..b
    };
    let outcome = run(&mut req, b, &[Strategy::Reject]);
    assert_eq!(
        outcome,
        FitOutcome::Fits {
            prompt_tokens: p,
            lowered_max_tokens: Some(3000)
        }
    );
}

#[test]
fn max_tokens_is_not_lowered_without_leave_or_below_the_floor() {
    let mut req = request(chat(3));
    let p = prompt(&req);
    let outcome = run(&mut req, budget(p + 3000, Some(8000)), &[Strategy::Reject]);
    assert_eq!(
        outcome,
        FitOutcome::Reject {
            prompt_tokens: p,
            max_output: 8000,
            window: p + 3000
        }
    );
    assert_eq!(req.sampling.max_output_tokens, None);
    // Room for 500 is under the 1024 floor.
    let mut b = budget(p + 500, Some(8000));
    b.may_lower_max_tokens = true;
    assert!(matches!(
        run(&mut req, b, &[Strategy::Reject]),
        FitOutcome::Reject { .. }
    ));
    // A reasoning budget of 2500 needs max_tokens above it.
    req.reasoning = Some(ReasoningConfig {
        effort: None,
        budget_tokens: Some(2500),
    });
    let mut b = budget(p + 2000, Some(8000));
    b.may_lower_max_tokens = true;
    assert!(matches!(
        run(&mut req, b, &[Strategy::Reject]),
        FitOutcome::Reject { .. }
    ));
}

#[test]
fn reject_and_an_exhausted_list_refuse_with_the_counts_and_leave_the_request() {
    let mut req = request(chat(10));
    let before = req.messages.clone();
    let p = prompt(&req);
    let expected = FitOutcome::Reject {
        prompt_tokens: p,
        max_output: 1000,
        window: 1500,
    };
    assert_eq!(
        run(
            &mut req,
            budget(1500, None),
            &[Strategy::Reject, Strategy::Truncate]
        ),
        expected
    );
    assert_eq!(run(&mut req, budget(1500, None), &[]), expected);
    assert_eq!(req.messages, before);
}

#[test]
fn bigger_model_names_the_window_needed_and_where_to_go_on() {
    let mut req = request(chat(10));
    let before = req.messages.clone();
    let p = prompt(&req);
    let strategies = [Strategy::BiggerModel, Strategy::Truncate];
    let outcome = run(&mut req, budget(1500, Some(700)), &strategies);
    assert_eq!(
        outcome,
        FitOutcome::BiggerModel {
            prompt_tokens: p,
            needed_window: p + 700,
            next: 1
        }
    );
    assert_eq!(req.messages, before);
}

#[test]
fn a_fit_found_only_with_less_output_lowers_max_tokens() {
    // The latest turn alone leaves 1500 of the 4000 asked: truncate drops
    // all it can, and max_tokens comes down to what is left.
    let mut msgs = chat(4);
    msgs.push(user(2500, "big"));
    let mut req = request(msgs);
    let mut b = budget(4000, Some(4000));
    b.may_lower_max_tokens = true;
    let outcome = run(&mut req, b, &[Strategy::Truncate]);
    let FitOutcome::Fitted {
        prompt_tokens,
        lowered_max_tokens,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(lowered_max_tokens, Some(4000 - prompt_tokens));
    assert_eq!(req.sampling.max_output_tokens, lowered_max_tokens);
}

#[test]
fn strategies_read_from_config_by_their_snake_case_names() {
    #[derive(serde::Deserialize)]
    struct Route {
        fit: Vec<Strategy>,
    }
    let route: Route = toml::from_str(
        "fit = [\"compress_tool_results\", \"middle_out\", \"truncate\", \"summarize\", \"bigger_model\", \"reject\"]",
    )
    .expect("known names");
    let names: Vec<&str> = route.fit.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        strategies_header_value(&route.fit),
        "compress_tool_results,middle_out,truncate,summarize,bigger_model,reject"
    );
    assert_eq!(names.len(), 6);
    assert!(toml::from_str::<Route>("fit = [\"drop_everything\"]").is_err());
}

#[test]
fn the_headers_say_what_was_dropped() {
    let dropped = DroppedSummary {
        messages: 12,
        tool_results_compressed: 3,
        tokens: 45678,
    };
    assert_eq!(
        dropped.header_value(),
        "messages=12, tool_results=3, tokens=45678"
    );
}
