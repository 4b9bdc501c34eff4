//! Trains a policy-gradient agent on the `rl-tuner` task with Magenta's reward and reports
//! training speed, the mean return of 1000 sampled melodies and how many are distinct.
//!
//! `cargo run --release --features tch --example pg_tune -- ppo 200000 0 [CONFIG.toml]`
//!
//! Without `--features tch` it only says how to enable it.

#[cfg(feature = "tch")]
fn main() -> anyhow::Result<()> {
    use cadenza::agents::pg::{self, BuildSpec, DeviceChoice};
    use cadenza::agents::{ActMode, TrainEnv};
    use cadenza::env::vector::VecEnv;
    use cadenza::env::{ComposeEnv, Reward, TaskSpec};
    use cadenza::reward::rl_tuner::RlTunerReward;
    use rand::SeedableRng;
    use std::collections::HashSet;
    use std::time::Instant;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().map_or("ppo", String::as_str);
    let steps: u64 = args.get(1).map_or(Ok(200_000), |s| s.parse())?;
    let seed: u64 = args.get(2).map_or(Ok(0), |s| s.parse())?;
    let config: toml::Table = match args.get(3) {
        Some(path) => std::fs::read_to_string(path)?.parse()?,
        None => toml::Table::new(),
    };
    let task = TaskSpec::rl_tuner();
    let reward = || Box::new(RlTunerReward::default()) as Box<dyn Reward>;

    let started = Instant::now();
    let num_envs = pg::recommended_envs(kind, &config, Some(&task))?;
    let envs: Vec<TrainEnv> = (0..num_envs)
        .map(|_| ComposeEnv::new(task.clone(), reward()))
        .collect();
    let mut envs = VecEnv::new(envs, 1)?;
    envs.reset(Some(seed))?;
    let mut agent = pg::build(&BuildSpec {
        kind,
        config: &config,
        task: Some(&task),
        obs_dim: envs.obs_dim(),
        num_actions: envs.num_actions(),
        device: DeviceChoice::Auto,
        seed,
        total_steps: Some(steps),
    })?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let stats = agent.learn(&mut envs, steps, &mut rng)?;
    let train_s = started.elapsed().as_secs_f64();

    let t0 = Instant::now();
    let mode = ActMode::Sample { temperature: 1.0 };
    let samples = pg::sample_melodies(agent.as_mut(), &task, reward(), 1000, 1_000_000, mode)?;
    let n = samples.len() as f64;
    let mean = samples.iter().map(|s| s.total).sum::<f64>() / n;
    let std = (samples
        .iter()
        .map(|s| (s.total - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let distinct = samples
        .iter()
        .map(|s| &s.events)
        .collect::<HashSet<_>>()
        .len();
    let greedy = pg::sample_melodies(
        agent.as_mut(),
        &task,
        reward(),
        100,
        1_000_000,
        ActMode::Greedy,
    )?;
    let greedy_mean = greedy.iter().map(|s| s.total).sum::<f64>() / greedy.len() as f64;
    let last = &stats.episode_returns[stats.episode_returns.len().saturating_sub(500)..];
    println!(
        "{kind}: {} steps in {train_s:.2} s ({:.0} steps/s, {num_envs} envs); train return (last 500) {:.1}; \
         sampled return {mean:.1} ± {std:.1}, {distinct} distinct of 1000; greedy {greedy_mean:.1}; eval {:.2} s; {:?}",
        stats.steps,
        stats.steps as f64 / train_s,
        last.iter().sum::<f64>() / last.len().max(1) as f64,
        t0.elapsed().as_secs_f64(),
        stats.scalars,
    );
    Ok(())
}

#[cfg(not(feature = "tch"))]
fn main() {
    eprintln!("pg_tune needs the policy-gradient agents: run it with `--features tch`");
}
