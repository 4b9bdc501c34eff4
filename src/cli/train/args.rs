//! `train`'s command-line arguments, as parsed (settled into a plan by `plan.rs`).

use clap::Args;
use std::path::PathBuf;

/// Train an agent and write a run directory (metrics, checkpoint, samples).
///
/// Writes DIR/metrics.jsonl (one evaluation per line: sampled and greedy returns, per-term
/// means, steps/s), DIR/checkpoint/, DIR/run.json, DIR/learning_curve.svg, DIR/summary.json
/// and DIR/samples/*.mid, then prints a summary: the final return, Magenta's RL Tuner metrics
/// of 100 sampled melodies, and one melody as a piano roll. Ctrl-C, SIGTERM and SIGHUP stop
/// at the next chunk boundary and still save everything; a run killed outright keeps its
/// last checkpoint (written with run.json every `checkpoint_secs`, 10 by default).
/// Continue with --resume DIR (the checkpoint keeps the optimizer's moments and the steps
/// trained, so schedules and Adam go on where they stopped). One process writes a run
/// directory at a time; --out must be new, empty, or the run being resumed.
///
/// Agents: q (Q-learning), sarsa, expected-sarsa, soft-q (soft Q-learning); with `--features tch` also reinforce, a2c,
/// ppo. --config takes a TOML file of the agent's fields (e.g. `gamma = 0.9`,
/// `epsilon_end = 0.02`, `temperature = 1.0` for the tabular agents) and an optional [train]
/// table (`eval_every`, `eval_episodes`, `eval_seed`, `chunk_steps`, `checkpoint_secs`,
/// `temperature`, `num_envs`; a field given there wins over the agent's and the resumed
/// run's, flags win over it).
///
/// Learning from examples (`--features tch`): `--agent bc --in CORPUS_DIR` behaviour-clones a
/// prior (the policy network as a next-event model of the melodies; --config takes the
/// fields of `BcConfig`: `epochs`, `learning_rate`, `[model]`, ...); `--agent ppo --prior DIR
/// --kl-coef C` fine-tunes it with the reward r_theory + C * (log p_prior(a|s) - log pi(a|s))
/// (Sequence Tutor's r_MT/c + log p - log pi, times c: a per-step KL penalty), starting from
/// the prior's weights. Without other flags it runs the recipe docs/learning-from-examples.md
/// measured best: the rl-tuner-kl reward, C = 3, PPO at gamma 0.8 with one epoch, 200,000
/// steps (`cadenza train --agent ppo --prior runs/prior --out runs/tuned`).
///
/// Example: cadenza train --task rl-tuner --agent q --steps 5000000 --seed 1 --out runs/q1
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Task to learn: rl-tuner, improv or duet.
    #[arg(long, default_value = "rl-tuner")]
    pub(super) task: String,
    /// TOML file configuring the task (improv and duet).
    #[arg(long, value_name = "FILE.toml")]
    pub(super) task_config: Option<PathBuf>,
    /// Agent: q, sarsa, expected-sarsa, soft-q (or reinforce, a2c, ppo with `--features tch`).
    #[arg(long, required_unless_present = "resume")]
    pub(super) agent: Option<String>,
    /// Env steps to train for [default: 2000000 (200000 with --prior, 3000000 for tabular
    /// agents on rl-tuner's recipe), or the [train] table's `steps`].
    #[arg(long)]
    pub(super) steps: Option<u64>,
    /// Seed of everything random in training.
    #[arg(long, default_value_t = 0)]
    pub(super) seed: u64,
    /// TOML file with the agent's config and an optional [train] table.
    #[arg(long, value_name = "FILE.toml")]
    pub(super) config: Option<PathBuf>,
    /// Reward preset or TOML definition [default: the task's front-door recipe: rl-tuner+ on
    /// rl-tuner (Magenta's own reward is `--reward rl-tuner`), the task's own reward
    /// elsewhere; with --prior, the KL recipe's rl-tuner-kl on rl-tuner].
    #[arg(long, value_name = "PRESET|TOML")]
    pub(super) reward: Option<String>,
    /// Continue the run in this directory (its run.json and checkpoint).
    #[arg(long, value_name = "DIR")]
    pub(super) resume: Option<PathBuf>,
    /// Run directory to write (created; new, empty, or the run being resumed).
    #[arg(long, value_name = "DIR")]
    pub(super) out: PathBuf,
    /// Evaluate every this many steps [default: steps / 20, at least 10000].
    #[arg(long)]
    pub(super) eval_every: Option<u64>,
    /// Episodes per evaluation [default: 100].
    #[arg(long)]
    pub(super) eval_episodes: Option<usize>,
    /// Environments trained on together [default: 8 for tabular agents, which step them in
    /// turn to hide memory latency; per agent for policy-gradient ones].
    #[arg(long)]
    pub(super) envs: Option<usize>,
    /// Softmax temperature of sampled evaluations and samples [default: the agent's].
    #[arg(long)]
    pub(super) temperature: Option<f64>,
    /// Number of sample melodies written to DIR/samples.
    #[arg(long, default_value_t = 4)]
    pub(super) samples: usize,
    /// No progress bar.
    #[arg(long)]
    pub(super) quiet: bool,
    /// Where policy-gradient networks run: cpu, cuda (an error without a usable GPU) or auto.
    #[arg(long, default_value = "auto")]
    pub(super) device: String,
    /// Melodies to behaviour-clone (--agent bc): a directory of .mid and .abc files.
    #[arg(long = "in", value_name = "CORPUS_DIR")]
    pub(super) input: Option<PathBuf>,
    /// Fine-tune from this behaviour-cloned prior (--agent ppo): its run or checkpoint dir.
    #[arg(long, value_name = "DIR")]
    pub(super) prior: Option<PathBuf>,
    /// c of the KL-controlled reward r_theory + c * (log p_prior(a|s) - log pi(a|s)) (with
    /// --prior) [default: 3 with the KL recipe's reward rl-tuner-kl, whose PPO settings
    /// (gamma 0.8, one epoch) come with it; 15 with another reward and PPO's own defaults,
    /// which keeps the tuned melodies within 20% of the prior's corpus NLL].
    #[arg(long, value_name = "C")]
    pub(super) kl_coef: Option<f64>,
}
