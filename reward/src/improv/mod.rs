//! Harmony-aware improvisation terms: the rewards of the `improv` task.
//!
//! An improviser plays over chord changes. These terms judge a melody the way a teacher would
//! listen to a solo: does it *make the changes* (land on chord tones where it matters, draw
//! from the right chord-scale, resolve its dissonances), is it a *good line* (recovers from
//! leaps, stays in register, has a shape), does it *breathe and swing* (varied rhythm,
//! syncopation, phrases with rests), does it *say something* (motifs restated and developed)
//! and does it *end* (a cadence)?
//!
//! | term | type | rewards | penalises |
//! |---|---|---|---|
//! | `chord_tone_on_strong_beat` | [`ChordToneOnStrongBeat`] | chord tones on beats 1 and 3 | non-chord tones there (mildly) |
//! | `chord_scale` | [`ChordScaleMembership`] | notes of the chord-scale | notes outside key and chord-scale |
//! | `non_chord_tone_resolution` | [`NonChordToneResolution`] | passing, neighbour, approach tones | non-chord tones leapt into and out of |
//! | `leap_recovery` | [`LeapRecovery`] | a step back after a leap over a fourth | a further leap the same way |
//! | `range_tessitura` | [`RangeTessitura`] | — | notes out of range, far from the running centre |
//! | `contour` | [`Contour`] | phrases with an inner high point | monotone runs over N notes |
//! | `rhythmic_variety` | [`RhythmicVariety`] | mixed note lengths, occasional syncopation | all-same rhythm |
//! | `phrase_breath` | [`PhraseBreath`] | rests at phrase ends | no rest for bars on end, fragmenting rests |
//! | `motif_development` | [`MotifDevelopment`] | exact, transposed, rhythmic restatements (capped) | — |
//! | `cadence` | [`Cadence`] | ending on the tonic or a chord tone, held | ending on anything else |
//! | `pitch_variety` | [`PitchVariety`] | — | trills, drones, figures looped a third time, stretches on few pitches |
//! | `fast_runs` | [`FastRuns`] | — | a wall of the shortest note value |
//!
//! Each term is its own [`Reward`](cadenza_env::Reward) with one term name and a plain-data
//! parameter struct (`…Params`: `Default`, serde with unknown fields denied,
//! [`TermParams::validate`]); the [`ImprovTerm`] trait gives every term its `NAME` and its
//! checked constructor `new`. [`IMPROV_TERMS`] is the one list of them, which the reward
//! registry (a term as a TOML section) and the reward bench (its built-in terms) build
//! from. [`ImprovReward`] combines them with weights from an [`ImprovWeights`], reporting
//! each weighted term under its plain name, so a training log shows which musical habit a
//! policy is being paid for.
//!
//! # Conventions
//!
//! - Events are read through the setting's encoding: a pitch event attacks a note, `HOLD`
//!   continues what sounds (or the silence), `REST` silences. Events outside the encoding
//!   carry no pitch and count as holds; no event value makes a term panic.
//! - The chord under a step is `setting.chord_at(step)`. Without a progression, "chord
//!   tones" are the key's tonic triad and the "chord-scale" is the key's scale.
//! - Strong beats are the downbeat and, in even meters of four beats or more, the mid-bar
//!   beat.
//! - Every term keeps its own small running state, cleared by `reset` (and on step 0), and
//!   never reads `history`: a step costs the same at step 10 as at step 10,000, and nothing
//!   is allocated per step. The only buffers are fixed-size rings ([`MOTIF_MEMORY`] notes
//!   for motifs, [`RHYTHM_WINDOW_CAPACITY`] intervals for rhythm).
//! - Terms that judge a note by what follows it (resolution, leap recovery) score it when
//!   the next pitch arrives; phrase-level terms score when a rest closes the phrase; the
//!   cadence scores on the last step (`setting.length − 1`).
//!
//! # Example: scoring a solo over a ii–V–I
//!
//! The progression Dm7 | G7 | Cmaj7 | Cmaj7 in C major, one chord per bar of sixteenths,
//! built by hand as bit masks (bit 0 = C). A stepwise, arpeggiated line that breathes at the
//! end of bar 2 and ends on a long C beats a line of scattered sixteenth-note leaps.
//!
//! ```
//! use cadenza_env::{ChordFrame, EventEncoding, Note, Reward, Setting, StepContext};
//! use cadenza_reward::improv::ImprovReward;
//!
//! fn mask(pitch_classes: &[u8]) -> u16 {
//!     pitch_classes.iter().fold(0, |m, &pc| m | 1 << pc)
//! }
//! let c_major = mask(&[0, 2, 4, 5, 7, 9, 11]);
//! let dm7 = ChordFrame { index: 0, root: 2, tones: mask(&[2, 5, 9, 0]), scale: c_major };
//! let g7 = ChordFrame { index: 1, root: 7, tones: mask(&[7, 11, 2, 5]), scale: c_major };
//! // F is the avoid note over Cmaj7: leave it out of the chord-scale.
//! let cmaj7 = ChordFrame {
//!     index: 2,
//!     root: 0,
//!     tones: mask(&[0, 4, 7, 11]),
//!     scale: c_major & !mask(&[5]),
//! };
//! let chords: Vec<ChordFrame> = [dm7, g7, cmaj7, cmaj7]
//!     .iter()
//!     .flat_map(|&chord| std::iter::repeat_n(chord, 16))
//!     .collect();
//! let setting = Setting {
//!     encoding: EventEncoding::RL_TUNER_38,
//!     length: 64,
//!     steps_per_beat: 4,
//!     beats_per_bar: 4,
//!     tonic: 0,
//!     scale: c_major,
//!     chords,
//!     call_steps: 0,
//! };
//!
//! // (MIDI pitch, start step, duration in steps)
//! let line = [
//!     (65, 0, 4), (69, 4, 2), (72, 6, 2), (76, 8, 2), (74, 10, 2), (72, 12, 4), // Dm7
//!     (71, 16, 4), (74, 20, 2), (77, 22, 2), (76, 24, 2), (74, 26, 2), (71, 28, 3), // G7
//!     (76, 32, 4), (79, 36, 2), (76, 38, 2), (74, 40, 2), (72, 42, 2), (71, 44, 2), (74, 46, 2),
//!     (72, 48, 16), // Cmaj7, held to the end
//! ];
//! let notes: Vec<Note> = line
//!     .iter()
//!     .map(|&(pitch, start, duration)| Note { pitch, start, duration })
//!     .collect();
//! let solo = setting.encoding.from_notes(&notes, setting.length).unwrap();
//! // Sixteenths leaping by fifths through the whole range.
//! let scattered: Vec<u8> = (0..64).map(|i| 2 + (i * 7 % 36) as u8).collect();
//!
//! let mut reward = ImprovReward::preset();
//! let names = reward.term_names();
//! let mut score = |melody: &[u8]| {
//!     reward.reset(&setting);
//!     let mut terms = vec![0.0; names.len()];
//!     let mut per_term = vec![0.0; names.len()];
//!     let mut total = 0.0;
//!     for step in 0..melody.len() {
//!         let ctx = StepContext {
//!             setting: &setting,
//!             step,
//!             history: &melody[..step],
//!             action: melody[step],
//!         };
//!         total += reward.step(&ctx, &mut terms);
//!         for (sum, value) in per_term.iter_mut().zip(&terms) {
//!             *sum += value;
//!         }
//!     }
//!     (total, per_term)
//! };
//! let (solo_total, solo_terms) = score(&solo);
//! let (scattered_total, _) = score(&scattered);
//! for (name, value) in names.iter().zip(&solo_terms) {
//!     println!("{name:>28} {value:+.2}");
//! }
//! assert!(solo_total > 0.0, "{solo_total}");
//! assert!(solo_total > scattered_total + 20.0, "{solo_total} vs {scattered_total}");
//! // The solo ends on a tonic held for a whole bar: full cadence reward.
//! assert_eq!(solo_terms[9], 3.0);
//! ```

#![warn(missing_docs)]

mod cadence;
mod chord_scale;
mod chord_tone;
pub(crate) mod common;
mod contour;
pub(crate) mod error;
mod fast_runs;
mod leap;
mod motif;
mod phrase;
mod pitch_variety;
mod preset;
mod range;
mod resolution;
mod rhythm;
mod table;
mod term;

pub use cadence::{Cadence, CadenceParams};
pub use chord_scale::{ChordScaleMembership, ChordScaleMembershipParams};
pub use chord_tone::{ChordToneOnStrongBeat, ChordToneOnStrongBeatParams};
pub use contour::{Contour, ContourParams};
pub use error::ImprovError;
pub use fast_runs::{FastRuns, FastRunsParams, FAST_RUNS_MEMORY};
pub use leap::{LeapRecovery, LeapRecoveryParams};
pub use motif::{MotifDevelopment, MotifDevelopmentParams, MOTIF_MEMORY};
pub use phrase::{PhraseBreath, PhraseBreathParams};
pub use pitch_variety::{PitchVariety, PitchVarietyParams, PITCH_VARIETY_MEMORY};
pub use preset::{ImprovReward, ImprovWeights, Weighted};
pub use range::{RangeTessitura, RangeTessituraParams};
pub use resolution::{NonChordToneResolution, NonChordToneResolutionParams};
pub use rhythm::{RhythmicVariety, RhythmicVarietyParams, RHYTHM_WINDOW_CAPACITY};
pub(crate) use table::params_from_toml;
pub use table::{TermEntry, IMPROV_TERMS, IMPROV_TERM_COUNT, IMPROV_TERM_NAMES};
pub use term::{ImprovTerm, TermParams};
