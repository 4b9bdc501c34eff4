//! Behaviour cloning and KL-controlled fine-tuning on tiny synthetic corpora (seconds).
#![cfg(feature = "tch")]

use cadenza_agents::pg::bc::{self, BcConfig, PriorReward, Tune};
use cadenza_agents::pg::{self, BuildSpec, DeviceChoice, ModelConfig, PolicyArch};
use cadenza_agents::{Agent, AgentError};
use cadenza_env::{Reward, TaskSpec, ZeroReward};
use std::path::PathBuf;

/// A fresh directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cadenza-bc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Tunes built from two-bar phrases: C major arpeggios with holds, so the next event is
/// predictable from the last four.
fn corpus(n: usize) -> Vec<Tune> {
    let phrase: [u8; 8] = [14, 1, 18, 1, 21, 1, 26, 0];
    (0..n)
        .map(|i| Tune {
            events: phrase
                .iter()
                .cycle()
                .skip(i % 3)
                .take(64 + 8 * (i % 4))
                .copied()
                .collect(),
            steps_per_bar: 16,
        })
        .collect()
}

fn config(arch: PolicyArch) -> BcConfig {
    BcConfig {
        model: ModelConfig {
            arch,
            hidden: 32,
            layers: 1,
            ..ModelConfig::default()
        },
        epochs: 15,
        learning_rate: 1e-2,
        batch_size: if arch == PolicyArch::Gru { 4 } else { 64 },
        ..BcConfig::default()
    }
}

fn trained(arch: PolicyArch) -> (bc::BcAgent, Vec<f64>) {
    let task = TaskSpec::rl_tuner();
    let tunes = corpus(12);
    let (train, valid) = bc::split(&tunes, 0.25, 0);
    assert_eq!((train.len(), valid.len()), (9, 3));
    let mut curve = Vec::new();
    let agent = bc::train(
        &config(arch),
        &task,
        &train,
        &valid,
        DeviceChoice::Cpu,
        0,
        |r| curve.push(r.valid_nll.unwrap()),
    )
    .unwrap();
    (agent, curve)
}

#[test]
fn bc_lowers_validation_nll_mlp_and_gru() {
    let uniform = (38f64).ln();
    for arch in [PolicyArch::Mlp, PolicyArch::Gru] {
        let (_, curve) = trained(arch);
        let last = *curve.last().unwrap();
        assert!(
            last < 0.5 * uniform && last < curve[0],
            "{arch:?}: validation NLL per epoch {curve:?} (uniform {uniform:.3})"
        );
    }
}

#[test]
fn prior_checkpoint_round_trips() {
    let task = TaskSpec::rl_tuner();
    let (agent, _) = trained(PolicyArch::Mlp);
    let dir = temp_dir("roundtrip");
    agent.save(&dir).unwrap();
    let loaded = pg::load(&dir, DeviceChoice::Cpu).unwrap();
    assert_eq!(loaded.kind(), bc::KIND);
    assert!(pg::load_kind(&dir, "bc", DeviceChoice::Cpu).is_ok());
    let tunes = corpus(5);
    let before = bc::score(&agent, &task, &tunes).unwrap();
    let after = bc::score_checkpoint(&dir, &task, &tunes, DeviceChoice::Cpu).unwrap();
    assert_eq!(before, after);
    assert_eq!(
        after.events,
        tunes.iter().map(|t| t.events.len()).sum::<usize>()
    );
    // A PPO run starts from the prior's weights, so it scores the same on the corpus.
    let ppo = bc::ppo_from_prior(&dir, None, &task, DeviceChoice::Cpu, 3, Some(1000)).unwrap();
    let ppo_dir = temp_dir("roundtrip-ppo");
    ppo.save(&ppo_dir).unwrap();
    let again = bc::score_checkpoint(&ppo_dir, &task, &tunes, DeviceChoice::Cpu).unwrap();
    assert_eq!(before, again);
    // The prior-shaped reward adds one term, c * log p_prior <= 0.
    let mut reward = PriorReward::new(Box::new(ZeroReward), &dir, &task, 0.5).unwrap();
    assert_eq!(reward.term_names().last().unwrap(), "prior_logp");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&ppo_dir);
    reward.reset(&task.setting);
}

/// A fine-tuned network may have a value tower of its own width (`[model] critic_hidden`):
/// the policy is still the prior's (same scores on the corpus), the value tower is rebuilt at
/// that width and saved with it, the run learns and reloads, and the rest of `[model]` must
/// still be the prior's.
#[test]
fn a_narrower_value_tower_keeps_the_prior_s_policy() {
    use cadenza_env::vector::VecEnv;
    use cadenza_env::ComposeEnv;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    let task = TaskSpec::rl_tuner();
    let (agent, _) = trained(PolicyArch::Mlp);
    let dir = temp_dir("critic");
    agent.save(&dir).unwrap();
    let tunes = corpus(5);
    let before = bc::score(&agent, &task, &tunes).unwrap();
    let config = "kl_coef = 0.5\nnum_steps = 16\nminibatch_size = 64\n[model]\ncritic_hidden = 8\n";
    let mut ppo =
        bc::ppo_from_prior(&dir, Some(config), &task, DeviceChoice::Cpu, 3, Some(512)).unwrap();
    let out = temp_dir("critic-ppo");
    ppo.save(&out).unwrap();
    assert_eq!(
        bc::score_checkpoint(&out, &task, &tunes, DeviceChoice::Cpu).unwrap(),
        before
    );
    let sizes: std::collections::HashMap<String, Vec<i64>> =
        tch::Tensor::read_safetensors(out.join(pg::WEIGHTS_FILE))
            .unwrap()
            .into_iter()
            .map(|(name, t)| (name, t.size()))
            .collect();
    assert_eq!(sizes["actor.0.weight"], [32, 184]);
    assert_eq!(sizes["critic.0.weight"], [8, 184]);
    assert_eq!(sizes["v.weight"], [1, 8]);
    // It learns, with the prior attached, and the checkpoint reloads at its widths.
    ppo.attach_prior(&dir, &task, 0.5).unwrap();
    let envs = (0..4)
        .map(|_| ComposeEnv::new(task.clone(), Box::new(ZeroReward) as Box<dyn Reward>))
        .collect();
    let mut envs = VecEnv::new(envs, 1).unwrap();
    envs.reset(Some(3)).unwrap();
    let stats = ppo
        .learn(&mut envs, 512, &mut ChaCha8Rng::seed_from_u64(3))
        .unwrap();
    assert!(stats.scalars["value_loss"].is_finite());
    ppo.save(&out).unwrap();
    assert!(pg::load(&out, DeviceChoice::Cpu).is_ok());
    // The policy's network stays the prior's: another width is refused, naming `model`.
    let e = failure(bc::ppo_from_prior(
        &dir,
        Some("[model]\nhidden = 64\ncritic_hidden = 8\n"),
        &task,
        DeviceChoice::Cpu,
        3,
        None,
    ));
    assert!(e.to_string().contains("model"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&out);
}

/// KL-controlled fine-tuning (prior reward plus PPO's `−β log π` penalty) is a function of its
/// seed, and logs the policy's mean log-probability.
#[test]
fn kl_fine_tuning_is_deterministic_and_logs_the_penalty() {
    use cadenza_env::vector::VecEnv;
    use cadenza_env::ComposeEnv;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    let task = TaskSpec::rl_tuner();
    let (agent, _) = trained(PolicyArch::Mlp);
    let dir = temp_dir("kl");
    agent.save(&dir).unwrap();
    let run = || {
        let config = "kl_coef = 0.5\nnum_steps = 16\nminibatch_size = 64";
        let mut ppo =
            bc::ppo_from_prior(&dir, Some(config), &task, DeviceChoice::Cpu, 3, Some(1024))
                .unwrap();
        ppo.attach_prior(&dir, &task, 0.5).unwrap();
        let envs = (0..4)
            .map(|_| ComposeEnv::new(task.clone(), Box::new(ZeroReward) as Box<dyn Reward>))
            .collect();
        let mut envs = VecEnv::new(envs, 1).unwrap();
        envs.reset(Some(3)).unwrap();
        let stats = ppo
            .learn(&mut envs, 1024, &mut ChaCha8Rng::seed_from_u64(3))
            .unwrap();
        let out = temp_dir(&format!("kl-out-{:?}", std::thread::current().id()));
        ppo.save(&out).unwrap();
        let weights = std::fs::read(out.join(pg::WEIGHTS_FILE)).unwrap();
        let _ = std::fs::remove_dir_all(&out);
        (stats, weights)
    };
    let (a, b) = (run(), run());
    assert_eq!(a.0.episode_returns, b.0.episode_returns);
    assert!(a.1 == b.1, "weights differ between two runs of one seed");
    // The prior is sharp on this corpus, so the policy's log-probabilities are too.
    let logp = a.0.scalars["policy_logp"];
    assert!(logp < 0.0 && logp > -(38f64).ln(), "{logp}");
    // A bad coefficient names its field.
    let e = failure(bc::ppo_from_prior(
        &dir,
        Some("kl_coef = -1"),
        &task,
        DeviceChoice::Cpu,
        3,
        None,
    ));
    assert!(e.to_string().contains("kl_coef"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The prior a PPO agent scores in batches ([`Agent::attach_prior`]: an MLP prior the whole
/// rollout after it, a GRU prior all envs of a step at once) gives the rewards
/// the per-env reference (`PriorReward`, one forward pass per env step) gives: over the first rollout (same seed, same policy, so the
/// same actions) the episode returns on a zero theory reward, `Σ c · log p_prior`, agree to
/// float rounding (a batched matrix product may round differently from one row). MLP and GRU
/// priors (the GRU's state zeroed at every episode start); the envs are seeded apart so the
/// sub-envs' melodies differ.
#[test]
fn batched_prior_scores_equal_the_per_env_reward() {
    use cadenza_env::vector::VecEnv;
    use cadenza_env::ComposeEnv;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    let task = TaskSpec::rl_tuner();
    for arch in [PolicyArch::Mlp, PolicyArch::Gru] {
        let (agent, _) = trained(arch);
        let dir = temp_dir(&format!("batched-{arch:?}"));
        agent.save(&dir).unwrap();
        // The policy's half off (kl_coef = 0), so the returns are the prior's half alone; one
        // rollout of 4 envs x 48 steps (one call of 100 steps) crosses an episode boundary.
        let config = "kl_coef = 0.0\nnum_steps = 48\nminibatch_size = 64";
        let returns = |batched: bool| {
            let mut ppo =
                bc::ppo_from_prior(&dir, Some(config), &task, DeviceChoice::Cpu, 5, Some(4096))
                    .unwrap();
            let envs = (0..4)
                .map(|_| {
                    let reward: Box<dyn Reward> = if batched {
                        Box::new(ZeroReward)
                    } else {
                        Box::new(PriorReward::new(Box::new(ZeroReward), &dir, &task, 0.5).unwrap())
                    };
                    ComposeEnv::new(task.clone(), reward)
                })
                .collect();
            if batched {
                ppo.attach_prior(&dir, &task, 0.5).unwrap();
            }
            let mut envs = VecEnv::new(envs, 1).unwrap();
            envs.reset(Some(9)).unwrap();
            let stats = ppo
                .learn(&mut envs, 100, &mut ChaCha8Rng::seed_from_u64(5))
                .unwrap();
            (
                stats.episode_returns,
                stats.scalars.get("prior_logp").copied(),
            )
        };
        let (reference, none) = returns(false);
        let (batched, logp) = returns(true);
        assert_eq!(none, None, "{arch:?}: no prior attached, no prior_logp");
        assert_eq!(reference.len(), 4, "{arch:?}: one episode per env");
        assert_eq!(batched.len(), reference.len(), "{arch:?}");
        for (b, r) in batched.iter().zip(&reference) {
            assert!(*r < 0.0, "{arch:?}: a return of log-probabilities, {r}");
            assert!(
                (b - r).abs() <= 1e-4 * r.abs(),
                "{arch:?}: batched {batched:?} against per-env {reference:?}"
            );
        }
        let logp = logp.expect("the mean log p_prior is logged");
        assert!(logp < 0.0 && logp > -(38f64).ln(), "{arch:?}: {logp}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The behaviour-cloned network is a `StepPrior` like the n-gram and style models: a term on
/// it pays `log p_prior` of each step (no floor given here that binds), and a term taken up
/// half-way through a melody (its cursor sought from the history: a GRU replays its passes)
/// pays what the term that stepped from the start pays, MLP and GRU.
#[test]
fn the_network_prior_is_a_step_prior_that_seeks() {
    use cadenza_env::reward::StepContext;
    use cadenza_reward::prior::PriorTerm;
    let task = TaskSpec::rl_tuner();
    let melody = &corpus(1)[0].events[..32];
    for arch in [PolicyArch::Mlp, PolicyArch::Gru] {
        let (agent, _) = trained(arch);
        let dir = temp_dir(&format!("step-prior-{arch:?}"));
        agent.save(&dir).unwrap();
        let open = || {
            PriorTerm::with_prior(bc::NetPrior::load(&dir, &task).unwrap())
                .with_floor(-1e9)
                .unwrap()
        };
        let step = |term: &mut PriorTerm<bc::NetPrior>, t: usize| {
            let ctx = StepContext {
                setting: &task.setting,
                step: t,
                history: &melody[..t],
                action: melody[t],
            };
            term.step(&ctx, &mut [0.0])
        };
        let mut whole = open();
        whole.reset(&task.setting);
        let from_start: Vec<f64> = (0..melody.len()).map(|t| step(&mut whole, t)).collect();
        assert!(
            from_start.iter().all(|&v| v < 0.0 && v > -20.0),
            "{arch:?}: {from_start:?}"
        );
        let mut late = open();
        late.reset(&task.setting);
        for (t, &expected) in from_start.iter().enumerate().skip(13) {
            assert_eq!(step(&mut late, t), expected, "{arch:?}, step {t}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The error of a call expected to fail (agents have no `Debug`, so no `unwrap_err`).
fn failure<T>(result: Result<T, AgentError>) -> AgentError {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn checkpoint_message(e: AgentError) -> String {
    match e {
        AgentError::Checkpoint { path, message } => format!("{path}: {message}"),
        other => panic!("expected a checkpoint error, got {other}"),
    }
}

#[test]
fn prior_of_wrong_kind_or_shape_is_a_clear_error() {
    let task = TaskSpec::rl_tuner();
    // A PPO checkpoint is not a prior.
    let ppo = pg::build(&BuildSpec {
        kind: "ppo",
        config: &toml::Table::new(),
        task: None,
        obs_dim: 184,
        num_actions: 38,
        device: DeviceChoice::Cpu,
        seed: 0,
        total_steps: None,
    })
    .unwrap();
    let dir = temp_dir("wrong-kind");
    ppo.save(&dir).unwrap();
    let e = failure(bc::ppo_from_prior(
        &dir,
        None,
        &task,
        DeviceChoice::Cpu,
        0,
        None,
    ));
    let text = checkpoint_message(e);
    assert!(
        text.contains("'ppo'") && text.contains("behaviour-cloned"),
        "{text}"
    );
    let e = failure(PriorReward::new(Box::new(ZeroReward), &dir, &task, 0.5));
    assert!(checkpoint_message(e).contains("'ppo'"));

    // A prior for another observation size.
    let (agent, _) = trained(PolicyArch::Mlp);
    let shaped = temp_dir("wrong-shape");
    agent.save(&shaped).unwrap();
    let header = shaped.join(pg::HEADER_FILE);
    let text = std::fs::read_to_string(&header).unwrap();
    std::fs::write(
        &header,
        text.replace("\"obs_dim\": 184", "\"obs_dim\": 200"),
    )
    .unwrap();
    let e = failure(bc::ppo_from_prior(
        &shaped,
        None,
        &task,
        DeviceChoice::Cpu,
        0,
        None,
    ));
    let text = checkpoint_message(e);
    assert!(text.contains("200") && text.contains("184"), "{text}");
    std::fs::write(
        &header,
        std::fs::read_to_string(&header)
            .unwrap()
            .replace("200", "184"),
    )
    .unwrap();

    // A PPO config whose network differs from the prior's.
    let e = failure(bc::ppo_from_prior(
        &shaped,
        Some("[model]\nhidden = 64\n"),
        &task,
        DeviceChoice::Cpu,
        0,
        None,
    ));
    assert!(
        matches!(e, AgentError::Config { ref field, .. } if field == "model"),
        "{e}"
    );

    // A missing prior names its file.
    let e = failure(bc::ppo_from_prior(
        &temp_dir("empty"),
        None,
        &task,
        DeviceChoice::Cpu,
        0,
        None,
    ));
    assert!(checkpoint_message(e).contains(pg::HEADER_FILE));
    for d in [dir, shaped] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn bad_configs_and_corpora_are_refused() {
    let task = TaskSpec::rl_tuner();
    let bad = BcConfig {
        valid_fraction: 1.0,
        ..BcConfig::default()
    };
    assert!(
        matches!(bad.validate(), Err(AgentError::Config { ref field, .. }) if field == "valid_fraction")
    );
    let out_of_range = vec![Tune {
        events: vec![14, 99],
        steps_per_bar: 16,
    }];
    let e = failure(bc::train(
        &config(PolicyArch::Mlp),
        &task,
        &out_of_range,
        &[],
        DeviceChoice::Cpu,
        0,
        |_| {},
    ));
    assert!(e.to_string().contains("99"), "{e}");
    let empty = vec![Tune {
        events: Vec::new(),
        steps_per_bar: 16,
    }];
    let cfg = config(PolicyArch::Mlp);
    assert!(bc::train(&cfg, &task, &empty, &[], DeviceChoice::Cpu, 0, |_| {}).is_err());
}
