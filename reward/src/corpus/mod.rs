//! Corpus models: how likely a melody event is, given a corpus of melodies.
//!
//! [`NgramModel`] is a variable-order Markov model over the events of an
//! [`EventEncoding`](cadenza_env::encoding::EventEncoding) (rest, hold and pitches). It serves
//! two purposes:
//!
//! * **A reward term.** [`CorpusReward`] scores each chosen event by its log-probability under
//!   the model (term `corpus_log_prob`), the role Magenta RL Tuner gives its Note RNN, but with
//!   a model that fits in seconds and answers in a few hash lookups.
//! * **A density model.** [`NgramModel::nll_per_event`] and [`NgramModel::perplexity`] evaluate
//!   melodies, and [`held_out_report`] compares orders on held-out melodies.
//!
//! # Guide
//!
//! ```
//! use cadenza_env::encoding::{EventEncoding, HOLD, REST};
//! use cadenza_reward::corpus::{NgramConfig, NgramModel};
//!
//! let enc = EventEncoding::RL_TUNER_38;
//! let [c, d, e] = [60, 62, 64].map(|pitch| enc.event_of_pitch(pitch).unwrap());
//! let melodies = vec![
//!     vec![c, HOLD, d, HOLD, e, HOLD, HOLD, HOLD],
//!     vec![c, HOLD, e, HOLD, d, HOLD, REST, HOLD],
//!     vec![e, HOLD, d, HOLD, c, HOLD, HOLD, HOLD],
//! ];
//! let config = NgramConfig { order: 3, use_position: true, ..NgramConfig::default() };
//! let model = NgramModel::fit(config, enc, 8, &melodies)?;
//!
//! // Every second step of the corpus is a hold: after `c` on step 0, a hold is likely.
//! let p_hold = model.log_prob(&[c], 1, HOLD).exp();
//! assert!(p_hold > 0.5, "{p_hold}");
//! // Unseen events keep some probability, so the log-probability stays finite.
//! assert!(model.log_prob(&[c], 1, enc.event_of_pitch(83).unwrap()).is_finite());
//!
//! // The whole next-event distribution sums to one.
//! let mut dist = vec![0.0; enc.num_events()];
//! model.distribution(&[c, HOLD], 2, &mut dist)?;
//! assert!((dist.iter().sum::<f64>() - 1.0).abs() < 1e-9);
//!
//! // As a density model.
//! let ppl = model.perplexity(&melodies)?;
//! assert!(ppl > 1.0 && ppl < enc.num_events() as f64);
//! # Ok::<(), cadenza_reward::corpus::CorpusError>(())
//! ```
//!
//! As a reward, wrap a model in [`CorpusReward`]; it writes
//! `max(log P(action | last N-1 events, step), floor)` into its one term.
//!
//! # Preparing a corpus
//!
//! [`find_key`] is Krumhansl–Schmuckler key finding, for MIDI files without a key signature
//! (transposing melodies to a common tonic needs their key); [`ProcessedCorpus`] is the
//! quantised, transposed corpus with per-file records that `cadenza corpus import` writes.
//!
//! # Smoothing: interpolated modified Kneser–Ney
//!
//! An order-`N` model predicts event `w` from a context `h` of the last `N-1` events by
//! interpolating maximum-likelihood estimates of decreasing order, as in Chen & Goodman (1998):
//!
//! ```text
//! P(w | h) = max(c(h w) - D(c(h w)), 0) / c(h)  +  γ(h) · P(w | h')
//! γ(h)     = (D1 · N1(h •) + D2 · N2(h •) + D3+ · N3+(h •)) / c(h)
//! ```
//!
//! where `h'` is `h` without its oldest element, `Nk(h •)` is the number of events seen exactly
//! `k` times after `h` (`N3+`: three or more times), and a context never seen (`c(h) = 0`) passes
//! `P(w | h')` through unchanged. Below the empty context sits the uniform distribution over the
//! encoding's events, so every event has a non-zero probability. The highest order uses raw
//! counts `c`; each lower order uses *continuation counts* (the number of distinct values of the
//! dropped conditioning variable that precede `h' w`), which is what makes Kneser–Ney's lower
//! orders good at the job they are actually used for: scoring events in contexts the higher
//! orders have not seen. The three discounts of each order are estimated from that order's
//! count-of-counts `n1..n4`:
//!
//! ```text
//! Y = n1 / (n1 + 2 n2),   D1 = 1 - 2Y n2/n1,   D2 = 2 - 3Y n3/n2,   D3+ = 3 - 4Y n4/n3
//! ```
//!
//! When a formula is undefined (its `nk` is zero) the discount falls back to `Y` (Ney's single
//! absolute discount); every discount is then clamped to `[0.01, k]`, which keeps each
//! numerator non-negative (exact normalisation) and `γ(h) > 0` (no zero probabilities).
//!
//! **Why Kneser–Ney rather than PPM.** Both are variable-order Markov models. Modified KN is the
//! best-studied smoother for exactly this regime, a small vocabulary (38 to 130 events) with
//! sparse high orders; it is closed-form (discounts come from count-of-counts, no escape
//! heuristics or tuning), and it is exactly normalised, so log-probabilities are comparable
//! across orders and usable as a density. PPM's escape mechanisms with exclusion are tuned for
//! online compression rather than for calibrated probabilities, and its blending variants are
//! close relatives of interpolated absolute discounting anyway.
//!
//! # Context
//!
//! **Start of a melody.** Melodies are padded on the left with `N-1` begin-of-melody symbols, so
//! the first events of a melody are predicted from contexts that say "melody start" (and the
//! model learns how melodies begin). A query context shorter than `N-1` events is padded the same
//! way. The padding symbol is never predicted: distributions range over the encoding's events.
//! Context events outside the encoding are treated as an unknown symbol that no training context
//! contains, so the model backs off past them.
//!
//! **Position in the bar** (`use_position`). The step index of the predicted event, reduced to a
//! position class ([`PositionClasses`]: the step within the bar, or its metrical level), is an
//! extra conditioning variable of the highest order only, and the first one dropped: an
//! order-`N` model backs off through
//!
//! ```text
//! (position, N-1 events) → (N-1 events) → … → (1 event) → () → uniform
//! ```
//!
//! so it is a model per position class that backs off to the position-free model (the
//! position-free level uses continuation counts over positions, as Kneser–Ney prescribes for
//! any dropped variable). Dropping the position first keeps the position-free chain intact:
//! splitting every order by position fragments the counts, and on data where the recent
//! events already imply the metre (a hold after each note, say) that costs more than the
//! position adds. Melodies are assumed to start on a downbeat (step 0 is the first step of a
//! bar).
//!
//! # Storage and speed
//!
//! Each order keeps a hash map from a context packed into a `u64` (byte `i` = the `i+1`-th most
//! recent event, byte 7 = position class; events are below 256 and at most 7 context events are
//! needed) to that context's total count, its back-off mass and a slice of `(event, count)`
//! pairs sorted by event. A query packs the context once, masks it for each order and does one
//! hash lookup and one binary search per order: no allocation, `O(N log V)`. A reward asks
//! one log-probability per env step, so [`CorpusReward`] reads the model's [`ContextTable`]
//! instead: the whole distribution of every context of every level precomputed as a row of
//! log-probabilities, found from the deepest level that knows the history (the same values
//! to the last bit, 2-4.5x faster: `cargo bench -p cadenza-reward --bench corpus_model`).
//! The term goes further: the contexts are the states of an automaton whose transitions are
//! tabulated once ([`NgramCursor`]), so stepping through a melody costs one read for the next
//! state and one for the log-probability, no hash probe (still the same values to the bit).
//!
//! Models are saved as JSON (`format_version`, `kind: "ngram"`, the configuration, and the
//! highest-order counts, from which everything else is rebuilt exactly on load).

pub(crate) mod error;
mod file;
mod key;
mod ngram;
mod processed;
mod report;
mod reward;

pub use error::CorpusError;
pub use key::{
    find_key, find_key_of_durations, pitch_class_durations, Key, KeyEstimate, MAJOR_PROFILE,
    MINOR_PROFILE,
};
pub use ngram::{ContextTable, NgramConfig, NgramCursor, NgramModel, PositionClasses, MAX_ORDER};
pub use processed::{
    KeySource, ProcessedCorpus, ProcessedFile, Quantisation, SplitSide, PROCESSED_FORMAT,
    PROCESSED_VERSION,
};
pub use report::{held_out_report, OrderReport};
pub use reward::CorpusReward;
