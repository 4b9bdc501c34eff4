//! Correctness of the n-gram corpus model: normalisation, hand-computed Kneser–Ney values,
//! learning curves, persistence and errors.

use cadenza_env::encoding::{Event, EventEncoding, HOLD, REST};
use cadenza_reward::corpus::{CorpusError, NgramConfig, NgramModel, PositionClasses, MAX_ORDER};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const A: Event = 2; // MIDI 60 in the small encodings below
const B: Event = 3; // MIDI 61
const C: Event = 4; // MIDI 62

fn config(order: usize, use_position: bool, classes: PositionClasses) -> NgramConfig {
    NgramConfig {
        order,
        use_position,
        position_classes: classes,
    }
}

/// Melodies from a fixed second-order Markov source with a metrical pattern: holds on odd
/// steps, a skewed choice of pitches elsewhere. Deterministic per seed.
fn source_melodies(count: usize, len: usize, seed: u64) -> Vec<Vec<Event>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let num_events = EventEncoding::RL_TUNER_38.num_events() as i32;
    (0..count)
        .map(|_| {
            let mut melody: Vec<Event> = Vec::with_capacity(len);
            let mut pitch = 14i32;
            let mut last_step = 1i32;
            for step in 0..len {
                if step % 2 == 1 {
                    melody.push(if rng.random_bool(0.15) { REST } else { HOLD });
                    continue;
                }
                // Steps tend to continue in the same direction (second-order dependence).
                let step_size = if rng.random_bool(0.6) {
                    last_step.signum() * rng.random_range(1..=2)
                } else {
                    rng.random_range(-4..=4)
                };
                last_step = if step_size == 0 { 1 } else { step_size };
                pitch = (pitch + step_size).clamp(2, num_events - 1);
                melody.push(pitch as Event);
            }
            melody
        })
        .collect()
}

fn assert_normalised(model: &NgramModel, context: &[Event], position: usize) {
    let mut dist = vec![0.0; model.num_events()];
    model.distribution(context, position, &mut dist).unwrap();
    let sum: f64 = dist.iter().sum();
    assert!(
        (sum - 1.0).abs() < 1e-9,
        "order {} {:?}: sum {sum} for context {context:?} at {position}",
        model.order(),
        model.config()
    );
    for (event, &p) in dist.iter().enumerate() {
        assert!(p > 0.0, "zero probability for {event}");
        let direct = model.prob(context, position, event as Event);
        assert!(
            (direct - p).abs() <= 1e-15,
            "prob {direct} vs distribution {p} for {event}"
        );
    }
}

#[test]
fn distributions_sum_to_one_at_every_order() {
    let enc = EventEncoding::RL_TUNER_38;
    let train = source_melodies(40, 48, 1);
    let mut rng = StdRng::seed_from_u64(99);
    for order in 1..=MAX_ORDER {
        for (use_position, classes) in [
            (false, PositionClasses::Step),
            (true, PositionClasses::Step),
            (true, PositionClasses::Metric),
        ] {
            let model =
                NgramModel::fit(config(order, use_position, classes), enc, 16, &train).unwrap();
            // Contexts from the training data (seen), random ones (mostly unseen), short ones
            // (melody starts) and ones with events outside the encoding.
            for trial in 0..60 {
                let len = rng.random_range(0..=10);
                let context: Vec<Event> = match trial % 3 {
                    0 => {
                        let melody = &train[rng.random_range(0..train.len())];
                        melody[..len.min(melody.len())].to_vec()
                    }
                    1 => (0..len).map(|_| rng.random_range(0..38)).collect(),
                    _ => (0..len).map(|_| rng.random_range(0..=255)).collect(),
                };
                let position = rng.random_range(0..200);
                assert_normalised(&model, &context, position);
            }
        }
    }
}

/// Order 2 on two melodies over {rest, hold, a, b} (V = 4), computed by hand:
///
/// ```text
/// melodies: [R R] and [R R R a]; with one begin-of-melody symbol ^ in front.
/// bigram counts: (^ R) = 2, (R R) = 3, (R a) = 1
///   count-of-counts n1 = n2 = n3 = 1, n4 = 0 → Y = 1/3,
///   D1 = 1 - 2·(1/3)·1 = 1/3, D2 = 2 - 3·(1/3)·1 = 1, D3+ = 3 - 4·(1/3)·0 = 3
/// unigram continuation counts: N(• R) = |{^, R}| = 2, N(• a) = |{R}| = 1
///   n1 = n2 = 1, n3 = 0 → Y = 1/3, D1 = 1/3, D2 = 2 - 0 = 2, D3+ = Y = 1/3 (undefined)
///   total 3, back-off mass D1 + D2 = 7/3, uniform 1/4:
///   P(R) = (0 + 7/12)/3 = 7/36, P(a) = (2/3 + 7/12)/3 = 5/12, P(hold) = P(b) = 7/36
/// context R: total 4, back-off mass D3+ + D1 = 10/3:
///   P(R|R) = (0 + 10/3·7/36)/4 = 35/216, P(a|R) = (2/3 + 10/3·5/12)/4 = 37/72,
///   P(hold|R) = P(b|R) = 35/216
/// context ^: total 2, back-off mass D2 = 1:
///   P(R|^) = (1 + 7/36)/2 = 43/72, P(a|^) = (5/12)/2 = 5/24, P(hold|^) = P(b|^) = 7/72
/// context a: never seen as a context → the unigram.
/// ```
#[test]
fn order_two_matches_hand_computed_kneser_ney() {
    let enc = EventEncoding::new(60, 61).unwrap();
    let melodies = vec![vec![REST, REST], vec![REST, REST, REST, A]];
    let model =
        NgramModel::fit(config(2, false, PositionClasses::Step), enc, 16, &melodies).unwrap();
    let discounts = model.discounts();
    let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
    assert!(
        close(discounts[1][0], 1.0 / 3.0)
            && close(discounts[1][1], 1.0)
            && close(discounts[1][2], 3.0)
    );
    assert!(
        close(discounts[0][0], 1.0 / 3.0)
            && close(discounts[0][1], 2.0)
            && close(discounts[0][2], 1.0 / 3.0)
    );
    let expected: [(&[Event], [f64; 4]); 3] = [
        (&[], [43.0 / 72.0, 7.0 / 72.0, 5.0 / 24.0, 7.0 / 72.0]),
        (
            &[REST],
            [35.0 / 216.0, 35.0 / 216.0, 37.0 / 72.0, 35.0 / 216.0],
        ),
        (&[A], [7.0 / 36.0, 7.0 / 36.0, 5.0 / 12.0, 7.0 / 36.0]),
    ];
    for (context, probs) in expected {
        for (event, p) in probs.into_iter().enumerate() {
            let got = model.log_prob(context, 5, event as Event);
            assert!(
                (got - p.ln()).abs() < 1e-12,
                "P({event} | {context:?}) = {} expected {p}",
                got.exp()
            );
        }
    }
    // Only the last N-1 = 1 event matters; the step index is ignored without positions.
    assert_eq!(
        model.log_prob(&[A, B, REST], 0, A),
        model.log_prob(&[REST], 9, A)
    );
}

/// Order 1 is the maximum-likelihood unigram, discounted and interpolated with the uniform
/// distribution, and nothing else:
///
/// ```text
/// counts a = 4, b = 3, R = 2, hold = 1, c = 0 over V = 5 events, total 10
/// n1 = n2 = n3 = n4 = 1 → Y = 1/3, D1 = 1/3, D2 = 2 - 1 = 1, D3+ = 3 - 4/3 = 5/3
/// back-off mass γ·c = D1 + D2 + 2·D3+ = 14/3, so P(e) = (c(e) - D(c(e)) + 14/15) / 10:
/// P(a) = 49/150, P(b) = 34/150, P(R) = 29/150, P(hold) = 24/150, P(c) = 14/150
/// ```
#[test]
fn order_one_is_the_discounted_unigram_over_uniform() {
    let enc = EventEncoding::new(60, 62).unwrap();
    let melodies = vec![vec![A, A, A, A, B, B, B, REST, REST, HOLD]];
    let model =
        NgramModel::fit(config(1, false, PositionClasses::Step), enc, 16, &melodies).unwrap();
    let expected = [(REST, 29.0), (HOLD, 24.0), (A, 49.0), (B, 34.0), (C, 14.0)];
    for (event, numerator) in expected {
        let p: f64 = numerator / 150.0;
        for (context, position) in [(&[][..], 0), (&[A, B][..], 7), (&[C][..], 100)] {
            let got = model.log_prob(context, position, event);
            assert!(
                (got - p.ln()).abs() < 1e-12,
                "P({event}) = {} expected {p}",
                got.exp()
            );
        }
    }
    // Order of the melody does not matter to a unigram.
    let shuffled = vec![vec![HOLD, B, A, REST, A, B, A, REST, B, A]];
    let other = NgramModel::fit(*model.config(), enc, 16, &shuffled).unwrap();
    for event in 0..5 {
        assert_eq!(model.log_prob(&[], 0, event), other.log_prob(&[], 0, event));
    }
}

/// A position-aware trigram against an independent reference implementation (exact rational
/// arithmetic); the values pin down the back-off chain (position, 2 events) → (2 events) →
/// (1 event) → () → uniform.
#[test]
fn position_aware_trigram_matches_reference_values() {
    let enc = EventEncoding::new(60, 62).unwrap();
    let melodies = vec![
        vec![A, HOLD, B, HOLD, REST, HOLD, A, HOLD],
        vec![A, HOLD, A, HOLD, B, REST, C, HOLD],
    ];
    let model = NgramModel::fit(config(3, true, PositionClasses::Step), enc, 4, &melodies).unwrap();
    let cases: [(&[Event], usize, Event, f64); 5] = [
        (&[], 0, A, 0.49230769230769234),
        (&[A], 1, HOLD, 0.5487179487179488),
        (&[A, HOLD], 2, B, 0.3192663817663818),
        (&[B, REST], 6, C, 0.6180555555555556),
        (&[C, C], 3, REST, 0.06666666666666667),
    ];
    for (context, position, event, p) in cases {
        let got = model.prob(context, position, event);
        assert!(
            (got - p).abs() < 1e-12,
            "P({event} | {context:?}, {position}) = {got}, expected {p}"
        );
    }
}

#[test]
fn more_training_data_lowers_held_out_nll() {
    let enc = EventEncoding::RL_TUNER_38;
    let all = source_melodies(400, 64, 7);
    let valid = source_melodies(50, 64, 8);
    for order in [1, 2, 3, 5] {
        let cfg = config(order, true, PositionClasses::Step);
        let small = NgramModel::fit(cfg, enc, 16, &all[..10]).unwrap();
        let medium = NgramModel::fit(cfg, enc, 16, &all[..80]).unwrap();
        let large = NgramModel::fit(cfg, enc, 16, &all).unwrap();
        let nll = |m: &NgramModel| m.nll_per_event(&valid).unwrap();
        let (s, m, l) = (nll(&small), nll(&medium), nll(&large));
        assert!(s > m && m > l, "order {order}: {s} {m} {l}");
        let ppl = large.perplexity(&valid).unwrap();
        assert!((ppl - l.exp()).abs() < 1e-9);
        assert!(ppl > 1.0 && ppl < 38.0);
    }
    // The source has second-order structure: context helps a lot. The position adds little
    // beyond the context here, and backing off from it first keeps it from hurting.
    let nll = |cfg| {
        NgramModel::fit(cfg, enc, 16, &all)
            .unwrap()
            .nll_per_event(&valid)
            .unwrap()
    };
    let unigram = nll(config(1, false, PositionClasses::Step));
    let trigram = nll(config(3, false, PositionClasses::Step));
    let trigram_position = nll(config(3, true, PositionClasses::Metric));
    assert!(trigram < unigram - 0.5, "{trigram} vs {unigram}");
    assert!(
        trigram_position < trigram,
        "{trigram_position} vs {trigram}"
    );
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("cadenza-corpus-{}-{name}.json", std::process::id()))
}

#[test]
fn save_and_load_give_identical_log_probs() {
    let enc = EventEncoding::RL_TUNER_38;
    let train = source_melodies(30, 48, 3);
    let probe = source_melodies(5, 48, 4);
    for (i, cfg) in [
        config(1, false, PositionClasses::Step),
        config(3, true, PositionClasses::Step),
        config(5, true, PositionClasses::Metric),
        config(8, false, PositionClasses::Step),
    ]
    .into_iter()
    .enumerate()
    {
        let model = NgramModel::fit(cfg, enc, 16, &train).unwrap();
        let path = temp_path(&format!("round-trip-{i}"));
        model.save(&path).unwrap();
        let loaded = NgramModel::load(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(loaded.config(), model.config());
        assert_eq!(loaded.encoding(), model.encoding());
        assert_eq!(loaded.training_events(), model.training_events());
        assert_eq!(loaded.discounts(), model.discounts());
        for melody in &probe {
            for step in 0..melody.len() {
                for event in 0..38 {
                    let a = model.log_prob(&melody[..step], step, event);
                    let b = loaded.log_prob(&melody[..step], step, event);
                    assert_eq!(
                        a.to_bits(),
                        b.to_bits(),
                        "{cfg:?} step {step} event {event}"
                    );
                }
            }
        }
    }
}

fn fit_err(cfg: NgramConfig, steps_per_bar: usize, melodies: &[Vec<Event>]) -> CorpusError {
    NgramModel::fit(cfg, EventEncoding::RL_TUNER_38, steps_per_bar, melodies).unwrap_err()
}

#[test]
fn bad_settings_and_melodies_give_clear_errors() {
    let ok = vec![vec![A, HOLD, B]];
    for order in [0, 9, 100] {
        let err = fit_err(config(order, false, PositionClasses::Step), 16, &ok);
        assert!(
            matches!(err, CorpusError::InvalidConfig { field: "order", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("`order`"), "{err}");
        assert!(err.to_string().contains(&order.to_string()), "{err}");
    }
    let err = fit_err(NgramConfig::default(), 16, &[]);
    assert!(
        matches!(err, CorpusError::EmptyTrainingSet { melodies: 0 }),
        "{err}"
    );
    let err = fit_err(NgramConfig::default(), 16, &[vec![], vec![]]);
    assert!(
        matches!(err, CorpusError::EmptyTrainingSet { melodies: 2 }),
        "{err}"
    );
    assert!(err.to_string().contains("empty training set"), "{err}");

    let err = fit_err(NgramConfig::default(), 16, &[vec![A, B], vec![A, 38, B]]);
    match &err {
        CorpusError::EventOutOfRange {
            melody,
            step,
            event,
            ..
        } => assert_eq!((*melody, *step, *event), (1, 1, 38)),
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("rl-tuner-38"), "{err}");

    let err = fit_err(config(2, true, PositionClasses::Step), 0, &ok);
    assert!(
        matches!(
            err,
            CorpusError::InvalidConfig {
                field: "steps_per_bar",
                ..
            }
        ),
        "{err}"
    );
    let err = fit_err(config(2, true, PositionClasses::Step), 300, &ok);
    assert!(err.to_string().contains("metric"), "{err}");
    // Without positions, the bar length is irrelevant; with metric classes any length works.
    NgramModel::fit(
        config(2, false, PositionClasses::Step),
        EventEncoding::RL_TUNER_38,
        0,
        &ok,
    )
    .unwrap();
    NgramModel::fit(
        config(2, true, PositionClasses::Metric),
        EventEncoding::RL_TUNER_38,
        300,
        &ok,
    )
    .unwrap();

    // Unknown configuration fields are rejected by name.
    let err =
        serde_json::from_str::<NgramConfig>(r#"{"order": 3, "use_postion": true}"#).unwrap_err();
    assert!(err.to_string().contains("use_postion"), "{err}");
    let cfg: NgramConfig = serde_json::from_str(r#"{"position_classes": "metric"}"#).unwrap();
    assert_eq!(cfg.position_classes, PositionClasses::Metric);
    assert_eq!(cfg.order, NgramConfig::default().order);
}

#[test]
fn queries_with_bad_input_do_not_panic() {
    let model = NgramModel::fit(
        NgramConfig::default(),
        EventEncoding::RL_TUNER_38,
        16,
        &source_melodies(5, 32, 5),
    )
    .unwrap();
    assert_eq!(model.log_prob(&[A], 0, 38), f64::NEG_INFINITY);
    assert_eq!(model.prob(&[A], 0, 255), 0.0);
    assert!(model.log_prob(&[255, 254, 200], usize::MAX, A).is_finite());
    let mut short = vec![0.0; 10];
    assert!(matches!(
        model.distribution(&[A], 0, &mut short),
        Err(CorpusError::OutputLength {
            expected: 38,
            found: 10
        })
    ));
    assert!(matches!(
        model.nll_per_event(&[]),
        Err(CorpusError::NoEvents { .. })
    ));
    assert!(matches!(
        model.nll_per_event(&[vec![]]),
        Err(CorpusError::NoEvents { .. })
    ));
    let err = model.perplexity(&[vec![A], vec![A, 40]]).unwrap_err();
    assert!(
        matches!(
            err,
            CorpusError::EventOutOfRange {
                melody: 1,
                step: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn loading_other_kinds_versions_and_damaged_files_names_the_file() {
    let model = NgramModel::fit(
        config(2, true, PositionClasses::Step),
        EventEncoding::RL_TUNER_38,
        16,
        &[vec![A, HOLD, B, HOLD]],
    )
    .unwrap();
    let path = temp_path("variants");
    model.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["kind"], "ngram");
    assert_eq!(json["format_version"], 1);
    let name = path.display().to_string();

    let write_variant = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut variant = json.clone();
        f(&mut variant);
        std::fs::write(&path, variant.to_string()).unwrap();
        NgramModel::load(&path).unwrap_err()
    };
    let err = write_variant(&|v| v["kind"] = "rnn".into());
    assert!(matches!(err, CorpusError::WrongKind { .. }), "{err}");
    assert!(
        err.to_string().contains(&name) && err.to_string().contains("rnn"),
        "{err}"
    );
    let err = write_variant(&|v| v["format_version"] = 2.into());
    assert!(
        matches!(err, CorpusError::UnsupportedVersion { found: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&name), "{err}");
    let err = write_variant(&|v| v["config"]["order"] = 0.into());
    assert!(matches!(err, CorpusError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("`order`"), "{err}");
    let err = write_variant(&|v| v["ngrams"][0][1] = 200.into());
    assert!(matches!(err, CorpusError::Malformed { .. }), "{err}");
    let err = write_variant(&|v| v["ngrams"][0][2] = 0.into());
    assert!(err.to_string().contains("count is zero"), "{err}");
    let err = write_variant(&|v| {
        v.as_object_mut().unwrap().remove("kind");
    });
    assert!(
        err.to_string().contains("kind") && err.to_string().contains(&name),
        "{err}"
    );

    std::fs::write(&path, "not json").unwrap();
    let err = NgramModel::load(&path).unwrap_err();
    assert!(
        matches!(err, CorpusError::Malformed { .. }) && err.to_string().contains(&name),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
    let err = NgramModel::load(&path).unwrap_err();
    assert!(
        matches!(err, CorpusError::Io { action: "read", .. }) && err.to_string().contains(&name),
        "{err}"
    );

    json["kind"] = "ngram".into();
    assert!(format!("{model:?}").contains("NgramModel"));
}

/// The context table (one row of log-probabilities per context of every level, looked up
/// from the deepest level that knows the history) gives `log_prob` to the last bit: every
/// order 1-6, with and without the position (both class kinds), over the histories of
/// held-out melodies (contexts the model never saw included), short histories at a melody's
/// start, an event outside the encoding in the history, and every event of the encoding.
#[test]
fn context_table_equals_the_reference_log_probs_exactly() {
    let enc = EventEncoding::RL_TUNER_38;
    let train = source_melodies(60, 48, 3);
    let held_out = source_melodies(12, 40, 99);
    for order in 1..=6 {
        for (use_position, classes) in [
            (false, PositionClasses::Step),
            (true, PositionClasses::Step),
            (true, PositionClasses::Metric),
        ] {
            let model =
                NgramModel::fit(config(order, use_position, classes), enc, 16, &train).unwrap();
            let mut checked = 0usize;
            for melody in held_out.iter().chain(&train[..4]) {
                for step in 0..melody.len() {
                    let context = &melody[..step];
                    for event in 0..enc.num_events() as Event {
                        let reference = model.log_prob(context, step, event);
                        let fast = model.log_prob_fast(context, step, event);
                        assert_eq!(
                            fast.to_bits(),
                            reference.to_bits(),
                            "order {order}, position {use_position} {classes:?}, step {step}, \
                             event {event}: {fast} against {reference}"
                        );
                        checked += 1;
                    }
                }
            }
            // An unknown event in the history backs off past it, in both paths.
            let odd = [5, 200, 7];
            for event in 0..enc.num_events() as Event {
                let (r, f) = (
                    model.log_prob(&odd, 3, event),
                    model.log_prob_fast(&odd, 3, event),
                );
                assert_eq!(
                    f.to_bits(),
                    r.to_bits(),
                    "order {order}: unknown in history"
                );
            }
            assert_eq!(model.log_prob_fast(&odd, 3, 200), f64::NEG_INFINITY);
            assert!(checked > 10_000);
            let table = model.context_table();
            assert!(
                table.num_rows() > order,
                "one row per context of every level"
            );
        }
    }
}

/// The corpus term steps a cursor through the model's automaton of states; its values are
/// `log_prob`'s to the last bit: every order 1-6, with and without the position, over whole
/// melodies, after an event outside the encoding, and when a step does not follow the one
/// before (a melody taken up half-way without a reset, which seeks the cursor afresh).
#[test]
fn the_corpus_term_s_cursor_equals_the_reference_log_probs_exactly() {
    use cadenza_env::reward::{Reward, Setting, StepContext};
    use cadenza_reward::corpus::CorpusReward;
    use std::sync::Arc;

    let enc = EventEncoding::RL_TUNER_38;
    let setting = Setting::rl_tuner();
    let train = source_melodies(60, 48, 3);
    let mut held_out = source_melodies(12, 40, 99);
    // An event outside the encoding in the middle of one melody.
    held_out[0][7] = 200;
    for order in 1..=6 {
        for (use_position, classes) in [
            (false, PositionClasses::Step),
            (true, PositionClasses::Step),
            (true, PositionClasses::Metric),
        ] {
            let model = Arc::new(
                NgramModel::fit(config(order, use_position, classes), enc, 16, &train).unwrap(),
            );
            assert!(model.context_table().has_transitions());
            let mut reward = CorpusReward::new(model.clone()).with_floor(-1e300).unwrap();
            let mut terms = [0.0];
            let mut check = |reward: &mut CorpusReward, melody: &[Event], from: usize| {
                for step in from..melody.len() {
                    let ctx = StepContext {
                        setting: &setting,
                        step,
                        history: &melody[..step],
                        action: melody[step],
                    };
                    let value = reward.step(&ctx, &mut terms);
                    let reference = model
                        .log_prob(&melody[..step], step, melody[step])
                        .max(-1e300);
                    assert_eq!(
                        value.to_bits(),
                        reference.to_bits(),
                        "order {order}, position {use_position} {classes:?}, step {step}: \
                         {value} against {reference}"
                    );
                }
            };
            for melody in held_out.iter().chain(&train[..4]) {
                reward.reset(&setting);
                check(&mut reward, melody, 0);
            }
            // Half-way into another melody, with no reset in between.
            check(&mut reward, &held_out[1], 20);
            check(&mut reward, &held_out[2], 0);
        }
    }
}
