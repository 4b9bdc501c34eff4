//! Priors read one step at a time: models of melodies that say how likely each next event
//! is, paid as a reward term.
//!
//! A prior term is asked one log-probability per env step, on the hot path of training, so
//! every prior kind goes through one interface built for that: [`StepPrior`]. The prior keeps
//! what it needs of the melody so far in a small [`StepPrior::Cursor`] (the n-gram model's
//! automaton state, the style model's last pitch and interval), moved past each event as the
//! env takes it. A step then costs a few table reads whatever the melody's length, with no
//! allocation. [`PriorTerm`] turns any prior into a [`Reward`] term with a floor, and keeps the
//! cursor in step with the env: a step that does not follow the one before (a new melody
//! without a reset, a duet answer after a call the term never saw) seeks the cursor from the
//! history instead.
//!
//! The kinds: the corpus n-gram model ([`CorpusReward`](crate::corpus::CorpusReward)) and
//! the harmony-conditioned style model ([`StyleReward`](crate::style::StyleReward)). The
//! behaviour-cloned network of KL-controlled fine-tuning reads the observation rather than a
//! history, and is scored in batches by the rollout (`cadenza-agents`, `pg::prior`).

use std::fmt;

use cadenza_env::encoding::Event;
use cadenza_env::reward::{Reward, Setting, StepContext};

/// A floor that is not a finite number ([`PriorTerm::with_floor`]).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("floor must be a finite number, got {0}")]
pub struct InvalidFloor(pub f64);

/// A model of melodies that scores each next event from a cursor over the melody so far.
pub trait StepPrior: Clone + fmt::Debug + Send + Sync + 'static {
    /// What the prior remembers of a melody between steps: a few numbers.
    type Cursor: Copy + fmt::Debug + Send + Sync;
    /// Name of the reward term.
    const TERM: &'static str;
    /// The cursor after `history` (all events of the melody so far, from its first step), read
    /// from scratch.
    fn seek(&self, setting: &Setting, history: &[Event]) -> Self::Cursor;
    /// The score of `event` at `step` after the melody the cursor stands for: a natural-log
    /// probability (`-inf` for an event outside the encoding), or `None` where the prior does
    /// not judge this kind of event (the term then pays 0).
    fn score(
        &self,
        cursor: &Self::Cursor,
        setting: &Setting,
        step: usize,
        event: Event,
    ) -> Option<f64>;
    /// Moves the cursor past `event`.
    fn advance(&self, cursor: &mut Self::Cursor, setting: &Setting, event: Event);
}

/// Where a term's cursor stands: after `step` events, the last of which was `last`.
#[derive(Debug, Clone, Copy)]
struct Position<C> {
    step: usize,
    last: Event,
    cursor: C,
}

/// A [`StepPrior`] as a reward term: its score of each step's event, clamped below at a floor.
///
/// The floor keeps one event the prior finds near impossible from dominating an episode's
/// return. The prior itself is shared (it holds its model behind an `Arc`), so vectorised
/// environments hold one copy; each term keeps its own cursor.
#[derive(Debug, Clone)]
pub struct PriorTerm<P: StepPrior> {
    pub(crate) prior: P,
    floor: f64,
    position: Option<Position<P::Cursor>>,
}

impl<P: StepPrior> PriorTerm<P> {
    /// Name of the term.
    pub const TERM: &'static str = P::TERM;
    /// Default floor: `e^-10 ≈ 4.5e-5`, far below any event a model of real melodies makes
    /// plausible, yet only a few times the penalty of an ordinary unlikely event.
    pub const DEFAULT_FLOOR: f64 = -10.0;

    /// A term on `prior` with the default floor.
    pub fn with_prior(prior: P) -> Self {
        Self {
            prior,
            floor: Self::DEFAULT_FLOOR,
            position: None,
        }
    }

    /// Sets the floor of the term; it must be finite (and is usually negative).
    pub fn with_floor(mut self, floor: f64) -> Result<Self, InvalidFloor> {
        if !floor.is_finite() {
            return Err(InvalidFloor(floor));
        }
        self.floor = floor;
        Ok(self)
    }

    /// The floor of the term.
    pub fn floor(&self) -> f64 {
        self.floor
    }

    /// The prior.
    pub fn prior(&self) -> &P {
        &self.prior
    }
}

impl<P: StepPrior> Reward for PriorTerm<P> {
    fn term_names(&self) -> Vec<String> {
        vec![P::TERM.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.position = None;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let cursor = match self.position {
            Some(p) if p.step == ctx.step && ctx.history.last() == Some(&p.last) => p.cursor,
            _ => self.prior.seek(ctx.setting, ctx.history),
        };
        // `max` also maps the -inf of an event outside the encoding to the floor.
        let value = self
            .prior
            .score(&cursor, ctx.setting, ctx.step, ctx.action)
            .map_or(0.0, |v| v.max(self.floor));
        let mut next = cursor;
        self.prior.advance(&mut next, ctx.setting, ctx.action);
        self.position = Some(Position {
            step: ctx.step + 1,
            last: ctx.action,
            cursor: next,
        });
        if let Some(term) = terms.first_mut() {
            *term = value;
        }
        value
    }
}
