//! The interpolated modified Kneser–Ney n-gram model (see the module docs of `corpus`).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use cadenza_env::encoding::{Event, EventEncoding};
use cadenza_env::prefetch::{prefetch, prefetch_run};
use serde::{Deserialize, Serialize};

use super::error::CorpusError;

/// The highest supported order: 7 context events and a position class fill a `u64` key.
pub const MAX_ORDER: usize = 8;

/// Context byte of the begin-of-melody padding. Events are below 131 in every encoding, so
/// neither this nor [`UNKNOWN`] can collide with a real event.
pub(crate) const BOS: u8 = 0xFF;
/// Context byte standing for an event outside the encoding (queries only; never trained on).
const UNKNOWN: u8 = 0xFE;
/// Bit offset of the position class in a packed context.
const POSITION_SHIFT: u32 = 56;
const POSITION_MASK: u64 = 0xFF << POSITION_SHIFT;
/// Smallest discount: keeps every back-off weight positive, hence every probability.
const MIN_DISCOUNT: f64 = 0.01;

/// How the step index becomes a position class when [`NgramConfig::use_position`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PositionClasses {
    /// The step within the bar, `step % steps_per_bar` (at most 256 steps per bar).
    #[default]
    Step,
    /// The metrical level of the step within the bar: 0 on the downbeat, else 1 + the number of
    /// trailing zero bits of `step % steps_per_bar` (1 = odd steps, 2 = steps divisible by 2 but
    /// not 4, ...). Fewer, better-populated classes than [`PositionClasses::Step`]; exact for
    /// bars and beats divided in two, approximate for triple metres.
    Metric,
}

/// Settings of an [`NgramModel`].
///
/// ```
/// use cadenza_reward::corpus::NgramConfig;
/// let config: NgramConfig = serde_json::from_str(r#"{"order": 4}"#).unwrap();
/// assert_eq!(config.order, 4);
/// assert!(serde_json::from_str::<NgramConfig>(r#"{"ordr": 4}"#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NgramConfig {
    /// Order `N`, 1..=8: events are predicted from the last `N-1` events.
    pub order: usize,
    /// Whether the position in the bar is a conditioning variable.
    pub use_position: bool,
    /// How positions are grouped into classes (only used with `use_position`).
    pub position_classes: PositionClasses,
}

impl Default for NgramConfig {
    /// Order 3 with the step within the bar: a modest order that a corpus of a few hundred
    /// tunes populates well, refined by the metre at the top level. Compare orders on your
    /// corpus with [`held_out_report`](crate::corpus::held_out_report).
    fn default() -> Self {
        Self {
            order: 3,
            use_position: true,
            position_classes: PositionClasses::Step,
        }
    }
}

impl NgramConfig {
    /// Checks the settings, naming the first bad field.
    pub fn validate(&self) -> Result<(), CorpusError> {
        if !(1..=MAX_ORDER).contains(&self.order) {
            return Err(CorpusError::config(
                "order",
                format!("must be between 1 and {MAX_ORDER}, got {}", self.order),
            ));
        }
        Ok(())
    }

    /// Checks the settings together with the bar length the model is fitted for.
    pub(crate) fn validate_with(&self, steps_per_bar: usize) -> Result<(), CorpusError> {
        self.validate()?;
        if self.use_position {
            if steps_per_bar == 0 {
                return Err(CorpusError::config(
                    "steps_per_bar",
                    "must be at least 1 when `use_position` is on",
                ));
            }
            if self.position_classes == PositionClasses::Step && steps_per_bar > 256 {
                return Err(CorpusError::config(
                    "steps_per_bar",
                    format!(
                        "must be at most 256 with position classes 'step', got {steps_per_bar} \
                         (use position classes 'metric' for longer bars)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Number of levels of the back-off chain (the uniform base not counted).
    fn num_levels(&self) -> usize {
        self.order + usize::from(self.use_position)
    }

    /// Bits of a packed context that level `level` (0 = empty context) conditions on.
    fn level_mask(&self, level: usize) -> u64 {
        if self.use_position && level == self.order {
            POSITION_MASK | events_mask(level - 1)
        } else {
            events_mask(level)
        }
    }
}

/// Mask of the `n` most recent context events (bytes `0..n`).
pub(crate) fn events_mask(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

/// A finaliser-quality mixer (splitmix64) for packed keys: the position sits in the top byte,
/// so the hasher must spread high bits into the low bits that pick a bucket. Keys come from
/// our own counts, so a keyed (DoS-resistant) hash buys nothing here and costs per lookup.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        let mut z = (self.0 ^ x).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        self.0 = z ^ (z >> 31);
    }
}

pub(crate) type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// One context of one level.
#[derive(Debug, Clone, Copy)]
struct ContextEntry {
    /// `c(h)`: total (continuation) count of the context.
    total: f64,
    /// `D1·N1(h•) + D2·N2(h•) + D3+·N3+(h•)`: the mass passed to the lower order, unnormalised.
    backoff: f64,
    /// The context's `(event, count)` pairs are `children[start..start + len]`.
    start: u32,
    len: u32,
}

/// One event seen after a context.
#[derive(Debug, Clone, Copy)]
struct Child {
    event: Event,
    count: u32,
}

/// One order of the back-off chain.
#[derive(Debug, Clone)]
struct Level {
    mask: u64,
    discounts: [f64; 3],
    contexts: KeyMap<u64, ContextEntry>,
    children: Vec<Child>,
}

impl Level {
    /// Builds a level from its `(context, event, count)` types, sorted by context then event.
    fn new(mask: u64, types: &[(u64, Event, u32)]) -> Self {
        let mut count_of_counts = [0u64; 4];
        for &(_, _, count) in types {
            if (1..=4).contains(&count) {
                count_of_counts[count as usize - 1] += 1;
            }
        }
        let discounts = discounts(count_of_counts);
        let mut contexts = KeyMap::default();
        contexts.reserve(types.len() / 2);
        let mut children = Vec::with_capacity(types.len());
        for group in types.chunk_by(|a, b| a.0 == b.0) {
            let start = children.len() as u32;
            let mut total = 0u64;
            let mut per_class = [0u64; 3];
            for &(_, event, count) in group {
                total += u64::from(count);
                per_class[class_of(count)] += 1;
                children.push(Child { event, count });
            }
            let backoff = discounts[0] * per_class[0] as f64
                + discounts[1] * per_class[1] as f64
                + discounts[2] * per_class[2] as f64;
            contexts.insert(
                group[0].0,
                ContextEntry {
                    total: total as f64,
                    backoff,
                    start,
                    len: group.len() as u32,
                },
            );
        }
        Self {
            mask,
            discounts,
            contexts,
            children,
        }
    }

    /// The discounted count `max(c(h w) - D, 0)` of `event` in a context.
    #[inline]
    fn discounted(&self, entry: &ContextEntry, event: Event) -> f64 {
        let children = &self.children[entry.start as usize..(entry.start + entry.len) as usize];
        match children.binary_search_by_key(&event, |c| c.event) {
            Ok(i) => self.discount_count(children[i].count),
            Err(_) => 0.0,
        }
    }

    #[inline]
    fn discount_count(&self, count: u32) -> f64 {
        (f64::from(count) - self.discounts[class_of(count)]).max(0.0)
    }
}

/// Discount class of a positive count: 0 for 1, 1 for 2, 2 for 3 and more.
#[inline]
fn class_of(count: u32) -> usize {
    (count.max(1) as usize - 1).min(2)
}

/// Chen & Goodman's discounts from the count-of-counts `n1..n4` (see the module docs).
fn discounts(n: [u64; 4]) -> [f64; 3] {
    let [n1, n2, n3, n4] = n.map(|x| x as f64);
    let y = if n1 + 2.0 * n2 > 0.0 {
        n1 / (n1 + 2.0 * n2)
    } else {
        0.5
    };
    let estimate = |k: f64, nk: f64, next: f64| {
        let d = if nk > 0.0 {
            k - (k + 1.0) * y * next / nk
        } else {
            y
        };
        d.clamp(MIN_DISCOUNT, k)
    };
    [
        estimate(1.0, n1, n2),
        estimate(2.0, n2, n3),
        estimate(3.0, n3, n4),
    ]
}

/// A variable-order Markov model over melody events with interpolated modified Kneser–Ney
/// smoothing. See the [module docs](crate::corpus) for the model and a guide.
#[derive(Clone)]
pub struct NgramModel {
    config: NgramConfig,
    encoding: EventEncoding,
    steps_per_bar: usize,
    /// Number of events of the encoding (the predicted vocabulary).
    vocab: usize,
    /// The packed context of an empty history: all context bytes begin-of-melody.
    bos_key: u64,
    /// Back-off chain, empty context first.
    levels: Vec<Level>,
    training_melodies: usize,
    training_events: u64,
    /// The model laid out for per-step lookups, built on first use.
    table: OnceLock<ContextTable>,
}

impl fmt::Debug for NgramModel {
    // The count tables can hold millions of entries; show their sizes, not their contents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let contexts: Vec<usize> = self.levels.iter().map(|l| l.contexts.len()).collect();
        let discounts: Vec<[f64; 3]> = self.levels.iter().map(|l| l.discounts).collect();
        f.debug_struct("NgramModel")
            .field("config", &self.config)
            .field("encoding", &self.encoding.to_string())
            .field("steps_per_bar", &self.steps_per_bar)
            .field("training_melodies", &self.training_melodies)
            .field("training_events", &self.training_events)
            .field("contexts_per_level", &contexts)
            .field("discounts_per_level", &discounts)
            .finish()
    }
}

impl NgramModel {
    /// Fits a model to `melodies`, each a sequence of events of `encoding` starting on a
    /// downbeat. `steps_per_bar` sets the position classes (used only with `use_position`).
    ///
    /// Errors: an invalid configuration (naming the field), an event outside the encoding
    /// (naming melody and step), or no events at all.
    pub fn fit(
        config: NgramConfig,
        encoding: EventEncoding,
        steps_per_bar: usize,
        melodies: &[Vec<Event>],
    ) -> Result<Self, CorpusError> {
        config.validate_with(steps_per_bar)?;
        let vocab = encoding.num_events();
        let mut total_events = 0u64;
        for (m, melody) in melodies.iter().enumerate() {
            if let Some(step) = melody.iter().position(|&e| usize::from(e) >= vocab) {
                return Err(out_of_range(encoding, m, step, melody[step]));
            }
            total_events += melody.len() as u64;
        }
        if total_events == 0 {
            return Err(CorpusError::EmptyTrainingSet {
                melodies: melodies.len(),
            });
        }
        let context_mask = events_mask(config.order - 1);
        let bos_key = bos_key(config.order);
        let mut counts: KeyMap<(u64, Event), u32> = KeyMap::default();
        for melody in melodies {
            let mut context = bos_key;
            for (step, &event) in melody.iter().enumerate() {
                let key = context | position_bits(&config, steps_per_bar, step);
                let slot = counts.entry((key, event)).or_insert(0);
                *slot = slot.saturating_add(1);
                context = ((context << 8) | u64::from(event)) & context_mask;
            }
        }
        let mut top: Vec<(u64, Event, u32)> =
            counts.into_iter().map(|((k, e), c)| (k, e, c)).collect();
        top.sort_unstable();
        Ok(Self::build(
            config,
            encoding,
            steps_per_bar,
            &top,
            melodies.len(),
            total_events,
        ))
    }

    /// Builds every level from the highest-order counts (sorted by context, then event): the
    /// lower levels' continuation counts are the numbers of distinct types above them.
    pub(crate) fn build(
        config: NgramConfig,
        encoding: EventEncoding,
        steps_per_bar: usize,
        top: &[(u64, Event, u32)],
        training_melodies: usize,
        training_events: u64,
    ) -> Self {
        let num_levels = config.num_levels();
        let mut levels = Vec::with_capacity(num_levels);
        let top_level = num_levels - 1;
        levels.push(Level::new(config.level_mask(top_level), top));
        let mut above: Vec<(u64, Event, u32)> = Vec::new();
        for level in (0..top_level).rev() {
            let mask = config.level_mask(level);
            let source: &[(u64, Event, u32)] = if level + 1 == top_level { top } else { &above };
            let mut continuation: KeyMap<(u64, Event), u32> = KeyMap::default();
            for &(key, event, _) in source {
                *continuation.entry((key & mask, event)).or_insert(0) += 1;
            }
            let mut types: Vec<(u64, Event, u32)> = continuation
                .into_iter()
                .map(|((k, e), c)| (k, e, c))
                .collect();
            types.sort_unstable();
            levels.push(Level::new(mask, &types));
            above = types;
        }
        levels.reverse();
        Self {
            config,
            encoding,
            steps_per_bar,
            vocab: encoding.num_events(),
            bos_key: bos_key(config.order),
            levels,
            training_melodies,
            training_events,
            table: OnceLock::new(),
        }
    }

    /// The model's settings.
    pub fn config(&self) -> &NgramConfig {
        &self.config
    }

    /// The model's order `N`.
    pub fn order(&self) -> usize {
        self.config.order
    }

    /// The encoding of the events the model predicts.
    pub fn encoding(&self) -> EventEncoding {
        self.encoding
    }

    /// Steps per bar the position classes were computed with.
    pub fn steps_per_bar(&self) -> usize {
        self.steps_per_bar
    }

    /// Number of events the model predicts (the encoding's events).
    pub fn num_events(&self) -> usize {
        self.vocab
    }

    /// Number of melodies the model was fitted on.
    pub fn training_melodies(&self) -> usize {
        self.training_melodies
    }

    /// Number of events the model was fitted on.
    pub fn training_events(&self) -> u64 {
        self.training_events
    }

    /// The model laid out for one lookup per step ([`ContextTable`]), built on the first
    /// call (milliseconds and a few MB for a model of a few hundred tunes)
    /// and kept: [`CorpusReward`](crate::corpus::CorpusReward) asks for it when it is made.
    pub fn context_table(&self) -> &ContextTable {
        self.table.get_or_init(|| ContextTable::new(self))
    }

    /// `ln P(event | context, position)` through the [`ContextTable`]: the same value as
    /// [`NgramModel::log_prob`], to the last bit, in one hash probe per level above the
    /// deepest that knows the context and one read. Builds the table on the first call.
    #[inline]
    pub fn log_prob_fast(&self, context: &[Event], position: usize, event: Event) -> f64 {
        self.context_table()
            .log_prob_packed(self.pack(context, position), event)
    }

    /// Number of contexts of level `level` (0 = the empty context).
    pub(crate) fn level_contexts(&self, level: usize) -> usize {
        self.levels[level].contexts.len()
    }

    /// The packed contexts of level `level`, in a fixed order (sorted).
    pub(crate) fn level_keys(&self, level: usize) -> Vec<u64> {
        let mut keys: Vec<u64> = self.levels[level].contexts.keys().copied().collect();
        keys.sort_unstable();
        keys
    }

    /// Writes `P(e | key)` for every event into `out` (`num_events` long) for a context
    /// `key` whose deepest known level is `level`: the levels `0..=level` of `distribution`,
    /// with its arithmetic (the levels above do not know `key`, so `prob` skips them too).
    pub(crate) fn distribution_to_level(&self, key: u64, level: usize, out: &mut [f64]) {
        out.fill(1.0 / self.vocab as f64);
        for level in &self.levels[..=level] {
            let Some(entry) = level.contexts.get(&(key & level.mask)) else {
                continue;
            };
            for p in out.iter_mut() {
                *p *= entry.backoff;
            }
            let children =
                &level.children[entry.start as usize..(entry.start + entry.len) as usize];
            for child in children {
                out[usize::from(child.event)] += level.discount_count(child.count);
            }
            for p in out.iter_mut() {
                *p /= entry.total;
            }
        }
    }

    /// The three discounts `[D1, D2, D3+]` of each level of the back-off chain, empty context
    /// first: level `k < N` conditions on the last `k` events; with `use_position`, level `N`
    /// conditions on the position and the last `N-1` events.
    pub fn discounts(&self) -> Vec<[f64; 3]> {
        self.levels.iter().map(|l| l.discounts).collect()
    }

    /// The position class of a step.
    #[inline]
    fn position_class(&self, step: usize) -> u64 {
        position_bits(&self.config, self.steps_per_bar, step)
    }

    /// Packs the last `N-1` events of `context` (padded with begin-of-melody) and the position.
    #[inline]
    pub(crate) fn pack(&self, context: &[Event], position: usize) -> u64 {
        self.pack_events(context) | self.position_class(position)
    }

    /// Packs the last `N-1` events of `context` (padded with begin-of-melody), no position.
    #[inline]
    pub(crate) fn pack_events(&self, context: &[Event]) -> u64 {
        let n = (self.config.order - 1).min(context.len());
        let mut key = self.bos_key;
        for (i, &event) in context[context.len() - n..].iter().rev().enumerate() {
            let byte = if usize::from(event) < self.vocab {
                event
            } else {
                UNKNOWN
            };
            let shift = 8 * i as u32;
            key = (key & !(0xFF << shift)) | (u64::from(byte) << shift);
        }
        key
    }

    /// The cursor of [`StepPrior`](crate::prior::StepPrior) after `history`.
    #[inline]
    pub(crate) fn cursor_after(&self, history: &[Event]) -> NgramCursor {
        let key = self.pack_events(history);
        let table = self.context_table();
        let state = table.state_of(key);
        let steps = history.len();
        NgramCursor { key, state, steps }
    }

    /// `ln P(event | cursor's history, position)`: [`NgramModel::log_prob`] to the last bit.
    #[inline]
    pub(crate) fn cursor_log_prob(
        &self,
        cursor: &NgramCursor,
        position_step: usize,
        event: Event,
    ) -> f64 {
        let table = self.context_table();
        let e = usize::from(event);
        if cursor.state == NO_STATE || e >= self.vocab {
            return table.log_prob_packed(cursor.key | self.position_class(position_step), event);
        }
        let row = table.row_in_state(cursor.state, self.position_class(position_step));
        table.rows[row as usize * self.vocab + e]
    }

    /// Starts loading the row of log-probabilities the cursor's next step reads (its state's
    /// row at the position of step `steps`), whose index the move that made the state has
    /// fetched. [`StepPrior::prefetch`](crate::prior::StepPrior::prefetch) of the corpus term.
    #[inline]
    pub(crate) fn cursor_prefetch(&self, cursor: &NgramCursor) {
        let table = self.context_table();
        if table.transitions.is_some() && cursor.state != NO_STATE {
            let row = table.row_in_state(cursor.state, self.position_class(cursor.steps));
            prefetch_run(&table.rows, row as usize * self.vocab, self.vocab);
        }
    }

    /// Moves a cursor past `event`.
    #[inline]
    pub(crate) fn cursor_advance(&self, cursor: &mut NgramCursor, event: Event) {
        let byte = if usize::from(event) < self.vocab {
            event
        } else {
            UNKNOWN
        };
        cursor.key = ((cursor.key << 8) | u64::from(byte)) & events_mask(self.config.order - 1);
        cursor.steps += 1;
        let table = self.context_table();
        if let Some(transitions) = table.transitions.as_ref() {
            cursor.state = transitions.next(cursor.state, event, self.vocab);
            // The next step reads the index of the new state's row at the next position, one
            // float of that row, and one entry of the state's transitions: start loading the
            // index and the transitions now, while the agent works on other lanes, rather than
            // wait for them then (`cursor_prefetch` starts on the row once the index is in).
            transitions.prefetch_moves(cursor.state, self.vocab, self.position_class(cursor.steps));
        }
    }

    /// `P(event | context, position)`. Only the last `N-1` events of `context` matter; a shorter
    /// context means the melody started that many steps ago. `position` is the step index of
    /// `event` in its melody. Events outside the encoding have probability 0.
    #[inline]
    pub fn prob(&self, context: &[Event], position: usize, event: Event) -> f64 {
        if usize::from(event) >= self.vocab {
            return 0.0;
        }
        let key = self.pack(context, position);
        let mut p = 1.0 / self.vocab as f64;
        for level in &self.levels {
            if let Some(entry) = level.contexts.get(&(key & level.mask)) {
                let numerator = level.discounted(entry, event);
                p = (numerator + entry.backoff * p) / entry.total;
            }
        }
        p
    }

    /// `ln P(event | context, position)` (natural log); see [`NgramModel::prob`]. Finite for every
    /// event of the encoding, `-inf` for events outside it.
    #[inline]
    pub fn log_prob(&self, context: &[Event], position: usize, event: Event) -> f64 {
        self.prob(context, position, event).ln()
    }

    /// Writes `P(e | context, position)` for every event `e` of the encoding into `out`, whose
    /// length must be [`NgramModel::num_events`]. Does not allocate.
    pub fn distribution(
        &self,
        context: &[Event],
        position: usize,
        out: &mut [f64],
    ) -> Result<(), CorpusError> {
        if out.len() != self.vocab {
            return Err(CorpusError::OutputLength {
                expected: self.vocab,
                found: out.len(),
            });
        }
        let key = self.pack(context, position);
        out.fill(1.0 / self.vocab as f64);
        for level in &self.levels {
            let Some(entry) = level.contexts.get(&(key & level.mask)) else {
                continue;
            };
            // Same arithmetic as `prob`, event by event, so both agree to the last bit.
            for p in out.iter_mut() {
                *p *= entry.backoff;
            }
            let children =
                &level.children[entry.start as usize..(entry.start + entry.len) as usize];
            for child in children {
                out[usize::from(child.event)] += level.discount_count(child.count);
            }
            for p in out.iter_mut() {
                *p /= entry.total;
            }
        }
        Ok(())
    }

    /// Average negative log-likelihood (nats per event) of `melodies`, each predicted from its
    /// start. Errors on events outside the encoding and when there are no events.
    pub fn nll_per_event(&self, melodies: &[Vec<Event>]) -> Result<f64, CorpusError> {
        let mut total = 0.0;
        let mut count = 0u64;
        for (m, melody) in melodies.iter().enumerate() {
            for (step, &event) in melody.iter().enumerate() {
                if usize::from(event) >= self.vocab {
                    return Err(out_of_range(self.encoding, m, step, event));
                }
                total -= self.log_prob(&melody[..step], step, event);
                count += 1;
            }
        }
        if count == 0 {
            return Err(CorpusError::NoEvents {
                melodies: melodies.len(),
            });
        }
        Ok(total / count as f64)
    }

    /// Perplexity of `melodies`: `exp(nll_per_event)`, the effective number of equally likely
    /// choices per step (1 = certain, [`NgramModel::num_events`] = uniform guessing).
    pub fn perplexity(&self, melodies: &[Vec<Event>]) -> Result<f64, CorpusError> {
        Ok(self.nll_per_event(melodies)?.exp())
    }

    /// The highest-order `(packed context, event, count)` triples, sorted: everything needed to
    /// rebuild the model.
    pub(crate) fn top_counts(&self) -> Vec<(u64, Event, u32)> {
        let Some(top) = self.levels.last() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(top.children.len());
        for (&key, entry) in &top.contexts {
            let children = &top.children[entry.start as usize..(entry.start + entry.len) as usize];
            out.extend(children.iter().map(|c| (key, c.event, c.count)));
        }
        out.sort_unstable();
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The model laid out for one lookup per step
// ---------------------------------------------------------------------------------------------

/// An [`NgramModel`] laid out for a reward that asks one log-probability per env step: the
/// whole next-event distribution of every context the model knows, precomputed as a row of
/// natural-log probabilities.
///
/// The model's back-off chain is closed downwards (a lower level's contexts are made from the
/// higher level's, so a context seen at one level is seen at every level below), so the
/// distribution after a history depends only on the deepest level that knows its context.
/// A lookup packs the last `N-1` events and the position once, probes the levels from the
/// top for that context (one hash probe each, stopping at the first hit) and reads one float
/// of its row: no binary search, no arithmetic, no allocation, and a cost independent of
/// the melody's length. Every value equals [`NgramModel::log_prob`] to the last bit (the
/// rows are computed with the same arithmetic, level by level, then `ln`).
///
/// Rows take `8 · V` bytes per context of every level (7,878 contexts, 2.4 MB, for the
/// order-4 model of the 600-tune development corpus in the 38-event encoding), so the table
/// is built once per model, on first use ([`NgramModel::context_table`]), and shared by every env that holds
/// the model.
///
/// For a reward that steps through a melody, the table also holds the contexts of the
/// position-free levels as the states of an automaton (`4 · V` bytes per such context for the
/// transitions, plus one row index per position class for each context of the highest
/// of them): an [`NgramCursor`] then moves from state to state with one read per event and
/// never probes a hash map. Models too large for that (over 16 M transitions) keep the
/// probing path.
#[derive(Debug, Clone)]
pub struct ContextTable {
    vocab: usize,
    /// Per level, highest first: the level's context mask and its contexts' row indices.
    levels: Vec<(u64, KeyMap<u64, u32>)>,
    /// `rows[r * vocab + e]`: `ln P(e | context r)`.
    rows: Vec<f64>,
    /// The last row: the uniform distribution, for a model that knows no context at all.
    uniform_row: u32,
    /// The history's contexts as states of an automaton, for a cursor that steps through a
    /// melody; `None` for a model too large to tabulate (cursors then probe the levels).
    transitions: Option<Transitions>,
}

/// A state no transition table knows (the table is absent, or was not consulted).
const NO_STATE: u32 = u32::MAX;
/// The most `state × event` entries a transition table may hold (64 MiB).
const MAX_TRANSITIONS: usize = 1 << 24;

/// Where an n-gram cursor stands: the last `N-1` events packed (no position), and the state
/// of the deepest event level that knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgramCursor {
    key: u64,
    state: u32,
    /// Events seen: the step the cursor scores next.
    steps: usize,
}

/// The contexts of the event levels (those without the position) as states of an automaton:
/// a state is a context that its level knows and the level above does not, and `next[s · V +
/// e]` is the state after event `e`.
///
/// The chain is closed downwards and every context was seen followed by some event, so after
/// `e` the deepest level that knows the history is at most one above the state's: the
/// transitions are found once, when the table is built, and a cursor then pays one read per
/// step for its state and one for its log-probability, instead of a hash probe per level.
/// The position-bearing top level is probed only from a state of the highest event level,
/// since it can know no other history.
#[derive(Debug, Clone)]
struct Transitions {
    next: Vec<u32>,
    /// Row of each state's context in [`ContextTable::rows`].
    rows: Vec<u32>,
    /// States below this number sit on the highest event level (they are numbered first).
    full: u32,
    /// The rows of the position-bearing top level, when the model has one:
    /// `positioned[state · classes + class]` for the states of the highest event level (their
    /// own row where the top level does not know the position), `classes` per state in one
    /// run, so the position costs a read next to the state's, not a hash probe.
    positioned: Option<(usize, Vec<u32>)>,
    /// Per event level, its mask and its contexts' states (used to seek a cursor).
    levels: Vec<(u64, KeyMap<u64, u32>)>,
}

impl Transitions {
    #[inline]
    fn next(&self, state: u32, event: Event, vocab: usize) -> u32 {
        if state == NO_STATE {
            return NO_STATE;
        }
        let e = usize::from(event);
        if e >= vocab {
            // An event outside the encoding: no level above the empty context knows it. The
            // empty context is numbered last.
            return (self.rows.len() - 1) as u32;
        }
        self.next[state as usize * vocab + e]
    }

    /// Fetches what a cursor in `state` reads on its next step: the index of the state's row
    /// at the packed `position`, and the state's transitions.
    #[inline]
    fn prefetch_moves(&self, state: u32, vocab: usize, position: u64) {
        if state == NO_STATE {
            return;
        }
        let state = state as usize;
        prefetch_run(&self.next, state * vocab, vocab);
        match &self.positioned {
            Some((classes, rows)) if state < self.full as usize => prefetch(
                rows,
                state * classes + (position >> POSITION_SHIFT) as usize,
            ),
            _ => prefetch(&self.rows, state),
        }
    }

    /// Builds the automaton of `table`'s event levels; `None` when it would be too large.
    fn new(model: &NgramModel, table: &ContextTable) -> Option<Self> {
        let vocab = model.num_events();
        let event_levels = model.order(); // levels 0..N-1 condition on events only
        let positioned_level = model.config.use_position.then_some(model.order());
        // `table.levels` runs from the highest level down; find each event level's index.
        let index_of =
            |level: usize| -> &KeyMap<u64, u32> { &table.levels[table.levels.len() - 1 - level].1 };
        if index_of(0).is_empty() {
            return None;
        }
        let num_states: usize = (0..event_levels).map(|l| index_of(l).len()).sum();
        if num_states.checked_mul(vocab)? > MAX_TRANSITIONS {
            return None;
        }
        // Number the states from the highest event level down, each level's keys sorted.
        let mut levels = Vec::with_capacity(event_levels);
        let mut rows = Vec::with_capacity(num_states);
        let mut keys = Vec::with_capacity(num_states);
        for level in (0..event_levels).rev() {
            let mut sorted: Vec<(u64, u32)> =
                index_of(level).iter().map(|(&k, &r)| (k, r)).collect();
            sorted.sort_unstable();
            let mut states = KeyMap::default();
            states.reserve(sorted.len());
            for (key, row) in sorted {
                states.insert(key, rows.len() as u32);
                rows.push(row);
                keys.push((level, key));
            }
            levels.push((events_mask(level), states));
        }
        let full = levels[0].1.len() as u32;
        let positioned = match positioned_level {
            None => None,
            Some(level) => {
                let classes = num_position_classes(&model.config, model.steps_per_bar) as usize;
                if (full as usize).checked_mul(classes)? > MAX_TRANSITIONS {
                    return None;
                }
                let mut dense: Vec<u32> = rows[..full as usize]
                    .iter()
                    .flat_map(|&row| std::iter::repeat_n(row, classes))
                    .collect();
                let top_mask = events_mask(event_levels - 1);
                for (&key, &row) in &table.levels[table.levels.len() - 1 - level].1 {
                    // Closed downwards: the top level's events are a context of the level below.
                    let state = *levels[0].1.get(&(key & top_mask))?;
                    let class = (key >> POSITION_SHIFT) as usize;
                    *dense.get_mut(state as usize * classes + class)? = row;
                }
                Some((classes, dense))
            }
        };
        let mut transitions = Self {
            next: Vec::with_capacity(num_states * vocab),
            rows,
            full,
            positioned,
            levels,
        };
        let top = event_levels - 1;
        for &(level, key) in &keys {
            let from = (level + 1).min(top);
            for event in 0..vocab {
                let next_key = ((key << 8) | event as u64) & events_mask(from);
                transitions.next.push(transitions.seek_from(next_key, from));
            }
        }
        Some(transitions)
    }

    /// The state of the events packed in `key`, probing the event levels from `from` down.
    fn seek_from(&self, key: u64, from: usize) -> u32 {
        let top = self.levels.len() - 1;
        for (mask, states) in &self.levels[top - from.min(top)..] {
            if let Some(&state) = states.get(&(key & mask)) {
                return state;
            }
        }
        NO_STATE
    }
}

impl ContextTable {
    /// The table of `model` (see the type's docs).
    pub(crate) fn new(model: &NgramModel) -> Self {
        let vocab = model.num_events();
        let num_levels = model.levels.len();
        let contexts: usize = (0..num_levels).map(|l| model.level_contexts(l)).sum();
        let mut rows = Vec::with_capacity(contexts * vocab);
        let mut levels = Vec::with_capacity(num_levels);
        let mut row = vec![0.0; vocab];
        for level in (0..num_levels).rev() {
            let mut index = KeyMap::default();
            index.reserve(model.level_contexts(level));
            for key in model.level_keys(level) {
                model.distribution_to_level(key, level, &mut row);
                index.insert(key, (rows.len() / vocab) as u32);
                rows.extend(row.iter().map(|p| p.ln()));
            }
            levels.push((model.levels[level].mask, index));
        }
        let uniform_row = (rows.len() / vocab.max(1)) as u32;
        rows.extend(std::iter::repeat_n(-(vocab as f64).ln(), vocab));
        let mut table = Self {
            vocab,
            levels,
            rows,
            uniform_row,
            transitions: None,
        };
        table.transitions = Transitions::new(model, &table);
        table
    }

    /// The cursor state of a history whose last `N-1` events are packed in `key`.
    #[inline]
    fn state_of(&self, key: u64) -> u32 {
        self.transitions
            .as_ref()
            .map_or(NO_STATE, |t| t.seek_from(key, t.levels.len() - 1))
    }

    /// The row a cursor in `state` reads at the packed `position` (unused without states).
    #[inline]
    fn row_in_state(&self, state: u32, position: u64) -> u32 {
        let Some(transitions) = self.transitions.as_ref().filter(|_| state != NO_STATE) else {
            return self.uniform_row;
        };
        let state = state as usize;
        match &transitions.positioned {
            Some((classes, rows)) if state < transitions.full as usize => {
                rows[state * classes + (position >> POSITION_SHIFT) as usize]
            }
            _ => transitions.rows[state],
        }
    }

    /// Whether cursors step through the automaton of states (false for a model too large to
    /// tabulate, whose cursors probe the levels as [`NgramModel::log_prob_fast`] does).
    pub fn has_transitions(&self) -> bool {
        self.transitions.is_some()
    }

    /// The row of a packed context: that of the deepest level that knows it.
    fn row_of(&self, key: u64) -> u32 {
        for (mask, index) in &self.levels {
            if let Some(&row) = index.get(&(key & mask)) {
                return row;
            }
        }
        // Only a model without any event lacks the empty context: the uniform row.
        self.uniform_row
    }

    /// `ln P(event | packed context)`, for a context packed by the model (last `N-1` events
    /// and the position class); `-inf` for an event outside the encoding.
    #[inline]
    pub(crate) fn log_prob_packed(&self, key: u64, event: Event) -> f64 {
        let e = usize::from(event);
        if e >= self.vocab {
            return f64::NEG_INFINITY;
        }
        self.rows[self.row_of(key) as usize * self.vocab + e]
    }

    /// Number of rows (contexts over all levels).
    pub fn num_rows(&self) -> usize {
        self.rows.len() / self.vocab.max(1)
    }

    /// Bytes the rows and their indices take, roughly.
    pub fn bytes(&self) -> usize {
        let map_bytes =
            |m: &KeyMap<u64, u32>| m.capacity() * (std::mem::size_of::<(u64, u32)>() + 1);
        let index: usize = self.levels.iter().map(|(_, m)| map_bytes(m)).sum();
        let transitions = self.transitions.as_ref().map_or(0, |t| {
            (t.next.len() + t.rows.len()) * 4
                + t.levels.iter().map(|(_, m)| map_bytes(m)).sum::<usize>()
                + t.positioned.as_ref().map_or(0, |(_, rows)| rows.len() * 4)
        });
        self.rows.len() * std::mem::size_of::<f64>() + index + transitions
    }
}

/// The packed context of an empty history.
fn bos_key(order: usize) -> u64 {
    u64::from_ne_bytes([BOS; 8]) & events_mask(order - 1)
}

/// The position class of `step`, shifted into its byte (0 without `use_position`).
#[inline]
fn position_bits(config: &NgramConfig, steps_per_bar: usize, step: usize) -> u64 {
    if !config.use_position {
        return 0;
    }
    // `validate_with` guarantees steps_per_bar >= 1 here.
    let in_bar = step % steps_per_bar.max(1);
    let class = match config.position_classes {
        PositionClasses::Step => in_bar as u64,
        PositionClasses::Metric if in_bar == 0 => 0,
        PositionClasses::Metric => 1 + u64::from(in_bar.trailing_zeros()),
    };
    (class & 0xFF) << POSITION_SHIFT
}

/// The number of position classes a configuration can produce.
pub(crate) fn num_position_classes(config: &NgramConfig, steps_per_bar: usize) -> u64 {
    match (config.use_position, config.position_classes) {
        (false, _) => 1,
        (true, PositionClasses::Step) => steps_per_bar as u64,
        (true, PositionClasses::Metric) => 1 + u64::from(usize::BITS),
    }
}

fn out_of_range(encoding: EventEncoding, melody: usize, step: usize, event: Event) -> CorpusError {
    CorpusError::EventOutOfRange {
        melody,
        step,
        event,
        encoding: encoding.to_string(),
        max: (encoding.num_events() - 1) as u8,
    }
}
