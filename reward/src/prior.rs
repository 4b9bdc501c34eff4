//! Priors read one step at a time: models of melodies that say how likely each next event
//! is, paid as a reward term.
//!
//! A prior term is asked one log-probability per env step, on the hot path of training, so
//! every prior kind goes through one interface built for that: [`StepPrior`]. The prior keeps
//! what it needs of the melody so far in a [`StepPrior::Cursor`], moved past each event as
//! the env takes it, so a step costs the same whatever the melody's length. [`PriorTerm`]
//! turns any prior into a [`Reward`] term with a floor, and keeps the cursor in step with the
//! env: a step that does not follow the one before (a new melody without a reset, a duet
//! answer after a call the term never saw) seeks the cursor from the history instead.
//!
//! The kinds, each in the crate of its model:
//! - the corpus n-gram model ([`CorpusReward`](crate::corpus::CorpusReward)): the cursor is a state
//!   of the model's automaton of contexts, two table reads a step;
//! - the harmony-conditioned style model ([`StyleReward`](crate::style::StyleReward)): the cursor is
//!   the last pitch, interval and note length, a table read or one pass over the pitches;
//! - the behaviour-cloned network of KL-controlled fine-tuning (`cadenza_agents::pg::bc`,
//!   `NetPrior`): the cursor holds the recent events its observation shows and a recurrent
//!   prior's state, one forward pass a step. That is the reference path; a policy-gradient
//!   rollout scores the same network for all its steps at once, in batched passes without
//!   autograd (`RolloutPrior`), since it holds the observations already.

use std::fmt;
use std::time::Instant;

use cadenza_env::encoding::Event;
use cadenza_env::reward::{Reward, Setting, StepContext};

/// A floor that is not a finite number ([`PriorTerm::with_floor`]).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("floor must be a finite number, got {0}")]
pub struct InvalidFloor(pub f64);

/// A model of melodies that scores each next event from a cursor over the melody so far.
///
/// Implemented by the n-gram model, the style model and (in `cadenza-agents`) the
/// behaviour-cloned network, whose cursor holds its recent events or its recurrent state.
pub trait StepPrior: fmt::Debug + Send + 'static {
    /// What the prior remembers of a melody between steps.
    type Cursor: fmt::Debug + Send;
    /// Name of the reward term.
    const TERM: &'static str;
    /// The cursor after `history` (all events of the melody so far, from its first step), read
    /// from scratch.
    fn seek(&self, setting: &Setting, history: &[Event]) -> Self::Cursor;
    /// Scores `event` at `step` after the melody the cursor stands for, then moves the cursor
    /// past it (one call, as a network computes both in one forward pass). The score is a
    /// natural-log probability (`-inf` for an event outside the encoding), or `None` where
    /// the prior does not judge this step (the term then pays 0).
    fn step(
        &self,
        cursor: &mut Self::Cursor,
        setting: &Setting,
        step: usize,
        event: Event,
    ) -> Option<f64>;
    /// Starts loading what the cursor's next step reads, where the prior's tables outgrow
    /// the caches (see [`Reward::prefetch`]). Changes nothing else; the default does nothing.
    #[inline]
    fn prefetch(&self, cursor: &Self::Cursor) {
        let _ = cursor;
    }
}

/// Where a term's cursor stands: after `step` events, the last of which was `last`.
#[derive(Debug, Clone)]
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
        let mut cursor = match self.position.take() {
            Some(p) if p.step == ctx.step && ctx.history.last() == Some(&p.last) => p.cursor,
            _ => self.prior.seek(ctx.setting, ctx.history),
        };
        // `max` also maps the -inf of an event outside the encoding to the floor.
        let value = self
            .prior
            .step(&mut cursor, ctx.setting, ctx.step, ctx.action)
            .map_or(0.0, |v| v.max(self.floor));
        self.position = Some(Position {
            step: ctx.step + 1,
            last: ctx.action,
            cursor,
        });
        if let Some(term) = terms.first_mut() {
            *term = value;
        }
        value
    }

    #[inline]
    fn prefetch(&self) {
        if let Some(position) = &self.position {
            self.prior.prefetch(&position.cursor);
        }
    }

    fn step_timing_priors(
        &mut self,
        ctx: &StepContext<'_>,
        terms: &mut [f64],
        prior_seconds: &mut Option<f64>,
    ) -> f64 {
        let started = Instant::now();
        let value = self.step(ctx, terms);
        *prior_seconds.get_or_insert(0.0) += started.elapsed().as_secs_f64();
        value
    }
}
