//! Each improvisation term on hand-made melodies where it should fire, or stay silent.

use cadenza_env::{ChordFrame, EventEncoding, Reward, Setting, StepContext, HOLD, REST};
use cadenza_reward::improv::*;

const EPS: f64 = 1e-9;

fn mask(pitch_classes: &[u8]) -> u16 {
    pitch_classes.iter().fold(0, |m, &pc| m | 1 << pc)
}

fn c_major() -> u16 {
    mask(&[0, 2, 4, 5, 7, 9, 11])
}

fn chord(index: u16, root: u8, tones: &[u8], scale: u16) -> ChordFrame {
    ChordFrame {
        index,
        root,
        tones: mask(tones),
        scale,
    }
}

fn g7() -> ChordFrame {
    chord(1, 7, &[7, 11, 2, 5], c_major())
}

fn cmaj7() -> ChordFrame {
    chord(2, 0, &[0, 4, 7, 11], c_major() & !mask(&[5]))
}

fn dm7() -> ChordFrame {
    chord(0, 2, &[2, 5, 9, 0], c_major())
}

/// C major, 4/4 in sixteenths, `length` steps, one chord throughout (or none).
fn setting(length: usize, chord: Option<ChordFrame>) -> Setting {
    Setting {
        encoding: EventEncoding::RL_TUNER_38,
        length,
        steps_per_beat: 4,
        beats_per_bar: 4,
        tonic: 0,
        scale: c_major(),
        chords: chord.map(|c| vec![c; length]).unwrap_or_default(),
        call_steps: 0,
    }
}

fn ev(pitch: u8) -> u8 {
    EventEncoding::RL_TUNER_38.event_of_pitch(pitch).unwrap()
}

/// Events from (pitch, steps) pairs; pitch 0 is a rest.
fn seq(notes: &[(u8, usize)]) -> Vec<u8> {
    let mut events = Vec::new();
    for &(pitch, steps) in notes {
        events.push(if pitch == 0 { REST } else { ev(pitch) });
        events.extend(std::iter::repeat_n(HOLD, steps - 1));
    }
    events
}

/// Per-step values of a one-term reward over a melody.
fn run<R: Reward>(reward: &mut R, setting: &Setting, melody: &[u8]) -> Vec<f64> {
    assert_eq!(reward.term_names().len(), 1);
    reward.reset(setting);
    let mut terms = [0.0];
    (0..melody.len())
        .map(|step| {
            let ctx = StepContext {
                setting,
                step,
                history: &melody[..step],
                action: melody[step],
            };
            let total = reward.step(&ctx, &mut terms);
            assert_eq!(total, terms[0]);
            total
        })
        .collect()
}

/// Asserts the values are zero except at the listed steps.
fn assert_values(values: &[f64], expected: &[(usize, f64)]) {
    for (step, &value) in values.iter().enumerate() {
        let want = expected
            .iter()
            .find(|(s, _)| *s == step)
            .map_or(0.0, |&(_, v)| v);
        assert!(
            (value - want).abs() < EPS,
            "step {step}: got {value}, expected {want}; all: {values:?}"
        );
    }
}

// ---------------------------------------------------------------- chord_tone_on_strong_beat

#[test]
fn improv_chord_tone_rewards_chord_tones_on_strong_beats() {
    let s = setting(32, Some(g7()));
    let mut term = ChordToneOnStrongBeat::default();
    assert_eq!(term.term_names(), vec!["chord_tone_on_strong_beat"]);
    // B on beat 1 (+1), C on beat 2 (0), A on beat 3 (-0.5), D on beat 4 (0),
    // F held from the last sixteenth of bar 1 into beat 1 of bar 2 (not attacked there: 0),
    // then G on beat 3 of bar 2 (+1).
    let melody = seq(&[(71, 4), (72, 4), (69, 4), (74, 3), (77, 9), (67, 8)]);
    assert_values(
        &run(&mut term, &s, &melody),
        &[(0, 1.0), (8, -0.5), (24, 1.0)],
    );
}

#[test]
fn improv_chord_tone_without_progression_uses_tonic_triad() {
    let mut term = ChordToneOnStrongBeat::default();
    // C major: E on beat 1 is in the tonic triad, D on beat 3 is not.
    let s = setting(16, None);
    assert_values(
        &run(&mut term, &s, &seq(&[(64, 8), (62, 8)])),
        &[(0, 1.0), (8, -0.5)],
    );
    // A minor (same key signature): the triad is A C E, so C is a chord tone and C# is not.
    let mut minor = setting(16, None);
    minor.tonic = 9;
    assert_values(
        &run(&mut term, &minor, &seq(&[(72, 8), (73, 8)])),
        &[(0, 1.0), (8, -0.5)],
    );
}

#[test]
fn improv_chord_tone_mid_bar_and_meter() {
    let s = setting(16, Some(g7()));
    let mut no_mid = ChordToneOnStrongBeat::new(ChordToneOnStrongBeatParams {
        mid_bar: false,
        ..Default::default()
    })
    .unwrap();
    assert_values(
        &run(&mut no_mid, &s, &seq(&[(71, 8), (69, 8)])),
        &[(0, 1.0)],
    );
    // In 3/4 only the downbeat is strong.
    let mut waltz = setting(24, Some(g7()));
    waltz.beats_per_bar = 3;
    let mut term = ChordToneOnStrongBeat::default();
    assert_values(
        &run(
            &mut term,
            &waltz,
            &seq(&[(71, 4), (72, 4), (69, 4), (74, 12)]),
        ),
        &[(0, 1.0), (12, 1.0)],
    );
}

// ---------------------------------------------------------------- chord_scale

#[test]
fn improv_chord_scale_membership() {
    let mut term = ChordScaleMembership::default();
    assert_eq!(term.term_names(), vec!["chord_scale"]);
    // Over G7 (G mixolydian): A is a ninth (+0.2), C# is outside everything (-1).
    let s = setting(8, Some(g7()));
    assert_values(
        &run(&mut term, &s, &seq(&[(69, 2), (0, 2), (73, 4)])),
        &[(0, 0.2), (4, -1.0)],
    );
    // Over Cmaj7 the avoid note F is in the key but not the chord-scale: 0. E: +0.2.
    let s = setting(8, Some(cmaj7()));
    assert_values(&run(&mut term, &s, &seq(&[(65, 4), (64, 4)])), &[(4, 0.2)]);
    // Without chords the key scale is the chord-scale.
    let s = setting(8, None);
    assert_values(
        &run(&mut term, &s, &seq(&[(65, 4), (70, 4)])),
        &[(0, 0.2), (4, -1.0)],
    );
}

#[test]
fn improv_chord_scale_follows_the_changes() {
    // Bb is outside C major and outside Dm7's dorian scale, but inside a C7 chord-scale
    // (C mixolydian): +0.2 there.
    let c7 = chord(3, 0, &[0, 4, 7, 10], mask(&[0, 2, 4, 5, 7, 9, 10]));
    let mut s = setting(8, None);
    s.chords = [vec![dm7(); 4], vec![c7; 4]].concat();
    let mut term = ChordScaleMembership::default();
    assert_values(
        &run(&mut term, &s, &seq(&[(70, 4), (70, 4)])),
        &[(0, -1.0), (4, 0.2)],
    );
}

// ---------------------------------------------------------------- non_chord_tone_resolution

#[test]
fn improv_resolution_passing_and_neighbour_tones() {
    let s = setting(16, Some(cmaj7()));
    let mut term = NonChordToneResolution::default();
    assert_eq!(term.term_names(), vec!["non_chord_tone_resolution"]);
    // E F G: F is judged when G arrives (+0.5).
    assert_values(
        &run(&mut term, &s, &seq(&[(64, 4), (65, 4), (67, 8)])),
        &[(8, 0.5)],
    );
    // E F E: neighbour tone.
    assert_values(
        &run(&mut term, &s, &seq(&[(64, 4), (65, 4), (64, 8)])),
        &[(8, 0.5)],
    );
    // A repeated F postpones the judgement, a rest does not cancel it.
    assert_values(
        &run(
            &mut term,
            &s,
            &seq(&[(64, 2), (65, 2), (65, 2), (0, 2), (67, 8)]),
        ),
        &[(8, 0.5)],
    );
}

#[test]
fn improv_resolution_chromatic_approach_and_unresolved() {
    // C# a half step below D over Dm7, approached by leap from A: resolved (+0.5).
    let s = setting(12, Some(dm7()));
    let mut term = NonChordToneResolution::default();
    assert_values(
        &run(&mut term, &s, &seq(&[(69, 4), (61, 4), (62, 4)])),
        &[(8, 0.5)],
    );
    // G over Dm7 is itself a non-chord tone, and leaping from it into C# leaves it
    // unresolved (-1), before C# resolves (+0.5).
    assert_values(
        &run(&mut term, &s, &seq(&[(67, 4), (61, 4), (62, 4)])),
        &[(4, -1.0), (8, 0.5)],
    );
    // Over Cmaj7, B F# C: F# leapt into and out of (-1 when C arrives).
    let s = setting(12, Some(cmaj7()));
    assert_values(
        &run(&mut term, &s, &seq(&[(71, 4), (66, 4), (72, 4)])),
        &[(8, -1.0)],
    );
    // Escape tone: C D A — approached by step, left by leap: tolerated (0).
    assert_values(&run(&mut term, &s, &seq(&[(60, 4), (62, 4), (69, 4)])), &[]);
    // Chord tones are never judged, however they leap.
    assert_values(&run(&mut term, &s, &seq(&[(60, 4), (79, 4), (64, 4)])), &[]);
}

#[test]
fn improv_resolution_chromatic_notes_must_move_by_half_step() {
    // Over Cmaj7, E F# G#: F# is outside the key and the chord, and a whole step on to
    // another chromatic note leaves it hanging, though it was approached by step (-1).
    let s = setting(12, Some(cmaj7()));
    let mut term = NonChordToneResolution::default();
    assert_values(
        &run(&mut term, &s, &seq(&[(64, 4), (66, 4), (68, 4)])),
        &[(8, -1.0)],
    );
    // E F# G: the same F# rising a half step into the chord tone G resolves (+0.5).
    assert_values(
        &run(&mut term, &s, &seq(&[(64, 4), (66, 4), (67, 4)])),
        &[(8, 0.5)],
    );
    // F is an avoid note of Cmaj7's chord-scale but diatonic to the key: E F G is still an
    // ordinary passing tone (+0.5), not a chromatic one.
    assert_values(
        &run(&mut term, &s, &seq(&[(64, 4), (65, 4), (67, 4)])),
        &[(8, 0.5)],
    );
    // Without a progression (the tonic triad), C C# D: C# moves a half step into the scale
    // note D, the line going on: 0; D then passes into E (+0.5).
    let s = setting(16, None);
    assert_values(
        &run(&mut term, &s, &seq(&[(60, 4), (61, 4), (62, 4), (64, 4)])),
        &[(12, 0.5)],
    );
}

// ---------------------------------------------------------------- leap_recovery

#[test]
fn improv_leap_recovery() {
    let s = setting(16, None);
    let mut term = LeapRecovery::default();
    assert_eq!(term.term_names(), vec!["leap_recovery"]);
    // Every leap is charged -1 where it is made (step 4 below), so a recovered leap nets
    // -0.25 and an unrecovered one -1: leaping does not pay, recovering softens it.
    // C4 up a sixth to A4, then a step back to G4: +0.75.
    assert_values(
        &run(&mut term, &s, &seq(&[(60, 4), (69, 4), (67, 8)])),
        &[(4, -1.0), (8, 0.75)],
    );
    // ... or on up to D5: -1 more.
    assert_values(
        &run(&mut term, &s, &seq(&[(60, 4), (69, 4), (74, 8)])),
        &[(4, -1.0), (8, -1.0)],
    );
    // ... or a fourth back down: 0 (the gap stays open, the charge stays).
    assert_values(
        &run(&mut term, &s, &seq(&[(60, 4), (69, 4), (64, 8)])),
        &[(4, -1.0)],
    );
    // A repeated A postpones the judgement; a rest does not break it.
    assert_values(
        &run(
            &mut term,
            &s,
            &seq(&[(60, 4), (69, 4), (69, 2), (0, 2), (67, 4)]),
        ),
        &[(4, -1.0), (12, 0.75)],
    );
    // A fourth is not a leap that needs recovery.
    assert_values(&run(&mut term, &s, &seq(&[(60, 4), (65, 4), (69, 8)])), &[]);
    // Downward leaps too: G5 down to A4, then up a step to B4.
    assert_values(
        &run(&mut term, &s, &seq(&[(79, 4), (69, 4), (71, 8)])),
        &[(4, -1.0), (8, 0.75)],
    );
    // A wild note leaps in and out: two charges, and the leap out goes unrecovered when the
    // line carries on the same way (E F [B5] G F).
    assert_values(
        &run(
            &mut term,
            &s,
            &seq(&[(64, 2), (65, 2), (83, 2), (67, 2), (65, 8)]),
        ),
        &[(4, -1.0), (6, -1.0)],
    );
}

// ---------------------------------------------------------------- range_tessitura

#[test]
fn improv_range_and_tessitura() {
    let s = setting(16, None);
    let mut term = RangeTessitura::new(RangeTessituraParams {
        tessitura_notes: 1, // the centre is the last note: easy to reason about
        ..Default::default()
    })
    .unwrap();
    assert_eq!(term.term_names(), vec!["range_tessitura"]);
    // First note C3 (48): 7 semitones below G3 (-1.7), and 20 from the initial centre
    // (68, the middle of G3..=A5): 11 semitones beyond the tolerated 9 (-11/12).
    let values = run(&mut term, &s, &seq(&[(48, 16)]));
    assert!((values[0] - (-1.7 - 11.0 / 12.0)).abs() < EPS, "{values:?}");
    // Around C5 then a sudden C4: 12 semitones from the centre, 3 beyond (-0.25); then D4
    // is 2 from the new centre (0).
    let values = run(&mut term, &s, &seq(&[(72, 4), (60, 4), (62, 8)]));
    assert_values(&values, &[(4, -0.25)]);
    assert_eq!(term.centre(), 62.0);
}

#[test]
fn improv_range_stays_quiet_in_register() {
    let s = setting(32, None);
    let mut term = RangeTessitura::default();
    let melody = seq(&[
        (64, 4),
        (67, 4),
        (69, 4),
        (72, 4),
        (71, 4),
        (67, 4),
        (65, 4),
        (64, 4),
    ]);
    assert_values(&run(&mut term, &s, &melody), &[]);
    // The running centre follows the melody.
    assert!((60.0..72.0).contains(&term.centre()), "{}", term.centre());
}

// ---------------------------------------------------------------- contour

#[test]
fn improv_contour_penalises_long_runs() {
    let s = setting(64, None);
    let mut term = Contour::default();
    assert_eq!(term.term_names(), vec!["contour"]);
    // C D E F G A B: the 6th and 7th notes extend a run beyond 5 notes.
    let melody = seq(&[
        (60, 2),
        (62, 2),
        (64, 2),
        (65, 2),
        (67, 2),
        (69, 2),
        (71, 2),
        (0, 2),
    ]);
    let values = run(&mut term, &setting(16, None), &melody);
    assert_values(&values, &[(10, -0.3), (12, -0.3)]);
    // A repeated note neither extends nor breaks a run; a turn starts a new one. (The
    // phrase's high point F is inside it: +1 at the rest.)
    let melody = seq(&[
        (60, 2),
        (62, 2),
        (62, 2),
        (64, 2),
        (65, 2),
        (64, 2),
        (62, 2),
        (0, 50),
    ]);
    assert_values(&run(&mut term, &s, &melody), &[(14, 1.0)]);
}

#[test]
fn improv_contour_penalises_static_runs() {
    let s = setting(32, None);
    let mut term = Contour::default();
    // Three Cs in a row are a repeated note, fine; the fourth and fifth make the line static
    // (-0.3 each), and a rest between them does not reset the count.
    let melody = seq(&[
        (60, 2),
        (60, 2),
        (60, 2),
        (60, 2),
        (0, 2),
        (60, 2),
        (62, 20),
    ]);
    assert_values(&run(&mut term, &s, &melody), &[(6, -0.3), (10, -0.3)]);
}

#[test]
fn improv_contour_rewards_inner_high_points() {
    let s = setting(32, None);
    let mut term = Contour::default();
    // E G C5 A G, rest: the peak is inside: +1 at the rest.
    let arch = seq(&[(64, 2), (67, 2), (72, 2), (69, 2), (67, 2), (0, 22)]);
    assert_values(&run(&mut term, &s, &arch), &[(10, 1.0)]);
    // C D E G, rest: the peak is the last note: 0.
    let rising = seq(&[(60, 2), (62, 2), (64, 2), (67, 2), (0, 24)]);
    assert_values(&run(&mut term, &s, &rising), &[]);
    // Too short a phrase: 0.
    let short = seq(&[(60, 2), (67, 2), (64, 2), (0, 26)]);
    assert_values(&run(&mut term, &s, &short), &[]);
    // The melody's last step closes an open phrase.
    let open = seq(&[(64, 8), (67, 8), (72, 8), (67, 8)]);
    assert_values(&run(&mut term, &s, &open), &[(31, 1.0)]);
}

// ---------------------------------------------------------------- rhythmic_variety

#[test]
fn improv_rhythm_penalises_all_same_rhythm() {
    let s = setting(32, None);
    let mut term = RhythmicVariety::default();
    assert_eq!(term.term_names(), vec!["rhythmic_variety"]);
    // Sixteen straight eighths: from the 9th attack (8 intervals known) on, -0.5 each.
    let eighths: Vec<(u8, usize)> = (0..16).map(|i| (60 + (i % 5) as u8, 2)).collect();
    let values = run(&mut term, &s, &seq(&eighths));
    let expected: Vec<(usize, f64)> = (8..16).map(|i| (2 * i, -0.5)).collect();
    assert_values(&values, &expected);
}

#[test]
fn improv_rhythm_rewards_mixed_lengths() {
    let s = setting(64, None);
    let mut term = RhythmicVariety::new(RhythmicVarietyParams {
        syncopation_reward: 0.0, // the dotted rhythm below syncopates: judge variety alone
        ..Default::default()
    })
    .unwrap();
    // Quarter, eighth, eighth: two distinct lengths, +0.1 per attack once the window fills.
    let pattern: Vec<(u8, usize)> = (0..12)
        .map(|i| (60 + (i % 3) as u8, [4, 2, 2][i % 3]))
        .collect();
    let values = run(&mut term, &s, &seq(&pattern));
    assert!(values.iter().all(|&v| v >= 0.0), "{values:?}");
    assert!((values.iter().copied().fold(0.0, f64::max) - 0.1).abs() < EPS);
    // Dotted eighth, sixteenth, eighth: three lengths, the full +0.2.
    let pattern: Vec<(u8, usize)> = (0..15)
        .map(|i| (60 + (i % 3) as u8, [3, 1, 2][i % 3]))
        .collect();
    let values = run(&mut term, &s, &seq(&pattern));
    assert!(
        (values.iter().copied().fold(0.0, f64::max) - 0.2).abs() < EPS,
        "{values:?}"
    );
    assert!(values.iter().all(|&v| v >= 0.0));
}

#[test]
fn improv_rhythm_rewards_occasional_syncopation() {
    let s = setting(64, None);
    let mut term = RhythmicVariety::new(RhythmicVarietyParams {
        window_notes: 32, // keep the variety part quiet
        ..Default::default()
    })
    .unwrap();
    // An eighth on the "and" of beat 1 (step 2) held over beat 2 (step 4): +0.5 at step 4.
    // The same again a beat later (step 8) is too soon; the third, 4 beats later (20), pays.
    let melody = seq(&[
        (60, 2),
        (62, 4), // 2..6: crosses step 4
        (64, 4), // 6..10: crosses step 8
        (65, 12),
        (67, 4), // 22..26: crosses step 24 (4 beats after 4 + 4)
        (0, 38),
    ]);
    assert_values(&run(&mut term, &s, &melody), &[(4, 0.5), (24, 0.5)]);
    // Notes attacked on the beat and held are not syncopations.
    let plain = seq(&[(60, 8), (62, 8), (0, 48)]);
    assert_values(&run(&mut term, &s, &plain), &[]);
}

// ---------------------------------------------------------------- phrase_breath

#[test]
fn improv_phrase_rewards_breaths_at_phrase_ends() {
    let s = setting(64, None);
    let mut term = PhraseBreath::default();
    assert_eq!(term.term_names(), vec!["phrase_breath"]);
    // Play to beat 4 of bar 2, breathe (step 28, a beat before the boundary at 32): +1.
    // A second rest near the same boundary earns nothing more; the next phrase ends with a
    // breath right on the end of bar 4 (step 64 is past the melody, 60 is a beat before).
    let melody = seq(&[
        (60, 16),
        (64, 12),
        (0, 2),
        (67, 1),
        (0, 1),
        (65, 28),
        (0, 4),
    ]);
    let values = run(&mut term, &s, &melody);
    // The sixteenth at 30 is a fragment (-0.5), its rest at 31 is the second near 32.
    assert_values(&values, &[(28, 1.0), (31, -0.5), (60, 1.0)]);
}

#[test]
fn improv_phrase_counts_lengthened_phrase_ends_as_breaths() {
    let s = setting(48, None);
    let mut term = PhraseBreath::default();
    // Eighths to beat 3 of bar 2, then a half note released by the next note on the
    // boundary at step 32: the lengthened last note is a breath (+1).
    let mut notes: Vec<(u8, usize)> = (0..12).map(|i| (60 + (i % 5) as u8, 2)).collect();
    notes.extend([(67, 8), (64, 16)]);
    assert_values(&run(&mut term, &s, &seq(&notes)), &[(32, 1.0)]);
    // The same pitches all in eighths: no note is lengthened, no breath.
    let even: Vec<(u8, usize)> = (0..24).map(|i| (60 + (i % 5) as u8, 2)).collect();
    assert_values(&run(&mut term, &s, &seq(&even)), &[]);
    // A long note far from a boundary is no breath either (released at step 20).
    let mut early: Vec<(u8, usize)> = (0..6).map(|i| (60 + i as u8, 2)).collect();
    early.extend([(67, 8), (64, 28)]);
    assert_values(&run(&mut term, &s, &seq(&early)), &[]);
    // With held_ratio 0 only rests are breaths.
    let mut rests_only = PhraseBreath::new(PhraseBreathParams {
        held_ratio: 0,
        ..PhraseBreathParams::default()
    })
    .unwrap();
    assert_values(&run(&mut rests_only, &s, &seq(&notes)), &[]);
}

#[test]
fn improv_phrase_penalises_long_stretches_and_fragments() {
    let s = setting(96, None);
    let mut term = PhraseBreath::default();
    // 80 steps of sound without a rest: after 4 bars (64 steps) each beat costs 0.25.
    let notes: Vec<(u8, usize)> = (0..20).map(|i| (60 + (i % 7) as u8, 4)).collect();
    let mut melody = seq(&notes);
    melody.extend(seq(&[(0, 16)]));
    let values = run(&mut term, &s, &melody);
    let expected: Vec<(usize, f64)> = vec![(64, -0.25), (68, -0.25), (72, -0.25), (76, -0.25)];
    // The rest at 80 is far from a boundary (64, 128): no breath reward.
    assert_values(&values, &expected);
    // A rest every two sixteenths fragments the line.
    let s = setting(8, None);
    let choppy = seq(&[(60, 2), (0, 2), (62, 2), (0, 2)]);
    assert_values(&run(&mut term, &s, &choppy), &[(2, -0.5), (6, -0.5)]);
}

// ---------------------------------------------------------------- motif_development

/// C D E C in quarter, eighth, eighth, quarter; then four notes of `second` in the same
/// rhythm; then a long rest.
fn motif_pair(second: [u8; 4]) -> Vec<u8> {
    let rhythm = [4, 2, 2, 4];
    let mut notes: Vec<(u8, usize)> = [60, 62, 64, 60].into_iter().zip(rhythm).collect();
    notes.extend(second.into_iter().zip(rhythm));
    notes.push((0, 8));
    seq(&notes)
}

#[test]
fn improv_motif_exact_transposed_rhythmic() {
    let s = setting(32, None);
    let mut term = MotifDevelopment::default();
    assert_eq!(term.term_names(), vec!["motif_development"]);
    // The second motif's last note is attacked at step 20.
    assert_values(
        &run(&mut term, &s, &motif_pair([60, 62, 64, 60])),
        &[(20, 1.0)],
    );
    assert_values(
        &run(&mut term, &s, &motif_pair([67, 69, 71, 67])),
        &[(20, 0.75)],
    );
    assert_values(
        &run(&mut term, &s, &motif_pair([64, 62, 60, 55])),
        &[(20, 0.5)],
    );
    // Other rhythm and other intervals: nothing.
    let other = seq(&[
        (60, 4),
        (62, 2),
        (64, 2),
        (60, 4),
        (65, 2),
        (64, 2),
        (60, 4),
        (67, 4),
        (0, 8),
    ]);
    assert_values(&run(&mut term, &s, &other), &[]);
}

#[test]
fn improv_motif_ignores_trivial_repetition() {
    let s = setting(32, None);
    let mut term = MotifDevelopment::default();
    // One pitch in straight eighths: no pitch content, no rhythmic profile.
    assert_values(&run(&mut term, &s, &seq(&[(60, 2); 16])), &[]);
    // One pitch in a varied rhythm still has no intervals to restate, and its rhythm
    // repeats, but a rhythm-only match needs different intervals.
    let pattern: Vec<(u8, usize)> = (0..8).map(|i| (60, [4, 2, 2, 4][i % 4])).collect();
    assert_values(&run(&mut term, &s, &seq(&pattern)), &[]);
}

#[test]
fn improv_motif_copying_forever_is_capped() {
    let length = 1024;
    let s = setting(length, None);
    let mut term = MotifDevelopment::default();
    let rhythm = [4, 2, 2, 4];
    let mut notes = Vec::new();
    while notes.iter().map(|&(_, d)| d).sum::<usize>() + 12 <= length {
        notes.extend([60u8, 62, 64, 60].into_iter().zip(rhythm));
    }
    let mut melody = seq(&notes);
    melody.resize(length, HOLD);
    let values = run(&mut term, &s, &melody);
    // Diminishing returns: 1, then 0.5, then 0.25 ...
    let paid: Vec<f64> = values.iter().copied().filter(|&v| v > 0.0).collect();
    assert_eq!(&paid[..3], &[1.0, 0.5, 0.25]);
    // ... and never more than 3 rewards in any 4-bar window.
    for start in 0..length - 64 {
        let n = values[start..start + 64]
            .iter()
            .filter(|&&v| v > 0.0)
            .count();
        assert!(n <= 3, "{n} rewards in steps {start}..{}", start + 64);
    }
    // Copying pays a small fraction of a reward per note.
    let total: f64 = values.iter().sum();
    assert!(total < 0.3 * notes.len() as f64, "{total}");
    assert!(term.remembered_notes() <= MOTIF_MEMORY);
}

// ---------------------------------------------------------------- cadence

#[test]
fn improv_cadence_rewards_stable_held_endings() {
    let s = setting(32, Some(cmaj7()));
    let mut term = Cadence::default();
    assert_eq!(term.term_names(), vec!["cadence"]);
    let ending = |last: u8, steps: usize| {
        let mut notes = vec![(67u8, 8usize), (65, 8)];
        notes.push((last, 16 - steps));
        notes.push((last, steps));
        seq(&notes)
    };
    // Tonic held a half note: 2 + 1 on the last step only.
    assert_values(&run(&mut term, &s, &ending(72, 8)), &[(31, 3.0)]);
    // A chord tone held: 1 + 1.
    assert_values(&run(&mut term, &s, &ending(64, 8)), &[(31, 2.0)]);
    // The tonic clipped to an eighth: 2.
    assert_values(&run(&mut term, &s, &ending(60, 2)), &[(31, 2.0)]);
    // Ending on the avoid note F: -1.
    assert_values(&run(&mut term, &s, &ending(65, 8)), &[(31, -1.0)]);
    // A tonic released by a rest still counts, with the length it sounded.
    let released = seq(&[(67, 8), (72, 8), (0, 16)]);
    assert_values(&run(&mut term, &s, &released), &[(31, 3.0)]);
    // No notes at all is no cadence.
    assert_values(&run(&mut term, &s, &[REST; 32]), &[(31, -1.0)]);
}

#[test]
fn improv_cadence_without_progression_uses_tonic_triad() {
    let s = setting(16, None);
    let mut term = Cadence::default();
    // G is in C's tonic triad: 1 + 1 held.
    assert_values(&run(&mut term, &s, &seq(&[(64, 8), (67, 8)])), &[(15, 2.0)]);
    // D is not.
    assert_values(
        &run(&mut term, &s, &seq(&[(64, 8), (62, 8)])),
        &[(15, -1.0)],
    );
}

// ---------------------------------------------------------------- parameters

#[test]
fn improv_params_reject_bad_values_naming_the_field() {
    let err = ChordToneOnStrongBeat::new(ChordToneOnStrongBeatParams {
        strong_reward: f64::NAN,
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("strong_reward"), "{err}");
    assert!(matches!(err, ImprovError::InvalidParam { .. }));

    let err = RangeTessitura::new(RangeTessituraParams {
        low: 80,
        high: 60,
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("`high`"), "{err}");
    assert!(err.to_string().contains("80..=127"), "{err}");

    let cases: Vec<Result<(), ImprovError>> = vec![
        ChordScaleMembershipParams {
            outside_penalty: f64::INFINITY,
            ..Default::default()
        }
        .validate(),
        NonChordToneResolutionParams {
            max_step: 0,
            ..Default::default()
        }
        .validate(),
        LeapRecoveryParams {
            recovery_reward: -1.0,
            ..Default::default()
        }
        .validate(),
        ContourParams {
            max_run_notes: 1,
            ..Default::default()
        }
        .validate(),
        RhythmicVarietyParams {
            window_notes: 33,
            ..Default::default()
        }
        .validate(),
        PhraseBreathParams {
            phrase_bars: 0,
            ..Default::default()
        }
        .validate(),
        MotifDevelopmentParams {
            repeat_decay: 1.5,
            ..Default::default()
        }
        .validate(),
        CadenceParams {
            hold_reward: f64::NEG_INFINITY,
            ..Default::default()
        }
        .validate(),
    ];
    let fields = [
        "outside_penalty",
        "max_step",
        "recovery_reward",
        "max_run_notes",
        "window_notes",
        "phrase_bars",
        "repeat_decay",
        "hold_reward",
    ];
    for (result, field) in cases.into_iter().zip(fields) {
        let err = result.unwrap_err().to_string();
        assert!(err.contains(field) && err.contains("expected"), "{err}");
    }
}

#[test]
fn improv_default_params_are_valid() {
    ChordToneOnStrongBeatParams::default().validate().unwrap();
    ChordScaleMembershipParams::default().validate().unwrap();
    NonChordToneResolutionParams::default().validate().unwrap();
    LeapRecoveryParams::default().validate().unwrap();
    RangeTessituraParams::default().validate().unwrap();
    ContourParams::default().validate().unwrap();
    RhythmicVarietyParams::default().validate().unwrap();
    PhraseBreathParams::default().validate().unwrap();
    MotifDevelopmentParams::default().validate().unwrap();
    CadenceParams::default().validate().unwrap();
}
