//! Magenta's own values for hand-made melodies: every step and term of the reward, and the
//! evaluation metrics per melody and for the whole set.

use cadenza_env::encoding::Event;
use cadenza_env::reward::{Reward, Setting, StepContext};
use cadenza_reward::metrics::RlTunerMetrics;
use cadenza_reward::rl_tuner::{RlTunerReward, NUM_TERMS, TERM_NAMES};
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rl_tuner_test_vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("test vectors are readable");
    serde_json::from_str(&text).expect("test vectors are JSON")
}

fn events_of(melody: &Value) -> Vec<Event> {
    melody["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_u64().unwrap() as Event)
        .collect()
}

/// A JSON number, or NaN for `null` (how the vectors write Magenta's NaN).
fn number(value: &Value) -> f64 {
    match value {
        Value::Null => f64::NAN,
        v => v.as_f64().unwrap(),
    }
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    if expected.is_nan() {
        assert!(actual.is_nan(), "{what}: expected NaN, got {actual}");
    } else {
        assert!(
            (actual - expected).abs() <= TOLERANCE,
            "{what}: expected {expected}, got {actual}"
        );
    }
}

#[test]
fn rl_tuner_every_step_and_term_matches_magenta() {
    let vectors = vectors();
    let setting = Setting::rl_tuner();
    let mut reward = RlTunerReward::default();
    let names = reward.term_names();
    assert_eq!(names, TERM_NAMES.map(String::from).to_vec());
    let mut checked = 0;
    for melody in vectors["melodies"].as_array().unwrap() {
        let name = melody["name"].as_str().unwrap();
        let events = events_of(melody);
        let steps = melody["steps"].as_array().unwrap();
        assert_eq!(steps.len(), events.len(), "{name}");
        reward.reset(&setting);
        let mut total = 0.0;
        for (i, step) in steps.iter().enumerate() {
            assert_eq!(step["action"].as_u64().unwrap() as Event, events[i]);
            assert_eq!(step["beat"].as_u64().unwrap() as usize, i % 32);
            let mut terms = [f64::NAN; NUM_TERMS];
            let ctx = StepContext {
                setting: &setting,
                step: i,
                history: &events[..i],
                action: events[i],
            };
            let value = reward.step(&ctx, &mut terms);
            for (t, term) in names.iter().enumerate() {
                assert_close(
                    terms[t],
                    number(&step["terms"][term]),
                    &format!("{name} step {i} term {term}"),
                );
            }
            assert_close(value, number(&step["reward"]), &format!("{name} step {i}"));
            total += value;
            checked += 1;
        }
        assert_close(total, number(&melody["total"]), &format!("{name} total"));
    }
    assert_eq!(checked, 364);
}

fn check_metrics(metrics: &RlTunerMetrics, expected: &Value, what: &str) {
    let stats = serde_json::to_value(metrics.stats()).unwrap();
    let expected_stats = expected["stat_dict"].as_object().unwrap();
    assert_eq!(
        stats.as_object().unwrap().len(),
        expected_stats.len(),
        "{what}: stat_dict keys"
    );
    for (key, value) in expected_stats {
        match value {
            Value::Array(list) => {
                let ours = stats[key].as_array().unwrap();
                assert_eq!(ours.len(), list.len(), "{what} {key}");
                for (k, (a, b)) in ours.iter().zip(list).enumerate() {
                    assert_close(number(a), number(b), &format!("{what} {key}[{k}]"));
                }
            }
            v => assert_eq!(
                stats[key].as_u64(),
                Some(v.as_f64().unwrap() as u64),
                "{what} {key}"
            ),
        }
    }

    let report = metrics.report();
    let derived = expected["derived"].as_object().unwrap();
    let mut ours: Vec<&String> = report.keys().collect();
    let mut theirs: Vec<&String> = derived.keys().collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "{what}: derived key names");
    for (key, value) in derived {
        assert_close(report[key], number(value), &format!("{what} {key}"));
    }
    // NaN serialises as null, as in the vectors.
    let json = serde_json::to_value(&report).unwrap();
    for (key, value) in derived {
        assert_eq!(json[key].is_null(), value.is_null(), "{what} {key} null");
    }
}

#[test]
fn rl_tuner_metrics_match_magenta_per_melody() {
    let vectors = vectors();
    for melody in vectors["melodies"].as_array().unwrap() {
        let mut metrics = RlTunerMetrics::new();
        metrics.add_composition(&events_of(melody));
        check_metrics(
            &metrics,
            &melody["metrics"],
            melody["name"].as_str().unwrap(),
        );
    }
}

#[test]
fn rl_tuner_metrics_match_magenta_for_the_whole_set() {
    let vectors = vectors();
    let mut metrics = RlTunerMetrics::new();
    for melody in vectors["melodies"].as_array().unwrap() {
        metrics.add_composition(&events_of(melody));
    }
    check_metrics(&metrics, &vectors["set_metrics"], "set");
}
