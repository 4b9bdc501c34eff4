//! The corpus model as a reward term, and held-out reports on a small hand-written corpus.

use std::sync::Arc;

use cadenza_env::encoding::{Event, EventEncoding, HOLD, REST};
use cadenza_env::reward::{Reward, Setting, StepContext};
use cadenza_reward::corpus::{
    held_out_report, CorpusError, CorpusReward, NgramConfig, NgramModel, PositionClasses,
};

/// A few folk-like phrases in RL Tuner's encoding (sixteenth-note steps, 4/4), written out by
/// hand: eighth notes are a pitch and a hold, quarter notes a pitch and three holds.
fn tunes() -> Vec<Vec<Event>> {
    let enc = EventEncoding::RL_TUNER_38;
    let phrase = |notes: &[(u8, usize)]| -> Vec<Event> {
        let mut events = Vec::new();
        for &(pitch, steps) in notes {
            events.push(if pitch == 0 {
                REST
            } else {
                enc.event_of_pitch(pitch).unwrap()
            });
            events.extend(std::iter::repeat_n(HOLD, steps - 1));
        }
        events
    };
    let (c, d, e, f, g, a, b, hc) = (60, 62, 64, 65, 67, 69, 71, 72);
    vec![
        // "Twinkle" shape.
        phrase(&[
            (c, 4),
            (c, 4),
            (g, 4),
            (g, 4),
            (a, 4),
            (a, 4),
            (g, 8),
            (f, 4),
            (f, 4),
            (e, 4),
            (e, 4),
            (d, 4),
            (d, 4),
            (c, 8),
        ]),
        // A jig-like run in eighths.
        phrase(&[
            (g, 2),
            (e, 2),
            (g, 2),
            (c, 2),
            (e, 2),
            (g, 2),
            (a, 2),
            (g, 2),
            (e, 2),
            (d, 2),
            (c, 2),
            (d, 2),
            (e, 4),
            (0, 4),
        ]),
        // Scale up and down.
        phrase(&[
            (c, 2),
            (d, 2),
            (e, 2),
            (f, 2),
            (g, 2),
            (a, 2),
            (b, 2),
            (hc, 2),
            (b, 2),
            (a, 2),
            (g, 2),
            (f, 2),
            (e, 2),
            (d, 2),
            (c, 4),
            (0, 4),
        ]),
        // A reel fragment.
        phrase(&[
            (e, 2),
            (g, 2),
            (g, 2),
            (e, 2),
            (d, 2),
            (e, 2),
            (g, 2),
            (a, 2),
            (g, 4),
            (e, 4),
            (d, 4),
            (c, 4),
        ]),
        // Held-out-like variation of the first.
        phrase(&[
            (c, 4),
            (e, 4),
            (g, 4),
            (g, 4),
            (a, 4),
            (a, 4),
            (g, 8),
            (f, 4),
            (e, 4),
            (d, 4),
            (d, 4),
            (c, 8),
        ]),
    ]
}

fn model(order: usize) -> NgramModel {
    let setting = Setting::rl_tuner();
    NgramModel::fit(
        NgramConfig {
            order,
            use_position: true,
            position_classes: PositionClasses::Step,
        },
        setting.encoding,
        setting.steps_per_bar(),
        &tunes()[..4],
    )
    .unwrap()
}

#[test]
fn reward_is_the_clamped_log_prob_of_the_action() {
    let setting = Setting::rl_tuner();
    let melody = &tunes()[4];
    for order in [1, 2, 4, 6] {
        let model = Arc::new(model(order));
        let mut reward = CorpusReward::new(model.clone());
        assert_eq!(reward.term_names(), vec!["corpus_log_prob".to_string()]);
        assert_eq!(reward.floor(), CorpusReward::DEFAULT_FLOOR);
        reward.check_setting(&setting).unwrap();
        reward.reset(&setting);
        let mut terms = [f64::NAN];
        for step in 0..melody.len() {
            let ctx = StepContext {
                setting: &setting,
                step,
                history: &melody[..step],
                action: melody[step],
            };
            let total = reward.step(&ctx, &mut terms);
            let expected = model
                .log_prob(&melody[..step], step, melody[step])
                .max(CorpusReward::DEFAULT_FLOOR);
            assert_eq!(total, expected);
            assert_eq!(terms[0], expected);
        }
    }
}

#[test]
fn floor_bounds_unlikely_and_invalid_actions() {
    let setting = Setting::rl_tuner();
    let model = Arc::new(model(3));
    let rare = setting.encoding.event_of_pitch(49).unwrap();
    let history = &tunes()[0][..8];
    let ctx = |action| StepContext {
        setting: &setting,
        step: 8,
        history,
        action,
    };
    let mut terms = [0.0];
    let mut loose = CorpusReward::new(model.clone()).with_floor(-100.0).unwrap();
    let raw = loose.step(&ctx(rare), &mut terms);
    assert!(raw < -4.0, "{raw}");
    let mut tight = CorpusReward::new(model.clone()).with_floor(-2.0).unwrap();
    assert_eq!(tight.step(&ctx(rare), &mut terms), -2.0);
    // An action outside the encoding has probability zero: the floor, not -inf.
    assert_eq!(tight.step(&ctx(200), &mut terms), -2.0);
    // An empty terms slice is tolerated.
    assert_eq!(tight.step(&ctx(rare), &mut []), -2.0);

    for floor in [f64::NAN, f64::NEG_INFINITY] {
        let err = CorpusError::from(
            CorpusReward::new(model.clone())
                .with_floor(floor)
                .unwrap_err(),
        );
        assert!(
            matches!(err, CorpusError::InvalidConfig { field: "floor", .. }),
            "{err}"
        );
    }
}

#[test]
fn setting_mismatches_are_reported() {
    let reward = CorpusReward::new(Arc::new(model(2)));
    let mut other = Setting::rl_tuner();
    other.encoding = EventEncoding::new(55, 88).unwrap();
    let err = reward.check_setting(&other).unwrap_err();
    assert!(err.to_string().contains("range-55-88"), "{err}");
    let mut waltz = Setting::rl_tuner();
    waltz.beats_per_bar = 3;
    let err = reward.check_setting(&waltz).unwrap_err();
    assert!(err.to_string().contains("12 steps per bar"), "{err}");
}

#[test]
fn held_out_report_on_a_small_corpus() {
    let setting = Setting::rl_tuner();
    let tunes = tunes();
    let (train, valid) = tunes.split_at(4);
    let base = NgramConfig::default();
    let reports = held_out_report(train, valid, 1..=5, &base, setting.encoding, 16).unwrap();
    assert_eq!(
        reports.iter().map(|r| r.order).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    for r in &reports {
        assert!(
            r.nll_per_event.is_finite() && r.nll_per_event > 0.0,
            "{r:?}"
        );
        assert!((r.perplexity - r.nll_per_event.exp()).abs() < 1e-9, "{r:?}");
        assert!(r.perplexity < 38.0, "{r:?}");
    }
    // Holds follow notes: any context beats the unigram on these tunes.
    assert!(
        reports[1].nll_per_event < reports[0].nll_per_event,
        "{reports:?}"
    );

    let err = held_out_report(train, valid, 3..=9, &base, setting.encoding, 16).unwrap_err();
    assert!(
        matches!(err, CorpusError::InvalidConfig { field: "order", .. }),
        "{err}"
    );
    #[allow(clippy::reversed_empty_ranges)]
    let err = held_out_report(train, valid, 4..=2, &base, setting.encoding, 16).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let err = held_out_report(train, &[], 1..=2, &base, setting.encoding, 16).unwrap_err();
    assert!(matches!(err, CorpusError::NoEvents { .. }), "{err}");
    let err = held_out_report(&[], valid, 1..=2, &base, setting.encoding, 16).unwrap_err();
    assert!(matches!(err, CorpusError::EmptyTrainingSet { .. }), "{err}");
}

/// Timing the prior terms changes nothing but the clock: the same totals and terms as plain
/// steps, with the corpus term's seconds reported, and none where a reward has no prior.
#[test]
fn timing_the_prior_changes_nothing_but_the_clock() {
    use cadenza_reward::combine::WeightedSum;
    use cadenza_reward::rl_tuner::RlTunerReward;
    let setting = Setting::rl_tuner();
    let model = Arc::new(model(4));
    let sum = || {
        let mut sum = WeightedSum::new();
        sum.push("rl_tuner", 1.0, Box::new(RlTunerReward::default()))
            .unwrap();
        sum.push("corpus", 0.5, Box::new(CorpusReward::new(model.clone())))
            .unwrap();
        sum
    };
    let (mut plain, mut timed) = (sum(), sum());
    plain.reset(&setting);
    timed.reset(&setting);
    let names = plain.term_names().len();
    let (mut plain_terms, mut timed_terms) = (vec![0.0; names], vec![0.0; names]);
    let melody = &tunes()[4];
    let mut prior_seconds = None;
    for (step, &action) in melody.iter().enumerate() {
        let ctx = StepContext {
            setting: &setting,
            step,
            history: &melody[..step],
            action,
        };
        let expected = plain.step(&ctx, &mut plain_terms);
        let got = timed.step_timing_priors(&ctx, &mut timed_terms, &mut prior_seconds);
        assert_eq!(got.to_bits(), expected.to_bits(), "step {step}");
        assert_eq!(timed_terms, plain_terms, "step {step}");
    }
    assert!(prior_seconds.is_some_and(|s| s >= 0.0), "{prior_seconds:?}");

    let mut theory = RlTunerReward::default();
    theory.reset(&setting);
    let mut terms = vec![0.0; theory.term_names().len()];
    let ctx = StepContext {
        setting: &setting,
        step: 0,
        history: &[],
        action: melody[0],
    };
    let mut none = None;
    theory.step_timing_priors(&ctx, &mut terms, &mut none);
    assert_eq!(none, None);
}
