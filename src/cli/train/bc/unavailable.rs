//! `train --agent bc` and `--prior` in a build without libtorch: one clear error each.

use crate::cli::train::args::TrainArgs;
use crate::cli::train::plan::PriorSpec;
use anyhow::Result;
use cadenza_agents::{Agent, DeviceChoice};
use cadenza_env::TaskSpec;

fn no_tch(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} needs the policy networks on libtorch, which this build leaves out: build with \
         `--features tch` (cargo build --release --features tch; run scripts/libtorch.sh first)"
    )
}

/// `cadenza train --agent bc`.
pub fn run(_args: &TrainArgs) -> Result<()> {
    Err(no_tch("--agent bc"))
}

/// A PPO agent started from the prior's weights.
pub fn ppo_from_prior(
    _prior: &PriorSpec,
    _config: toml::Table,
    _task: &TaskSpec,
    _total_steps: u64,
    _seed: u64,
    _device: DeviceChoice,
) -> Result<(Box<dyn Agent>, serde_json::Value)> {
    Err(no_tch("--prior"))
}
