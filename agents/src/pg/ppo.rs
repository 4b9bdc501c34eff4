//! Proximal Policy Optimization with a clipped surrogate objective.
//!
//! Schulman, Wolski, Dhariwal, Radford, Klimov, "Proximal Policy Optimization Algorithms"
//! (2017), arXiv:1707.06347, with the details of Huang et al., "The 37 Implementation Details
//! of Proximal Policy Optimization" (ICLR blog track, 2022): GAE(λ), advantage normalisation
//! per minibatch, an optionally clipped value loss, an entropy bonus, minibatch epochs,
//! global gradient-norm clipping, learning-rate annealing and Adam with ε = 1e-5.
//!
//! Recurrent (GRU) policies are trained with truncated backpropagation through time over the
//! rollout segment: minibatches are whole sub-env sequences, replayed from the hidden state
//! stored at the start of the rollout, with the state zeroed at every episode start inside.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::Kind;

use super::models::{Activation, ModelConfig, Net};
use super::optim::Optim;
use super::rollout::LossConfig;
use super::rollout::{self, Batch, Rollout};
use super::trainer::{Algorithm, PgAgent, TrainingConfig};
use crate::agent::{AgentError, LearnStats};
use cadenza_env::TaskSpec;

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// PPO's hyper-parameters. The defaults are tuned for the `rl-tuner` task: with 200,000
/// steps they reach a mean sampled return of 97-124 over seeds 0-5, 1000 distinct melodies
/// of 1000 each, where Stable-Baselines3's PPO defaults (10 epochs of 64-transition
/// minibatches, learning rate 3e-4, tanh) reach 75.7. Four gradient steps of 1024 transitions
/// per 2048-step rollout and a larger learning rate cost a fraction of SB3's compute, and ReLU
/// layers cost less than tanh ones; the entropy bonus keeps the ReLU policy from collapsing
/// onto a few melodies (at 0.05, 986 of 1000 were distinct on one seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpoConfig {
    /// The network, the rollout and the schedule. Default: 64 envs of 32 steps per rollout,
    /// Adam at 5e-3 annealed to 0, γ = 0.99, two 64-wide ReLU layers per tower.
    #[serde(flatten)]
    pub training: TrainingConfig,
    /// GAE's λ. Default 0.95, range [0, 1].
    pub gae_lambda: f64,
    /// Passes over each rollout. Default 2, range 1..=100.
    pub epochs: usize,
    /// Transitions per minibatch (recurrent policies: rounded to whole sequences). Default
    /// 1024, range 1..=1048576.
    pub minibatch_size: usize,
    /// Clipping range ε of the probability ratio. Default 0.2, range (0, 1].
    pub clip_coef: f64,
    /// Clip the value loss around the old values with the same ε. Default false.
    pub clip_value: bool,
    /// The loss. Default: entropy bonus at 0.07 (0.0 when fine-tuning a prior: see
    /// [`PpoConfig::for_prior`]), value loss at 0.5, gradient norm clipped at 0.5, advantages
    /// normalised per minibatch.
    #[serde(flatten)]
    pub loss: LossConfig,
    /// Stop a rollout's epochs early once the approximate KL exceeds this. Default none.
    pub target_kl: Option<f64>,
    /// β of the per-step penalty `−β · log π(a|s)` added to every reward, the policy's half
    /// of a KL penalty. Default 0.0 (off); on improvisation tasks 0.3, where an
    /// [`EntropyTarget`] tunes it. Range [0, 1e6].
    ///
    /// Without a prior it is an entropy reward: the return becomes `Σ r + β · H(π)` along
    /// the trajectory, maximum-entropy RL with temperature `β`.
    ///
    /// With `β · log p_prior(a|s)` in the reward (KL-controlled fine-tuning: the prior
    /// attached with [`Agent::attach_prior`](crate::Agent::attach_prior), or a
    /// [`PriorReward`](super::bc::PriorReward) in the env) the return becomes `Σ r − β · KL(π ‖ p_prior)` along the
    /// trajectory: the KL-regularised objective of Sequence Tutor (Jaques et al., 2017,
    /// `r_MT/c + log p − log π`, times `c = β`) and of Ziegler et al. (2019). Without it the
    /// reward `log p_prior` alone is maximised by the prior's mode, and the policy collapses
    /// onto a few melodies. `log π` is the sampling policy's, fixed per rollout, as a reward.
    pub kl_coef: f64,
    /// Tune `kl_coef` to hold the policy's entropy at a target (`kl_coef` is then where
    /// the tuning starts). Default none (a fixed `kl_coef`); on improvisation tasks a target
    /// of 1.2 nats from 0.3 ([`PpoConfig::defaults_for`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entropy_target: Option<EntropyTarget>,
}

/// A target for the policy's entropy, held by tuning `kl_coef`, the weight `β` of the
/// entropy reward `−β · log π(a|s)`, as Soft Actor-Critic tunes its temperature (Haarnoja et
/// al., "Soft Actor-Critic Algorithms and Applications", 2018, arXiv:1812.05905, section 5;
/// for discrete actions Christodoulou, 2019, arXiv:1910.07207): after each update,
/// `ln β ← ln β + rate · (entropy − H)`, with `H` the policy's mean entropy over the
/// update's minibatches, and `β` kept in [[`MIN_KL_COEF`], [`MAX_KL_COEF`]].
///
/// Without a prior, the reward `−β · log π` makes PPO maximise the return plus `β` times
/// the policy's entropy along the trajectory (maximum-entropy RL), whose best policy is
/// the Boltzmann policy `softmax(Q / β)`: it stays random where randomness costs little
/// return and certain where it does not, and a deterministic policy is no resting point (a
/// rare action earns `−β log π`, a large reward). The entropy bonus of the loss
/// (`ent_coef`) is no substitute: its gradient vanishes as the policy becomes
/// deterministic, so a tuned `ent_coef` swung the policy between collapse and noise
/// (entropy 0.15 ↔ 2.0 nats, every 200 k steps on the ii-V-I) instead of holding a target.
///
/// The coefficient is part of the agent's state: checkpoints carry it, and the metrics
/// report it as `kl_coef`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntropyTarget {
    /// The mean entropy to hold, in nats per step (the uniform policy over `n` allowed
    /// actions has `ln n`). Default 1.2, range (0, 20].
    pub entropy: f64,
    /// The step of `ln β` per update and nat off the target; 0 keeps `kl_coef` fixed.
    /// Default 0.05, range [0, 10].
    pub rate: f64,
}

/// The least `kl_coef` a target tunes to: low enough that the entropy reward is off in
/// effect, high enough that it comes back within tens of updates.
pub const MIN_KL_COEF: f64 = 1e-4;
/// The greatest `kl_coef` a target tunes to: an entropy reward ten times the improvisation
/// reward's per-step scale, which plays uniformly random notes.
pub const MAX_KL_COEF: f64 = 10.0;

impl Default for EntropyTarget {
    fn default() -> Self {
        Self {
            entropy: 1.2,
            rate: 0.05,
        }
    }
}

impl EntropyTarget {
    fn validate(&self) -> Result<(), AgentError> {
        super::config::check_real("entropy_target.entropy", self.entropy, 0.0, 20.0, true)?;
        super::config::check_real("entropy_target.rate", self.rate, 0.0, 10.0, false)
    }

    /// `kl_coef` after an update in which the policy's mean entropy was `entropy`: up when
    /// it fell short of the target, down when it went over (unchanged when not finite).
    pub fn next_coef(&self, coef: f64, entropy: f64) -> f64 {
        if !entropy.is_finite() {
            return coef;
        }
        let step = self.rate * (self.entropy - entropy);
        (coef.clamp(MIN_KL_COEF, MAX_KL_COEF).ln() + step)
            .exp()
            .clamp(MIN_KL_COEF, MAX_KL_COEF)
    }
}

/// What a PPO agent learns besides its weights: the `kl_coef` its entropy target has tuned
/// (none without a target, or with a rate of 0: the coefficient is the config's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoState {
    /// The weight of the entropy reward now.
    pub kl_coef: f64,
}

impl Default for PpoConfig {
    fn default() -> Self {
        let model = ModelConfig {
            activation: Activation::Relu,
            ..ModelConfig::default()
        };
        Self {
            training: TrainingConfig {
                model,
                num_envs: 64,
                num_steps: 32,
                learning_rate: 5e-3,
                ..TrainingConfig::default()
            },
            gae_lambda: 0.95,
            epochs: 2,
            minibatch_size: 1024,
            clip_coef: 0.2,
            clip_value: false,
            loss: LossConfig {
                ent_coef: 0.07,
                ..LossConfig::default()
            },
            target_kl: None,
            kl_coef: 0.0,
            entropy_target: None,
        }
    }
}

impl PpoConfig {
    /// The defaults for `task`: [`PpoConfig::default`] for `rl-tuner` (the settings its
    /// published figures were measured with), and for improvisation tasks the same with an
    /// entropy reward (`kl_coef` from 0.3) tuned to hold 1.2 nats ([`EntropyTarget`]).
    ///
    /// The improvisation reward (`improv` preset) pays for a melody that follows the chords,
    /// moves by step and varies its rhythm, and a policy that plays the one best such melody
    /// every time earns the most of it. With the entropy bonus alone PPO finds that melody:
    /// on the ii-V-I in C, 2 M steps, seed 0, its entropy fell from 0.85 nats at 200 k
    /// steps to 0.02 at 300 k, and the 100 sampled melodies were one (an `ent_coef` of 0.15
    /// still collapsed, 2 distinct; 0.3 kept them apart but played a random line). The
    /// entropy reward keeps the policy random where randomness is cheap; `docs/ppo.md` has
    /// the measurements on three progressions and three seeds.
    pub fn defaults_for(task: &TaskSpec) -> Self {
        match task.improv {
            None => Self::default(),
            Some(_) => Self {
                kl_coef: 0.3,
                entropy_target: Some(EntropyTarget::default()),
                ..Self::default()
            },
        }
    }

    /// The defaults of KL-controlled fine-tuning from a behaviour-cloned prior with network
    /// `model`: the settings its recipe was tuned and measured with
    /// (docs/learning-from-examples.md): 32 envs × 64 steps, minibatches of 512, learning
    /// rate 3e-3, and no entropy bonus, since the KL penalty's `−log π` already rewards
    /// entropy. A config given with `--prior` changes fields from these (the recommended
    /// recipe's `kl-ppo.toml`: one epoch at 4.5e-3 and a value tower 64 wide).
    pub fn for_prior(model: ModelConfig) -> Self {
        let defaults = Self::default();
        Self {
            training: TrainingConfig {
                model,
                num_envs: 32,
                num_steps: 64,
                learning_rate: 3e-3,
                ..defaults.training
            },
            minibatch_size: 512,
            loss: LossConfig {
                ent_coef: 0.0,
                ..defaults.loss
            },
            ..defaults
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Agent: the shared policy-gradient agent, with GAE and clipped-surrogate epochs
// ---------------------------------------------------------------------------------------------

/// A PPO agent. Build one with [`crate::pg::build`].
pub type PpoAgent = PgAgent<PpoConfig>;

impl Algorithm for PpoConfig {
    const KIND: &'static str = "ppo";
    const TIMES_PHASES: bool = true;
    type State = Option<PpoState>;

    fn initial_state(&self) -> Option<PpoState> {
        self.entropy_target
            .as_ref()
            .filter(|target| target.rate > 0.0)
            .map(|_| PpoState {
                kl_coef: self.kl_coef.clamp(MIN_KL_COEF, MAX_KL_COEF),
            })
    }

    fn defaults_for(task: &TaskSpec) -> Self {
        PpoConfig::defaults_for(task)
    }

    fn shared(&self) -> (&TrainingConfig, &LossConfig) {
        (&self.training, &self.loss)
    }

    fn validate(&self) -> Result<(), AgentError> {
        super::config::check_count("epochs", self.epochs, 100)?;
        super::config::check_count("minibatch_size", self.minibatch_size, 1 << 20)?;
        super::config::check_real("gae_lambda", self.gae_lambda, 0.0, 1.0, false)?;
        super::config::check_real("clip_coef", self.clip_coef, 0.0, 1.0, true)?;
        if let Some(kl) = self.target_kl {
            super::config::check_real("target_kl", kl, 0.0, 1e6, true)?;
        }
        if let Some(target) = &self.entropy_target {
            target.validate()?;
        }
        super::config::check_real("kl_coef", self.kl_coef, 0.0, 1e6, false)
    }

    // -----------------------------------------------------------------------------------------
    // Advantages: GAE(λ) over the segment, in plain Rust
    // -----------------------------------------------------------------------------------------
    fn advantages(&self, state: &Option<PpoState>, ro: &mut Rollout, stats: &mut LearnStats) {
        // The policy's half of the KL penalty (the entropy reward, without a prior), before
        // the advantages see the rewards.
        let kl_coef = state.map_or(self.kl_coef, |s| s.kl_coef);
        if kl_coef > 0.0 {
            let logp = rollout::penalise_policy_logp(ro, kl_coef as f32);
            stats.scalars.insert("policy_logp".to_string(), logp);
        }
        let gamma = self.training.gamma as f32;
        rollout::compute_advantages(ro, gamma, self.gae_lambda as f32);
    }

    // -----------------------------------------------------------------------------------------
    // Update: epochs of clipped-surrogate minibatch steps over one rollout
    // -----------------------------------------------------------------------------------------
    fn update(
        &self,
        state: &mut Option<PpoState>,
        net: &Net,
        opt: &mut Optim,
        ro: &Rollout,
        rng: &mut ChaCha8Rng,
        stats: &mut LearnStats,
    ) {
        let batch = Batch::new(ro, net.device());
        let (mut pg_sum, mut v_sum, mut ent_sum, mut kl_sum, mut clip_sum, mut updates) =
            (0.0, 0.0, 0.0, 0.0, 0.0, 0usize);
        'epochs: for _ in 0..self.epochs {
            for ids in rollout::minibatches(ro, net.is_recurrent(), self.minibatch_size, rng) {
                let ev = rollout::evaluate(net, ro, &batch, &ids);
                let (logp, entropy) = ev.action_logp_entropy(&batch);
                let w = ev.weights(&batch);
                let old_logp = ev.gather(&batch.logprobs);
                let mut adv = ev.gather(&batch.advantages);
                if self.loss.norm_adv {
                    adv = w.standardize(&adv);
                }
                let log_ratio = &logp - &old_logp;
                let ratio = log_ratio.exp();
                let pg1 = -&adv * &ratio;
                let pg2 = -&adv * ratio.clamp(1.0 - self.clip_coef, 1.0 + self.clip_coef);
                let pg_loss = w.mean(&pg1.maximum(&pg2));

                let returns = ev.gather(&batch.returns);
                let v_loss = if self.clip_value {
                    let old_v = ev.gather(&batch.values);
                    let clipped =
                        &old_v + (&ev.values - &old_v).clamp(-self.clip_coef, self.clip_coef);
                    let a = (&ev.values - &returns).square();
                    let b = (clipped - &returns).square();
                    w.mean(&a.maximum(&b)) * 0.5
                } else {
                    w.mean(&(&ev.values - &returns).square()) * 0.5
                };
                let ent = w.mean(&entropy);
                let loss = &pg_loss - &ent * self.loss.ent_coef + &v_loss * self.loss.vf_coef;

                opt.backward_step_clip(&loss, self.loss.max_grad_norm);

                let (kl, clipfrac) = tch::no_grad(|| {
                    let kl = w.mean(&((&ratio - 1.0) - &log_ratio));
                    let clipped = (&ratio - 1.0).abs().gt(self.clip_coef).to_kind(Kind::Float);
                    (kl.double_value(&[]), w.mean(&clipped).double_value(&[]))
                });
                pg_sum += pg_loss.double_value(&[]);
                v_sum += v_loss.double_value(&[]);
                ent_sum += ent.double_value(&[]);
                kl_sum += kl;
                clip_sum += clipfrac;
                updates += 1;
                if self.target_kl.is_some_and(|t| kl > t) {
                    break 'epochs;
                }
            }
        }
        let n = updates.max(1) as f64;
        for (name, v) in [
            ("policy_loss", pg_sum / n),
            ("value_loss", v_sum / n),
            ("entropy", ent_sum / n),
            ("approx_kl", kl_sum / n),
            ("clip_fraction", clip_sum / n),
        ] {
            stats.scalars.insert(name.to_string(), v);
        }
        // The entropy target: the entropy reward's weight for the next rollout.
        if let (Some(state), Some(target)) = (state.as_mut(), &self.entropy_target) {
            if updates > 0 {
                state.kl_coef = target.next_coef(state.kl_coef, ent_sum / n);
            }
            stats.scalars.insert("kl_coef".to_string(), state.kl_coef);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One update moves `ln β` by `rate` per nat off the target: up below it, down above it,
    /// within the bounds.
    #[test]
    fn the_entropy_target_steps_the_coefficient_in_log_space() {
        let target = EntropyTarget {
            entropy: 1.2,
            rate: 0.05,
        };
        let up = target.next_coef(0.2, 0.2);
        assert!((up - 0.2 * (0.05f64).exp()).abs() < 1e-12, "{up}");
        let down = target.next_coef(0.2, 2.2);
        assert!((down - 0.2 * (-0.05f64).exp()).abs() < 1e-12, "{down}");
        assert_eq!(target.next_coef(0.2, 1.2), 0.2);
        assert_eq!(target.next_coef(MAX_KL_COEF, 0.0), MAX_KL_COEF);
        assert_eq!(target.next_coef(MIN_KL_COEF, 5.0), MIN_KL_COEF);
        // A coefficient of 0 (off) starts from the least one; no entropy, no step.
        assert_eq!(target.next_coef(0.0, 5.0), MIN_KL_COEF);
        assert_eq!(target.next_coef(0.2, f64::NAN), 0.2);
        let still = EntropyTarget {
            rate: 0.0,
            ..target
        };
        assert_eq!(still.next_coef(0.2, 0.0), 0.2);
        // Held below the target, it doubles in about 14 updates (ln 2 / 0.05).
        let mut coef = 0.1;
        for _ in 0..14 {
            coef = target.next_coef(coef, 0.2);
        }
        assert!((coef / 0.1 - 2.0).abs() < 0.02, "{coef}");
    }

    /// `rl-tuner` keeps the defaults its figures were measured with; improvisation tasks
    /// add the entropy target, which a fresh agent's state starts from.
    #[test]
    fn defaults_follow_the_task() {
        let rl_tuner = TaskSpec::by_name("rl-tuner", None).unwrap();
        assert_eq!(PpoConfig::defaults_for(&rl_tuner), PpoConfig::default());
        assert_eq!(PpoConfig::default().initial_state(), None);
        let improv = TaskSpec::by_name("improv", None).unwrap();
        let config = PpoConfig::defaults_for(&improv);
        assert_eq!(config.entropy_target, Some(EntropyTarget::default()));
        assert_eq!(config.initial_state(), Some(PpoState { kl_coef: 0.3 }));
        // A rate of 0 is the fixed coefficient: no state to carry.
        let fixed = PpoConfig {
            entropy_target: Some(EntropyTarget {
                rate: 0.0,
                ..EntropyTarget::default()
            }),
            ..config.clone()
        };
        assert_eq!(fixed.initial_state(), None);
        // Without a target the config serialises as before it existed.
        let json = serde_json::to_value(PpoConfig::default()).unwrap();
        assert!(json.get("entropy_target").is_none(), "{json}");
        let bad = PpoConfig {
            entropy_target: Some(EntropyTarget {
                entropy: 0.0,
                ..EntropyTarget::default()
            }),
            ..config
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("entropy_target.entropy"), "{err}");
    }

    /// The target's fields are known on every task, though `rl-tuner`'s defaults leave the
    /// table out; unknown ones inside it are refused by name.
    #[test]
    fn an_entropy_target_can_be_given_on_any_task() {
        let given: toml::Table = "[entropy_target]\nentropy = 0.9\n".parse().unwrap();
        let config: PpoConfig = super::super::config::parse(&given).unwrap();
        assert_eq!(
            config.entropy_target,
            Some(EntropyTarget {
                entropy: 0.9,
                ..EntropyTarget::default()
            })
        );
        let typo: toml::Table = "[entropy_target]\nentrpy = 0.9\n".parse().unwrap();
        let err = super::super::config::parse::<PpoConfig>(&typo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("entrpy"), "{err}");
        let unknown: toml::Table = "entropy_targets = 1\n".parse().unwrap();
        let err = super::super::config::parse::<PpoConfig>(&unknown)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `entropy_targets`"), "{err}");
    }
}
