//! The `improv` preset as a whole: configuration, determinism, bounded state, and whether it
//! prefers music to noise.

use cadenza_env::{ChordFrame, Event, EventEncoding, Note, Reward, Setting, StepContext};
use cadenza_reward::improv::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn mask(pitch_classes: &[u8]) -> u16 {
    pitch_classes.iter().fold(0, |m, &pc| m | 1 << pc)
}

/// Dm7 | G7 | Cmaj7 | Cmaj7 in C major, one chord per bar of sixteenths, repeated to
/// `length` steps.
fn two_five_one(length: usize) -> Setting {
    let c_major = mask(&[0, 2, 4, 5, 7, 9, 11]);
    let frame = |index, root, tones: &[u8], scale| ChordFrame {
        index,
        root,
        tones: mask(tones),
        scale,
    };
    let bars = [
        frame(0, 2, &[2, 5, 9, 0], c_major),
        frame(1, 7, &[7, 11, 2, 5], c_major),
        frame(2, 0, &[0, 4, 7, 11], c_major & !mask(&[5])),
        frame(2, 0, &[0, 4, 7, 11], c_major & !mask(&[5])),
    ];
    let chords = (0..length).map(|step| bars[(step / 16) % 4]).collect();
    Setting {
        encoding: EventEncoding::RL_TUNER_38,
        length,
        steps_per_beat: 4,
        beats_per_bar: 4,
        tonic: 0,
        scale: c_major,
        chords,
        call_steps: 0,
    }
}

fn events(setting: &Setting, line: &[(u8, u32, u32)]) -> Vec<Event> {
    let notes: Vec<Note> = line
        .iter()
        .map(|&(pitch, start, duration)| Note {
            pitch,
            start,
            duration,
        })
        .collect();
    setting.encoding.from_notes(&notes, setting.length).unwrap()
}

/// A stepwise, arpeggiated solo over the ii-V-I, breathing every two bars.
fn solo(setting: &Setting) -> Vec<Event> {
    events(
        setting,
        &[
            (65, 0, 4),
            (69, 4, 2),
            (72, 6, 2),
            (76, 8, 2),
            (74, 10, 2),
            (72, 12, 4),
            (71, 16, 4),
            (74, 20, 2),
            (77, 22, 2),
            (76, 24, 2),
            (74, 26, 2),
            (71, 28, 3),
            (76, 32, 4),
            (79, 36, 2),
            (76, 38, 2),
            (74, 40, 2),
            (72, 42, 2),
            (71, 44, 2),
            (74, 46, 2),
            (72, 48, 16),
        ],
    )
}

/// Chord arpeggios in quarter and eighth notes: root, third, fifth, seventh and back.
fn arpeggios(setting: &Setting) -> Vec<Event> {
    let chords: [[u8; 4]; 4] = [
        [62, 65, 69, 72],
        [67, 71, 74, 77],
        [64, 67, 71, 72],
        [64, 67, 71, 72],
    ];
    let mut line = Vec::new();
    for (bar, tones) in chords.iter().enumerate() {
        let start = bar as u32 * 16;
        line.push((tones[0], start, 4));
        line.push((tones[1], start + 4, 2));
        line.push((tones[2], start + 6, 2));
        line.push((tones[3], start + 8, 4));
        if bar < 3 {
            line.push((tones[2], start + 12, 3));
        }
    }
    line.push((72, 60, 4));
    line.retain(|&(_, start, _)| start < 64);
    // End on a held tonic.
    let last = line.len() - 1;
    line[last] = (72, 56, 8);
    line.remove(last - 1);
    events(setting, &line)
}

/// Runs a reward over a melody: (total, per-term sums, per-step totals).
fn score<R: Reward>(
    reward: &mut R,
    setting: &Setting,
    melody: &[Event],
) -> (f64, Vec<f64>, Vec<f64>) {
    reward.reset(setting);
    let n = reward.term_names().len();
    let mut terms = vec![0.0; n];
    let mut sums = vec![0.0; n];
    let mut steps = Vec::with_capacity(melody.len());
    for step in 0..melody.len() {
        let ctx = StepContext {
            setting,
            step,
            history: &melody[..step],
            action: melody[step],
        };
        let total = reward.step(&ctx, &mut terms);
        let sum: f64 = terms.iter().sum();
        assert!((total - sum).abs() < 1e-9, "step {step}: {total} vs {sum}");
        for (s, v) in sums.iter_mut().zip(&terms) {
            *s += v;
        }
        steps.push(total);
    }
    (steps.iter().sum(), sums, steps)
}

fn random_melody(rng: &mut StdRng, setting: &Setting) -> Vec<Event> {
    let n = setting.encoding.num_events();
    (0..setting.length)
        .map(|_| rng.random_range(0..n) as Event)
        .collect()
}

#[test]
fn improv_preset_term_names() {
    let reward = ImprovReward::preset();
    let names = reward.term_names();
    assert_eq!(names, IMPROV_TERM_NAMES.map(String::from).to_vec());
    assert_eq!(
        names,
        [
            "chord_tone_on_strong_beat",
            "chord_scale",
            "non_chord_tone_resolution",
            "leap_recovery",
            "range_tessitura",
            "contour",
            "rhythmic_variety",
            "phrase_breath",
            "motif_development",
            "cadence",
            "pitch_variety",
            "fast_runs",
        ]
    );
    assert_eq!(reward.weights(), &[1.0; IMPROV_TERM_COUNT]);
}

#[test]
fn improv_prefers_music_to_random_melodies() {
    let setting = two_five_one(64);
    let mut reward = ImprovReward::preset();
    let (solo_total, solo_terms, _) = score(&mut reward, &setting, &solo(&setting));
    let (arp_total, _, _) = score(&mut reward, &setting, &arpeggios(&setting));
    let mut rng = StdRng::seed_from_u64(20_240_601);
    let runs = 64;
    let mut random_totals = Vec::with_capacity(runs);
    for _ in 0..runs {
        let melody = random_melody(&mut rng, &setting);
        random_totals.push(score(&mut reward, &setting, &melody).0);
    }
    let mean = random_totals.iter().sum::<f64>() / runs as f64;
    let best = random_totals.iter().copied().fold(f64::MIN, f64::max);
    eprintln!("solo {solo_total:.2} {solo_terms:.2?}");
    eprintln!("arpeggios {arp_total:.2}, random mean {mean:.2}, best {best:.2}");
    assert!(
        solo_total > mean && arp_total > mean,
        "solo {solo_total}, arpeggios {arp_total}, random mean {mean}"
    );
    // Not a close call: both beat even the luckiest random melody.
    assert!(solo_total > best && arp_total > best, "best random {best}");
    // The solo is paid by the harmonic terms and its cadence.
    assert!(solo_terms[0] > 0.0 && solo_terms[1] > 0.0 && solo_terms[9] > 0.0);
}

#[test]
fn improv_is_deterministic() {
    let setting = two_five_one(256);
    let mut rng = StdRng::seed_from_u64(7);
    let melody = random_melody(&mut rng, &setting);
    let mut a = ImprovReward::preset();
    let mut b = ImprovReward::preset();
    let first = score(&mut a, &setting, &melody);
    let again = score(&mut a, &setting, &melody); // after a reset
    let other = score(&mut b, &setting, &melody);
    assert_eq!(first.2, again.2);
    assert_eq!(first.2, other.2);
    assert_eq!(first.1, other.1);
}

#[test]
fn improv_state_is_bounded_and_history_is_not_scanned() {
    // The terms never read `history`: scoring with an empty history gives the same values,
    // so a step cannot cost more as the melody grows.
    let setting = two_five_one(1024);
    let mut rng = StdRng::seed_from_u64(11);
    let melody = random_melody(&mut rng, &setting);
    let mut reward = ImprovReward::preset();
    let (_, _, with_history) = score(&mut reward, &setting, &melody);
    reward.reset(&setting);
    let mut terms = vec![0.0; IMPROV_TERM_COUNT];
    let without: Vec<f64> = (0..melody.len())
        .map(|step| {
            let ctx = StepContext {
                setting: &setting,
                step,
                history: &[],
                action: melody[step],
            };
            reward.step(&ctx, &mut terms)
        })
        .collect();
    assert_eq!(with_history, without);
    // Fixed-capacity ring buffers, however long the melody.
    assert!(reward.motif_development().remembered_notes() <= MOTIF_MEMORY);
    assert!(reward.rhythmic_variety().remembered_intervals() <= RHYTHM_WINDOW_CAPACITY);
    assert_eq!(reward.motif_development().remembered_notes(), MOTIF_MEMORY);
    // All state lives inline: the preset's size is a compile-time constant, and small.
    assert!(std::mem::size_of::<ImprovReward>() < 2048);
}

#[test]
fn improv_never_panics_on_any_event_or_odd_setting() {
    let mut odd = two_five_one(40);
    odd.steps_per_beat = 0;
    odd.beats_per_bar = 0;
    odd.tonic = 200;
    odd.chords[3].tones = 0;
    odd.chords[4].scale = 0;
    odd.chords.truncate(7); // wraps around
    let mut empty = Setting::rl_tuner();
    empty.length = 0;
    for setting in [two_five_one(300), odd, empty, Setting::rl_tuner()] {
        let mut reward = ImprovReward::preset();
        reward.reset(&setting);
        let mut terms = vec![0.0; IMPROV_TERM_COUNT];
        let melody: Vec<Event> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for (step, &action) in melody.iter().enumerate() {
            let ctx = StepContext {
                setting: &setting,
                step,
                history: &melody[..step],
                action,
            };
            assert!(reward.step(&ctx, &mut terms).is_finite());
        }
        // A caller that passes too short a slice is tolerated too.
        let ctx = StepContext {
            setting: &setting,
            step: 1,
            history: &melody[..1],
            action: 14,
        };
        assert!(reward.step(&ctx, &mut []).is_finite());
    }
}

#[test]
fn improv_out_of_range_events_carry_no_pitch() {
    // An out-of-range event acts like a hold: same values as with HOLD in its place.
    let setting = two_five_one(64);
    let melody = solo(&setting);
    let garbled: Vec<Event> = melody
        .iter()
        .map(|&e| if e == 1 { 250 } else { e })
        .collect();
    let mut reward = ImprovReward::preset();
    assert_eq!(
        score(&mut reward, &setting, &melody).2,
        score(&mut reward, &setting, &garbled).2
    );
}

// ---------------------------------------------------------------- configuration

#[test]
fn improv_config_from_toml() {
    let config = ImprovWeights::from_toml_str(
        r#"
[chord_tone_on_strong_beat]
weight = 1.0
strong_reward = 1.0

[motif_development]
weight = 0
motif_notes = 5

[cadence]
hold_beats = 4
"#,
    )
    .unwrap();
    assert_eq!(config.chord_tone_on_strong_beat.weight, 1.0);
    assert_eq!(config.motif_development.weight, 0.0);
    assert_eq!(config.motif_development.params.motif_notes, 5);
    assert_eq!(config.cadence.weight, 1.0);
    assert_eq!(config.cadence.params.hold_beats, 4);
    assert_eq!(
        config.cadence.params.tonic_reward,
        CadenceParams::default().tonic_reward
    );
    assert_eq!(config.contour, Weighted::default());
    assert_eq!(
        ImprovWeights::from_toml_str("").unwrap(),
        ImprovWeights::default()
    );
}

#[test]
fn improv_config_round_trips() {
    let mut config = ImprovWeights::default();
    config.phrase_breath.weight = 0.5;
    config.range_tessitura.params.low = 60;
    let text = config.to_toml_string().unwrap();
    assert!(
        text.contains("[phrase_breath]") && text.contains("weight = 0.5"),
        "{text}"
    );
    assert_eq!(ImprovWeights::from_toml_str(&text).unwrap(), config);
    // Any serde format works, e.g. JSON.
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(
        serde_json::from_str::<ImprovWeights>(&json).unwrap(),
        config
    );
}

#[test]
fn improv_config_errors_name_the_field() {
    let err = |text: &str| ImprovWeights::from_toml_str(text).unwrap_err().to_string();
    let e = err("[chord_tone_on_strong_beat]\nstrong_rewrd = 1.0\n");
    eprintln!("{e}");
    assert!(e.contains("strong_rewrd"), "{e}");
    let e = err("[chord_tones]\nweight = 1.0\n");
    assert!(e.contains("chord_tones"), "{e}");
    let e = err("[contour]\nmax_run_notes = \"five\"\n");
    assert!(e.contains("max_run_notes"), "{e}");
    let e = err("[contour]\nweight = 1.0\nweight = 2.0\n");
    assert!(e.contains("weight"), "{e}");
    let e = err("[leap_recovery]\nrecovery_reward = nan\n");
    assert!(e.contains("leap_recovery.recovery_reward"), "{e}");
    let e = err("[phrase_breath]\nweight = inf\n");
    assert!(e.contains("phrase_breath.weight"), "{e}");
    let e = err("[range_tessitura]\nlow = 300\n");
    assert!(e.contains("low"), "{e}");
    let mut config = ImprovWeights::default();
    config.rhythmic_variety.weight = -1.0;
    let e = ImprovReward::new(&config).unwrap_err();
    assert!(
        matches!(e, ImprovError::InvalidParam { ref field, .. } if field == "rhythmic_variety.weight")
    );
}

#[test]
fn improv_weights_scale_and_switch_off_terms() {
    let setting = two_five_one(64);
    let melody = solo(&setting);
    let mut base = ImprovReward::preset();
    let (_, base_terms, _) = score(&mut base, &setting, &melody);
    let mut config = ImprovWeights::default();
    config.chord_scale.weight = 2.0;
    config.cadence.weight = 0.0;
    let mut weighted = ImprovReward::new(&config).unwrap();
    let (_, terms, _) = score(&mut weighted, &setting, &melody);
    assert!((terms[1] - 2.0 * base_terms[1]).abs() < 1e-9);
    assert_eq!(terms[9], 0.0);
    assert_eq!(terms[0], base_terms[0]);
}
