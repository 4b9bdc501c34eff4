//! A conformance checker: Gymnasium's `check_env`, check by check, for any [`Environment`].
//!
//! Run it on every environment you build (the crate's tests run it on every registered task):
//!
//! ```
//! use cadenza_env::{check::check_env, ComposeEnv, TaskSpec, ZeroReward};
//! let report = check_env(|| ComposeEnv::new(TaskSpec::rl_tuner(), ZeroReward));
//! assert!(report.passed(), "{report}");
//! ```
//!
//! Gymnasium's soft checks (warnings) stay warnings here, except a non-finite reward, which
//! fails. Checks that Rust's types make impossible (tuple shapes, bool types, seed and options
//! parameters) are not ported; a render check does not apply because these environments
//! declare no render modes (MIDI export and piano rolls are separate functions).

use crate::env::{EnvError, Environment};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// Suspicious but allowed (Gymnasium warns).
    Warn(String),
    /// The env violates the contract.
    Fail(String),
}

/// One named check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Short name of the check.
    pub name: &'static str,
    /// What happened.
    pub outcome: Outcome,
}

/// All checks of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The checks in the order they ran.
    pub checks: Vec<CheckResult>,
}

impl CheckReport {
    /// Whether no check failed (warnings allowed).
    pub fn passed(&self) -> bool {
        !self
            .checks
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Fail(_)))
    }

    fn record(&mut self, name: &'static str, result: Result<Option<String>, String>) {
        let outcome = match result {
            Ok(None) => Outcome::Pass,
            Ok(Some(warning)) => Outcome::Warn(warning),
            Err(failure) => Outcome::Fail(failure),
        };
        self.checks.push(CheckResult { name, outcome });
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.outcome {
                Outcome::Pass => writeln!(f, "  ok    {}", c.name)?,
                Outcome::Warn(w) => writeln!(f, "  warn  {}: {w}", c.name)?,
                Outcome::Fail(e) => writeln!(f, "  FAIL  {}: {e}", c.name)?,
            }
        }
        Ok(())
    }
}

type CheckResultOf = Result<Option<String>, String>;

fn fail<T: fmt::Display>(what: T) -> String {
    what.to_string()
}

/// Runs every check on environments made by `make` (a fresh one where a check needs it).
pub fn check_env<E: Environment, F: Fn() -> E>(make: F) -> CheckReport {
    let mut report = CheckReport::default();
    report.record("action space", check_action_space(&make()));
    report.record("observation space", check_observation_space(&make()));
    report.record(
        "step before reset is an error",
        check_step_before_reset(&mut make()),
    );
    report.record("reset observation in space", check_reset(&mut make()));
    report.record("seeded reset determinism", check_seeded_reset(&mut make()));
    report.record("step on a sampled action", check_step(&mut make()));
    report.record("step determinism", check_step_determinism(&make));
    report.record(
        "out-of-range and masked actions",
        check_bad_actions(&mut make()),
    );
    report.record("full episodes", check_episodes(&mut make()));
    report.record("fresh data on every call", check_fresh_data(&mut make()));
    report.record("close twice", {
        let mut env = make();
        env.close();
        env.close();
        Ok(None)
    });
    report
}

fn check_action_space<E: Environment>(env: &E) -> CheckResultOf {
    if env.action_space().n == 0 {
        return Err("Discrete action space with n = 0".into());
    }
    Ok(None)
}

fn check_observation_space<E: Environment>(env: &E) -> CheckResultOf {
    let space = env.observation_space();
    if space.low.len() != space.high.len() {
        return Err(format!(
            "bounds differ in length: low {} vs high {}",
            space.low.len(),
            space.high.len()
        ));
    }
    if space.dim() == 0 {
        return Err("observation space has no coordinates".into());
    }
    if space.low.iter().zip(&space.high).any(|(l, h)| h < l) {
        return Ok(Some("high < low somewhere".into()));
    }
    if space.low.iter().zip(&space.high).any(|(l, h)| l == h) {
        return Ok(Some("low == high somewhere".into()));
    }
    if space.low.iter().chain(&space.high).any(|v| v.is_infinite()) {
        return Ok(Some("infinite bounds".into()));
    }
    Ok(None)
}

fn check_step_before_reset<E: Environment>(env: &mut E) -> CheckResultOf {
    match env.step(0) {
        Err(EnvError::NotReset) => Ok(None),
        Err(other) => Err(format!("expected NotReset, got: {other}")),
        Ok(_) => Err("step before reset succeeded".into()),
    }
}

fn check_reset<E: Environment>(env: &mut E) -> CheckResultOf {
    let (obs, info) = env.reset(Some(0)).map_err(fail)?;
    if !env.observation_space().contains(&obs) {
        return Err("reset observation outside the observation space".into());
    }
    if info.action_mask.len() != env.action_space().n {
        return Err(format!(
            "action mask has {} entries for {} actions",
            info.action_mask.len(),
            env.action_space().n
        ));
    }
    if !info.action_mask.iter().any(|&ok| ok) {
        return Err("the first action mask allows no action".into());
    }
    Ok(None)
}

fn check_seeded_reset<E: Environment>(env: &mut E) -> CheckResultOf {
    let (obs1, _) = env.reset(Some(123)).map_err(fail)?;
    let rng1 = env.rng_fingerprint();
    let (obs1b, _) = env.reset(None).map_err(fail)?;
    let (obs2, _) = env.reset(Some(123)).map_err(fail)?;
    let rng2 = env.rng_fingerprint();
    let (obs2b, _) = env.reset(None).map_err(fail)?;
    if obs1 != obs2 {
        return Err("reset(seed=123) twice gave different observations".into());
    }
    if rng1 != rng2 {
        return Err("reset(seed=123) twice left different RNG states".into());
    }
    if obs1b != obs2b {
        return Err("an unseeded reset after reset(seed=123) differs between runs".into());
    }
    env.reset(Some(456)).map_err(fail)?;
    if env.rng_fingerprint() == rng1 {
        return Err("reset(seed=456) left the same RNG state as reset(seed=123)".into());
    }
    Ok(None)
}

fn first_allowed(mask: &[bool]) -> Option<usize> {
    mask.iter().position(|&ok| ok)
}

fn check_step<E: Environment>(env: &mut E) -> CheckResultOf {
    let (_, info) = env.reset(Some(0)).map_err(fail)?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let action = env
        .action_space()
        .sample_masked(&mut rng, &info.action_mask)
        .ok_or("mask allows no action")?;
    let step = env.step(action).map_err(fail)?;
    if !env.observation_space().contains(&step.observation) {
        return Err("step observation outside the observation space".into());
    }
    if !step.reward.is_finite() {
        return Err(format!("reward {} is not finite", step.reward));
    }
    if step.info.terms.len() != step.info.term_names.len() {
        return Err("info has a different number of term values and names".into());
    }
    if step.info.terms.iter().any(|v| !v.is_finite()) {
        return Err("a reward term is not finite".into());
    }
    Ok(None)
}

fn check_step_determinism<E: Environment, F: Fn() -> E>(make: &F) -> CheckResultOf {
    let run = || -> Result<_, String> {
        let mut env = make();
        let (_, info) = env.reset(Some(7)).map_err(fail)?;
        let action = first_allowed(&info.action_mask).ok_or("mask allows no action")?;
        let step = env.step(action).map_err(fail)?;
        Ok((step, env.rng_fingerprint(), env.discrete_state()))
    };
    let (a, rng_a, state_a) = run()?;
    let (b, rng_b, state_b) = run()?;
    if a != b {
        return Err("the same seed and action gave different steps".into());
    }
    if rng_a != rng_b {
        return Err("the same seed and action left different RNG states".into());
    }
    if state_a != state_b {
        return Err("the same seed and action gave different discrete states".into());
    }
    if a.truncated {
        return Err("truncated after one step".into());
    }
    Ok(None)
}

fn check_bad_actions<E: Environment>(env: &mut E) -> CheckResultOf {
    let (_, info) = env.reset(Some(0)).map_err(fail)?;
    let n = env.action_space().n;
    match env.step(n) {
        Err(EnvError::ActionOutOfRange { .. }) => {}
        Err(other) => {
            return Err(format!(
                "action {n}: expected ActionOutOfRange, got {other}"
            ))
        }
        Ok(_) => return Err(format!("action {n} outside the space was accepted")),
    }
    if let Some(masked) = info.action_mask.iter().position(|&ok| !ok) {
        match env.step(masked) {
            Err(EnvError::ActionMasked { .. }) => {}
            Err(other) => return Err(format!("masked action: expected ActionMasked, got {other}")),
            Ok(_) => return Err(format!("masked action {masked} was accepted")),
        }
    }
    // A rejected action must leave the episode untouched.
    if env.elapsed_steps() != 0 {
        return Err("a rejected action advanced the episode".into());
    }
    Ok(None)
}

fn check_episodes<E: Environment>(env: &mut E) -> CheckResultOf {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for episode in 0..3u64 {
        let (_, mut info) = env.reset(Some(episode)).map_err(fail)?;
        let mut steps = 0usize;
        loop {
            let action = env
                .action_space()
                .sample_masked(&mut rng, &info.action_mask)
                .ok_or_else(|| format!("mask allows no action at step {steps}"))?;
            let step = env.step(action).map_err(fail)?;
            steps += 1;
            if !env.observation_space().contains(&step.observation) {
                return Err(format!("observation outside the space at step {steps}"));
            }
            if !step.reward.is_finite() {
                return Err(format!("non-finite reward at step {steps}"));
            }
            if step.truncated {
                return Err(format!(
                    "truncated at step {steps}: plain envs never truncate"
                ));
            }
            info = step.info;
            if step.terminated {
                break;
            }
            if steps > 1_000_000 {
                return Err("episode did not terminate within 1,000,000 steps".into());
            }
        }
        match env.step(0) {
            Err(EnvError::EpisodeOver { .. }) => {}
            Err(other) => {
                return Err(format!(
                    "step after the end: expected EpisodeOver, got {other}"
                ))
            }
            Ok(_) => return Err("step after the end of the episode succeeded".into()),
        }
    }
    Ok(None)
}

fn check_fresh_data<E: Environment>(env: &mut E) -> CheckResultOf {
    let (obs, info) = env.reset(Some(3)).map_err(fail)?;
    let kept = obs.clone();
    let action = first_allowed(&info.action_mask).ok_or("mask allows no action")?;
    let step = env.step(action).map_err(fail)?;
    if obs != kept {
        return Err("the reset observation changed after a step (aliasing)".into());
    }
    if std::ptr::eq(obs.as_ptr(), step.observation.as_ptr()) {
        return Err("reset and step returned the same observation buffer".into());
    }
    Ok(None)
}
