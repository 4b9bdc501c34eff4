//! Calibration of the terms that keep an optimizer from gaming the `improv` preset
//! (`pitch_variety`, `fast_runs`): real tunes from the in-repository corpus barely pay them,
//! the degenerate optima (a trill, a one-note drone, a wall of sixteenths) pay on most notes.
//!
//! Measured on the evaluation half of the held-out corpus (see `common`); run with
//! `--nocapture` to print the figures.

use cadenza_env::{Event, Reward, Setting, HOLD};
use cadenza_reward::improv::{FastRuns, PitchVariety};
use cadenza_reward::score::score_melody;

mod common;
use common::{held_out, tune};

/// A term's charge per note over a melody (its negated total over the number of notes).
fn penalty_per_note<R: Reward>(term: &mut R, setting: &Setting, melody: &[Event]) -> f64 {
    let total = score_melody(term, setting, melody).total;
    let notes = melody
        .iter()
        .filter(|&&e| setting.encoding.pitch_of(e).is_some())
        .count();
    -total / notes.max(1) as f64
}

/// Share of the intervals between onsets that are one step long.
fn one_step_share(setting: &Setting, melody: &[Event]) -> (usize, usize) {
    let onsets: Vec<usize> = (0..melody.len())
        .filter(|&i| setting.encoding.pitch_of(melody[i]).is_some())
        .collect();
    let fast = onsets.windows(2).filter(|w| w[1] - w[0] == 1).count();
    (fast, onsets.len().saturating_sub(1))
}

fn degenerate(setting: &Setting) -> Vec<(&'static str, Vec<Event>)> {
    let event = |pitch: u8| setting.encoding.event_of_pitch(pitch).unwrap();
    let trill: Vec<Event> = [72u8, 71, 72, 74]
        .iter()
        .cycle()
        .take(64)
        .map(|&p| event(p))
        .collect();
    let drone: Vec<Event> = (0..64)
        .map(|i| if i % 2 == 0 { event(72) } else { HOLD })
        .collect();
    let scale = [60u8, 62, 64, 65, 67, 69, 71, 72];
    let run: Vec<Event> = scale
        .iter()
        .chain(scale.iter().rev())
        .cycle()
        .take(64)
        .map(|&p| event(p))
        .collect();
    vec![
        ("trill C5 B4 C5 D5 in sixteenths", trill),
        ("one-note drone in eighths", drone),
        ("scale run in sixteenths", run),
    ]
}

#[test]
fn real_tunes_barely_pay_and_degenerate_optima_pay_on_most_notes() {
    let (_, evaluation) = held_out();
    let (mut variety, mut fast) = (0.0, 0.0);
    let (mut one_step, mut intervals) = (0, 0);
    for path in &evaluation {
        let (setting, melody) = tune(path, 64);
        variety += penalty_per_note(&mut PitchVariety::default(), &setting, &melody);
        fast += penalty_per_note(&mut FastRuns::default(), &setting, &melody);
        let (f, n) = one_step_share(&setting, &melody);
        one_step += f;
        intervals += n;
    }
    let n = evaluation.len() as f64;
    let (variety, fast) = (variety / n, fast / n);
    let share = one_step as f64 / intervals as f64;
    println!(
        "corpus (evaluation, {} tunes): pitch_variety {variety:.3} per note, fast_runs {fast:.3} \
         per note; {:.1}% of intervals between onsets are one step",
        evaluation.len(),
        100.0 * share
    );
    assert!(variety < 0.1, "{variety}");
    // fast_runs charges 2 a note: under 0.15 a note is one corpus note in thirteen.
    assert!(fast < 0.15, "{fast}");

    let setting = Setting::rl_tuner();
    let setting = Setting {
        encoding: cadenza_env::EventEncoding::new(48, 84).unwrap(),
        length: 64,
        ..setting
    };
    for (name, melody) in degenerate(&setting) {
        let variety = penalty_per_note(&mut PitchVariety::default(), &setting, &melody);
        let fast = penalty_per_note(&mut FastRuns::default(), &setting, &melody);
        println!("{name}: pitch_variety {variety:.3} per note, fast_runs {fast:.3} per note");
        // Each degenerate optimum pays at least half a point per note on one of the terms:
        // more than the chord-scale and resolution terms pay a note.
        assert!(variety.max(fast) >= 0.5, "{name}: {variety} {fast}");
    }
}
