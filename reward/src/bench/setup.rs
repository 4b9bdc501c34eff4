//! Setting a bench up: the rewards it runs (built-in presets and terms, TOML definitions,
//! your own) and which of their values each reported term reads.

use super::builtin::builtin_detects;
use super::config::BenchConfig;
use super::corrupt::Corruption;
use super::error::BenchError;
use super::melody::Frame;
use crate::improv::{self, ImprovReward};
use crate::registry;
use crate::rl_tuner::{RlTunerReward, TERM_NAMES as RL_TUNER_TERMS};
use cadenza_env::{InScaleReward, Reward, ZeroReward};
use std::path::Path;
use std::sync::Arc;

/// Makes a fresh reward; the bench calls it once per thread and per timing.
pub type RewardFactory = Arc<dyn Fn() -> Box<dyn Reward> + Send + Sync>;

/// Which value of a reward a term reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    /// The `i`-th value written to the terms slice.
    Term(usize),
    /// The returned total.
    Total,
}

/// One reported term: the value of its reward it reads and what it is meant to detect.
#[derive(Debug, Clone)]
pub(super) struct TermSpec {
    pub(super) name: String,
    pub(super) column: Column,
    pub(super) detects: Vec<Corruption>,
    pub(super) why: String,
}

impl TermSpec {
    /// A term called `name` that reads `column` and detects what the built-in term or
    /// preset `builtin` does (nothing, when `builtin` is not built in).
    fn builtin(name: &str, builtin: &str, column: Column) -> Self {
        let (detects, why) = builtin_detects(builtin).unwrap_or_default();
        Self {
            name: name.to_string(),
            column,
            detects,
            why: why.to_string(),
        }
    }
}

/// One reward as the bench runs it: timed as a whole, reporting one or more terms.
pub(super) struct Subject {
    pub(super) name: String,
    pub(super) frame: Frame,
    pub(super) factory: RewardFactory,
    pub(super) terms: Vec<TermSpec>,
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject")
            .field("name", &self.name)
            .field("frame", &self.frame)
            .field("terms", &self.terms)
            .finish_non_exhaustive()
    }
}

/// A set of reward terms to bench. See the module docs.
#[derive(Debug)]
pub struct Bench {
    pub(super) config: BenchConfig,
    pub(super) subjects: Vec<Subject>,
}

impl Bench {
    /// An empty bench.
    pub fn new(config: BenchConfig) -> Result<Self, BenchError> {
        config.validate()?;
        Ok(Self {
            config,
            subjects: Vec::new(),
        })
    }

    /// A bench of every built-in preset and term (`rl-tuner`, `rl-tuner+`, `improv`,
    /// `in-scale`, `zero`). The `duet` preset is left out: on melodies without a call it is
    /// the `improv` preset, and its answer terms are judged by the duet case
    /// ([`crate::bench::duet`]), real call/response pairs against shuffled ones. So is
    /// `rl-tuner-kl`: it is `rl-tuner` with one bonus raised, meant to be paid beside a
    /// prior's log-probability, which a bench of rewards alone does not have.
    pub fn with_builtins(config: BenchConfig) -> Result<Self, BenchError> {
        let mut bench = Self::new(config)?;
        for name in Self::builtin_presets() {
            bench.add_reward(name)?;
        }
        Ok(bench)
    }

    /// The presets [`Bench::with_builtins`] benches: every built-in one but `duet` and
    /// `rl-tuner-kl` (see there).
    pub fn builtin_presets() -> impl Iterator<Item = &'static str> {
        registry::PRESET_NAMES
            .iter()
            .copied()
            .filter(|&name| name != "duet" && name != "rl-tuner-kl")
    }

    /// The configuration.
    pub fn config(&self) -> &BenchConfig {
        &self.config
    }

    /// Names of the terms in the bench, in report order.
    pub fn term_names(&self) -> Vec<String> {
        self.subjects
            .iter()
            .flat_map(|s| s.terms.iter().map(|t| t.name.clone()))
            .collect()
    }

    fn has_term(&self, name: &str) -> bool {
        self.subjects
            .iter()
            .any(|s| s.terms.iter().any(|t| t.name == name))
    }

    /// Adds a reward by name: a preset (its terms and its total), a single built-in term, or
    /// the path of a `.toml` reward definition (its terms, prefixed by the file stem, and its
    /// total). Terms already in the bench are not added again.
    pub fn add_reward(&mut self, spec: &str) -> Result<(), BenchError> {
        match spec {
            "rl-tuner" => {
                for name in RL_TUNER_TERMS {
                    self.add_rl_tuner_term(name);
                }
                self.add_rl_tuner_term("rl-tuner");
            }
            "improv" => {
                self.add_builtin("improv", "improv", Frame::Improv, || {
                    Box::new(ImprovReward::preset())
                });
                for name in improv::IMPROV_TERM_NAMES {
                    self.add_reward(name)?;
                }
            }
            "rl-tuner+" => {
                self.add_builtin("rl-tuner+", "rl-tuner+", Frame::RlTuner, || {
                    registry::preset("rl-tuner+").expect("a built-in preset builds")
                });
            }
            "in-scale" | "in_scale" => {
                self.add_builtin("in_scale", "in-scale", Frame::RlTuner, || {
                    Box::new(InScaleReward)
                });
            }
            "zero" => self.add_builtin("zero", "zero", Frame::RlTuner, || Box::new(ZeroReward)),
            name if RL_TUNER_TERMS.contains(&name) => self.add_rl_tuner_term(name),
            name => match improv::TermEntry::find(name) {
                Some(term) => {
                    self.add_builtin(name, name, Frame::Improv, move || term.with_defaults());
                }
                None if name.ends_with(".toml") || Path::new(name).is_file() => {
                    self.add_toml(Path::new(name))?;
                }
                None => {
                    return Err(BenchError::UnknownReward {
                        name: name.to_string(),
                    })
                }
            },
        }
        Ok(())
    }

    /// Adds a built-in reward reported as one term, its total, unless the term is in already.
    fn add_builtin<F>(&mut self, term: &str, reward: &str, frame: Frame, factory: F)
    where
        F: Fn() -> Box<dyn Reward> + Send + Sync + 'static,
    {
        if !self.has_term(term) {
            self.push(Subject {
                name: reward.to_string(),
                frame,
                factory: Arc::new(factory),
                terms: vec![TermSpec::builtin(term, term, Column::Total)],
            });
        }
    }

    /// The RL Tuner reward's subject, created on first use; `name` is one of its terms or
    /// `rl-tuner` for its total.
    fn add_rl_tuner_term(&mut self, name: &str) {
        if self.has_term(name) {
            return;
        }
        let column = RL_TUNER_TERMS
            .iter()
            .position(|t| *t == name)
            .map_or(Column::Total, Column::Term);
        let spec = TermSpec::builtin(name, name, column);
        match self.subjects.iter_mut().find(|s| s.name == "rl-tuner") {
            Some(subject) => subject.terms.push(spec),
            None => self.push(Subject {
                name: "rl-tuner".into(),
                frame: Frame::RlTuner,
                factory: Arc::new(|| Box::new(RlTunerReward::default())),
                terms: vec![spec],
            }),
        }
    }

    /// Adds a reward defined in TOML (see [`crate::registry`]): each of its terms as
    /// `STEM.TERM` and its total as `STEM`. It is scored in the improv frame when one of its
    /// parts is an improvisation term, else in the RL Tuner frame.
    pub fn add_toml(&mut self, path: &Path) -> Result<(), BenchError> {
        let sum = registry::from_toml_file(path)?;
        let stem = path.file_stem().map_or_else(
            || "reward".to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        if self.has_term(&stem) {
            return Err(BenchError::DuplicateTerm { name: stem });
        }
        let names = sum.term_names();
        let is_improv = |n: &str| {
            n.starts_with("improv.")
                || improv::IMPROV_TERM_NAMES.contains(&n.rsplit('.').next().unwrap_or(n))
        };
        let frame = if names.iter().any(|n| is_improv(n)) {
            Frame::Improv
        } else {
            Frame::RlTuner
        };
        let mut terms: Vec<TermSpec> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let base = n.rsplit('.').next().unwrap_or(n);
                TermSpec::builtin(&format!("{stem}.{n}"), base, Column::Term(i))
            })
            .collect();
        let mut all: Vec<Corruption> = terms.iter().flat_map(|t| t.detects.clone()).collect();
        all.sort();
        all.dedup();
        terms.push(TermSpec {
            name: stem.clone(),
            column: Column::Total,
            detects: all,
            why: "the union of its terms' corruptions".to_string(),
        });
        let path = path.to_path_buf();
        // The file was just read successfully; should it change, the factory still makes a
        // reward (a zero one) rather than panicking in a worker thread.
        let sum = Arc::new(std::sync::Mutex::new(Some(sum)));
        let factory: RewardFactory = Arc::new(move || {
            if let Some(first) = sum.lock().ok().and_then(|mut s| s.take()) {
                return Box::new(first) as Box<dyn Reward>;
            }
            match registry::from_toml_file(&path) {
                Ok(again) => Box::new(again),
                Err(_) => Box::new(ZeroReward),
            }
        });
        self.push(Subject {
            name: stem,
            frame,
            factory,
            terms,
        });
        Ok(())
    }

    /// Adds your own term: `factory` makes a [`Reward`] whose total is the term's value per
    /// step; `detects` lists the corruptions it is meant to detect (checked in
    /// [`BenchReport::failures`](super::BenchReport::failures)). The reward is scored in `frame`.
    pub fn add_term<F>(
        &mut self,
        name: &str,
        frame: Frame,
        detects: &[Corruption],
        factory: F,
    ) -> Result<&mut Self, BenchError>
    where
        F: Fn() -> Box<dyn Reward> + Send + Sync + 'static,
    {
        if self.has_term(name) {
            return Err(BenchError::DuplicateTerm {
                name: name.to_string(),
            });
        }
        self.push(Subject {
            name: name.to_string(),
            frame,
            factory: Arc::new(factory),
            terms: vec![TermSpec {
                name: name.to_string(),
                column: Column::Total,
                detects: detects.to_vec(),
                why: String::new(),
            }],
        });
        Ok(self)
    }

    fn push(&mut self, subject: Subject) {
        self.subjects.push(subject);
    }
}
