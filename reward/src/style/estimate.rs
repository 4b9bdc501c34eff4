//! Chords estimated from a melody alone, for corpora that come without harmony.
//!
//! Folk-tune MIDI files carry one line and no chords, yet a chord-conditioned model needs the
//! harmony under every note. [`estimate_chords`] guesses it the way a player harmonising a tune
//! by ear does: one chord per window (a bar, or half a bar in meters of four beats), chosen
//! among the key's diatonic triads and its dominant seventh as the chord whose tones cover the
//! most of what sounds in the window, with notes on beats counting double.
//!
//! Small preferences break near-ties, in this order of strength: keep the previous window's
//! chord (harmony changes less often than a tie suggests), prefer the primary triads I, V and
//! IV (the chords folk accompanists reach for first), prefer a triad to the seventh chord
//! unless the seventh sounds, and end on the tonic. A window with no notes keeps the previous
//! chord (the tonic at the start).

use cadenza_env::{ChordFrame, Event, Setting, HOLD, REST};

/// A candidate chord: root pitch class and tones as pitch-class bits.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    root: u8,
    tones: u16,
    /// Preference of the chord where the evidence ties (a share of the window's weight).
    prior: f64,
}

/// Penalty, per unit of weight, of a sounding pitch class outside the chord: most of a chord
/// tone's reward, so that a chord is chosen for what it covers and against what it clashes with.
const OUTSIDE_PENALTY: f64 = 0.6;
/// Bonus for keeping the previous window's chord (share of the window's weight).
const KEEP_BONUS: f64 = 0.12;
/// Bonus for the tonic chord in the last window (share of the window's weight).
const FINAL_TONIC_BONUS: f64 = 0.3;

/// The chord under every step of `melody`, estimated from its notes in the setting's key and
/// meter (the setting's own chords, if any, are ignored). The result has one frame per step
/// (`melody.len()` frames), each with the key's scale as its chord-scale, ready for
/// `Setting::chords`.
///
/// ```
/// use cadenza_env::{EventEncoding, Setting, HOLD};
/// use cadenza_reward::style::estimate_chords;
///
/// let setting = Setting { length: 32, chords: Vec::new(), ..Setting::rl_tuner() };
/// let ev = |p: u8| setting.encoding.event_of_pitch(p).unwrap();
/// // Bar 1 outlines C major (C E G E), bar 2 G major (G B D B): quarter notes.
/// let mut melody = Vec::new();
/// for p in [60, 64, 67, 64, 67, 71, 74, 71] {
///     melody.extend([ev(p), HOLD, HOLD, HOLD]);
/// }
/// let chords = estimate_chords(&setting, &melody);
/// assert_eq!(chords.len(), 32);
/// assert_eq!(chords[0].root, 0); // C
/// assert_eq!(chords[16].root, 7); // G
/// ```
pub fn estimate_chords(setting: &Setting, melody: &[Event]) -> Vec<ChordFrame> {
    let candidates = candidates(setting);
    let window = window_steps(setting);
    let tonic = candidates[0];
    let mut frames = Vec::with_capacity(melody.len());
    let mut previous = tonic;
    let mut index: u16 = 0;
    // The pitch sounding when each window starts (a note tied over the bar line counts).
    let mut sounding: Option<u8> = None;
    let mut start = 0;
    while start < melody.len() {
        let end = (start + window).min(melody.len());
        let mut weight = [0.0f64; 12];
        let mut now = sounding;
        for (offset, &event) in melody[start..end].iter().enumerate() {
            match event {
                REST => now = None,
                HOLD => {}
                _ => {
                    if let Some(pitch) = setting.encoding.pitch_of(event) {
                        now = Some(pitch);
                    }
                }
            }
            if let Some(pitch) = now {
                let step = start + offset;
                let on_beat = step % usize::from(setting.steps_per_beat.max(1)) == 0;
                weight[usize::from(pitch % 12)] += if on_beat { 2.0 } else { 1.0 };
            }
        }
        sounding = now;
        let total: f64 = weight.iter().sum();
        let last = end == melody.len();
        let chosen = if total == 0.0 {
            previous
        } else {
            *candidates
                .iter()
                .max_by(|a, b| {
                    let score = |c: &Candidate| {
                        let mut s = 0.0;
                        for (pc, w) in weight.iter().enumerate() {
                            if c.tones & (1 << pc) != 0 {
                                s += w;
                            } else {
                                s -= OUTSIDE_PENALTY * w;
                            }
                        }
                        s += total * c.prior;
                        if *c == previous {
                            s += total * KEEP_BONUS;
                        }
                        if last && c.root == tonic.root {
                            s += total * FINAL_TONIC_BONUS;
                        }
                        s
                    };
                    // Ties go to the earlier candidate (the list is in order of preference).
                    score(a)
                        .partial_cmp(&score(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then(std::cmp::Ordering::Greater)
                })
                .unwrap_or(&tonic)
        };
        if chosen != previous && start > 0 {
            index = index.wrapping_add(1);
        }
        previous = chosen;
        let frame = ChordFrame {
            index,
            root: chosen.root,
            tones: chosen.tones,
            scale: setting.scale | chosen.tones,
        };
        frames.extend(std::iter::repeat_n(frame, end - start));
        start = end;
    }
    frames
}

/// The major scale on C as pitch-class bits: what a setting without a scale is read in.
const MAJOR_SCALE_ON_C: u16 = 0b1010_1011_0101;

/// A 12-bit pitch-class mask moved up by `semitones`.
fn rotate_pcs(mask: u16, semitones: u8) -> u16 {
    let t = u32::from(semitones % 12);
    let mask = u32::from(mask & 0x0fff);
    (((mask << t) | (mask >> (12 - t))) & 0x0fff) as u16
}

/// Steps per harmonic window: half a bar in meters of four (or more, even) beats, else a bar.
fn window_steps(setting: &Setting) -> usize {
    let beats = usize::from(setting.beats_per_bar.max(1));
    let beat = usize::from(setting.steps_per_beat.max(1));
    if beats >= 4 && beats.is_multiple_of(2) {
        beat * beats / 2
    } else {
        beat * beats
    }
}

/// The key's diatonic triads (tones stacked in thirds within the scale), most preferred first,
/// and the dominant seventh. In a minor key whose scale has no leading tone, the dominant is
/// taken major with its seventh (the harmonic minor's V7), as folk and common-practice minor
/// tunes harmonise it.
fn candidates(setting: &Setting) -> Vec<Candidate> {
    let tonic = setting.tonic % 12;
    let scale = if setting.scale == 0 {
        rotate_pcs(MAJOR_SCALE_ON_C, tonic)
    } else {
        setting.scale
    };
    let degrees: Vec<u8> = (0..12u8)
        .map(|i| (tonic + i) % 12)
        .filter(|pc| scale & (1 << pc) != 0)
        .collect();
    let bits = |pcs: &[u8]| pcs.iter().fold(0u16, |acc, pc| acc | 1 << (pc % 12));
    let n = degrees.len();
    let mut out = Vec::new();
    if n < 5 {
        // Not a heptatonic-like scale: the tonic triad from its first, third and fifth degrees
        // is all there is to offer.
        let triad = bits(&[tonic, (tonic + 4) % 12, (tonic + 7) % 12]);
        out.push(Candidate {
            root: tonic,
            tones: triad,
            prior: 0.15,
        });
        return out;
    }
    // Primary chords first (I, V, IV), then the others.
    let order = [0usize, 4, 3, 5, 1, 2, 6];
    for &degree in order.iter().filter(|&&d| d < n) {
        let root = degrees[degree];
        let third = degrees[(degree + 2) % n];
        let fifth = degrees[(degree + 4) % n];
        let mut tones = bits(&[root, third, fifth]);
        let prior = match degree {
            0 => 0.15,
            4 => 0.1,
            3 => 0.08,
            _ => 0.0,
        };
        if degree == 4 {
            // The dominant is major even in minor (the raised leading tone).
            let major_third = (root + 4) % 12;
            tones = bits(&[root, major_third, fifth]);
        }
        out.push(Candidate { root, tones, prior });
        if degree == 4 {
            out.push(Candidate {
                root,
                tones: tones | 1 << ((root + 10) % 12),
                prior: 0.04,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::EventEncoding;

    fn setting(tonic: u8, scale: u16, len: usize) -> Setting {
        Setting {
            encoding: EventEncoding::new(24, 108).unwrap(),
            length: len,
            steps_per_beat: 4,
            beats_per_bar: 4,
            tonic,
            scale,
            chords: Vec::new(),
            call_steps: 0,
        }
    }

    const C_MAJOR: u16 = MAJOR_SCALE_ON_C;

    fn quarters(setting: &Setting, pitches: &[u8]) -> Vec<Event> {
        let mut melody = Vec::new();
        for &p in pitches {
            let ev = setting.encoding.event_of_pitch(p).unwrap();
            melody.extend([ev, HOLD, HOLD, HOLD]);
        }
        melody
    }

    #[test]
    fn arpeggios_give_their_chords() {
        // I | IV | V7 | I, two quarter notes per half bar.
        let s = setting(0, C_MAJOR, 64);
        let melody = quarters(
            &s,
            &[
                60, 64, 67, 72, 65, 69, 72, 69, 67, 71, 74, 65, 72, 67, 64, 60,
            ],
        );
        let chords = estimate_chords(&s, &melody);
        let roots: Vec<u8> = chords.iter().step_by(8).map(|c| c.root).collect();
        assert_eq!(roots, [0, 0, 5, 5, 7, 7, 0, 0]);
        // The seventh sounds in the V bar, so the estimate takes V7 there.
        assert_eq!(chords[40].tones, 0b0000_1000_1010_0000 | 1 << 2);
        // The chord index changes exactly where the chord does (V to V7 is a change).
        let indices: Vec<u16> = chords.iter().step_by(8).map(|c| c.index).collect();
        assert_eq!(indices, [0, 0, 1, 1, 2, 3, 4, 4]);
    }

    #[test]
    fn a_minor_tune_gets_a_major_dominant() {
        // A natural minor (the C major scale from A): E G# B over the dominant.
        let s = setting(9, C_MAJOR, 32);
        let melody = quarters(&s, &[57, 60, 64, 60, 64, 68, 71, 68]);
        let chords = estimate_chords(&s, &melody);
        assert_eq!(chords[0].root, 9);
        assert_eq!(chords[16].root, 4);
        assert_ne!(chords[16].tones & 1 << 8, 0, "G# in the dominant");
    }

    #[test]
    fn silence_and_empty_melodies_stay_on_the_tonic() {
        let s = setting(2, rotate_pcs(C_MAJOR, 2), 0);
        assert!(estimate_chords(&s, &[]).is_empty());
        let s = setting(2, rotate_pcs(C_MAJOR, 2), 40);
        let chords = estimate_chords(&s, &[REST; 40]);
        assert_eq!(chords.len(), 40);
        assert!(chords.iter().all(|c| c.root == 2 && c.index == 0));
    }

    #[test]
    fn events_outside_the_encoding_do_not_panic() {
        let s = setting(0, C_MAJOR, 8);
        let chords = estimate_chords(&s, &[255, 3, HOLD, REST, 200, 1, 1, 1]);
        assert_eq!(chords.len(), 8);
    }
}
