//! End-to-end tests of the policy-gradient agents on tiny budgets (seconds on 2 cores).
#![cfg(feature = "tch")]

use cadenza_agents::pg::{self, BuildSpec, DeviceChoice, Sample};
use cadenza_agents::{ActMode, Agent, AgentError, LearnStats, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, InScaleReward, Reward, TaskSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SAMPLE: ActMode = ActMode::Sample { temperature: 1.0 };

fn envs(task: &TaskSpec, n: usize, seed: u64) -> VecEnv<TrainEnv> {
    let envs = (0..n)
        .map(|_| ComposeEnv::new(task.clone(), Box::new(InScaleReward) as Box<dyn Reward>))
        .collect();
    let mut envs = VecEnv::new(envs, 1).unwrap();
    envs.reset(Some(seed)).unwrap();
    envs
}

fn table(config: &str) -> toml::Table {
    config.parse().unwrap()
}

fn build(kind: &str, config: &str, seed: u64, total: u64) -> Box<dyn Agent> {
    pg::build(&BuildSpec {
        kind,
        config: &table(config),
        task: None,
        obs_dim: 184,
        num_actions: 38,
        device: DeviceChoice::Cpu,
        seed,
        total_steps: Some(total),
    })
    .unwrap()
}

fn mean_return(agent: &mut dyn Agent, task: &TaskSpec, n: usize) -> f64 {
    let samples = pg::sample_melodies(agent, task, Box::new(InScaleReward), n, 99, SAMPLE).unwrap();
    samples.iter().map(|s| s.total).sum::<f64>() / n as f64
}

/// Trains `kind` on rl-tuner with the in-scale reward; the sampled return must rise clearly
/// above a random policy's (about -12.6: 15 of the 38 events are out-of-scale pitches).
fn learns(kind: &str, config: &str, steps: u64) {
    let task = TaskSpec::rl_tuner();
    let mut agent = build(kind, config, 1, steps);
    let before = mean_return(agent.as_mut(), &task, 50);
    let mut envs = envs(&task, 16, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let stats = agent.learn(&mut envs, steps, &mut rng).unwrap();
    assert!(stats.steps >= steps);
    assert!(!stats.episode_returns.is_empty());
    let after = mean_return(agent.as_mut(), &task, 50);
    assert!(
        after > before + 4.0 && after > -7.0,
        "{kind}: in-scale return {before:.2} -> {after:.2}"
    );
}

#[test]
fn ppo_learns_to_stay_in_scale() {
    learns(
        "ppo",
        "num_steps = 32\nminibatch_size = 256\nlearning_rate = 3e-3",
        12_000,
    );
}

#[test]
fn a2c_learns_to_stay_in_scale() {
    learns("a2c", "num_steps = 8\nlearning_rate = 3e-3", 12_000);
}

#[test]
fn reinforce_learns_to_stay_in_scale() {
    learns("reinforce", "num_steps = 33\nlearning_rate = 1e-2", 16_000);
}

#[test]
fn ppo_with_gru_learns_to_stay_in_scale() {
    learns(
        "ppo",
        "num_steps = 33\nminibatch_size = 264\nlearning_rate = 3e-3\n[model]\narch = \"gru\"\nhidden = 32",
        12_000,
    );
}

#[test]
fn masked_actions_are_never_taken() {
    // rl-tuner with every out-of-scale pitch masked out: stepping a masked action is an env
    // error, so training without error means no masked action was sampled.
    let mut task = TaskSpec::rl_tuner();
    task.mask_out_of_scale = true;
    for (kind, arch) in [("ppo", "mlp"), ("a2c", "mlp"), ("reinforce", "gru")] {
        let config = format!("num_steps = 16\n[model]\narch = \"{arch}\"\nhidden = 16");
        let mut agent = build(kind, &config, 3, 2_000);
        let mut envs = envs(&task, 8, 5);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        agent.learn(&mut envs, 2_000, &mut rng).unwrap();
        // A hot temperature spreads probability everywhere; masked actions still get none.
        let hot = ActMode::Sample { temperature: 50.0 };
        let samples =
            pg::sample_melodies(agent.as_mut(), &task, Box::new(InScaleReward), 20, 1, hot)
                .unwrap();
        assert!(
            samples.iter().all(|s| s.total == 0.0),
            "{kind}: sampled a masked pitch"
        );
    }
}

fn checkpoint_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cadenza-pg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn samples(agent: &mut dyn Agent, mode: ActMode) -> Vec<Sample> {
    pg::sample_melodies(
        agent,
        &TaskSpec::rl_tuner(),
        Box::new(InScaleReward),
        30,
        7,
        mode,
    )
    .unwrap()
}

#[test]
fn checkpoint_round_trip_gives_the_same_policy() {
    for (kind, arch) in [("ppo", "mlp"), ("a2c", "gru"), ("reinforce", "mlp")] {
        let config = format!("num_steps = 8\n[model]\narch = \"{arch}\"\nhidden = 16");
        let mut agent = build(kind, &config, 11, 1_000);
        let mut envs = envs(&TaskSpec::rl_tuner(), 4, 0);
        agent
            .learn(&mut envs, 500, &mut ChaCha8Rng::seed_from_u64(0))
            .unwrap();
        let dir = checkpoint_dir(&format!("round-{kind}"));
        agent.save(&dir).unwrap();
        let mut loaded = pg::load(&dir, DeviceChoice::Cpu).unwrap();
        assert_eq!(loaded.kind(), kind);
        // Sampling with the same seed consumes the same uniforms: equal melodies mean equal
        // distributions at every visited state (to the sampler's resolution); greedy too.
        assert_eq!(
            samples(agent.as_mut(), SAMPLE),
            samples(loaded.as_mut(), SAMPLE)
        );
        assert_eq!(
            samples(agent.as_mut(), ActMode::Greedy),
            samples(loaded.as_mut(), ActMode::Greedy)
        );
        // Saving again gives byte-identical weights.
        let again = checkpoint_dir(&format!("again-{kind}"));
        loaded.save(&again).unwrap();
        assert_eq!(
            std::fs::read(dir.join(pg::WEIGHTS_FILE)).unwrap(),
            std::fs::read(again.join(pg::WEIGHTS_FILE)).unwrap()
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&again);
    }
}

/// A checkpoint of a training agent carries its optimizer's state and its step count, so
/// that `--resume` goes on with them; a reload saves them back unchanged.
#[test]
fn checkpoints_carry_the_optimizer_state() {
    for kind in ["ppo", "a2c", "reinforce"] {
        let mut agent = build(kind, "num_steps = 8\n[model]\nhidden = 16", 3, 1_000);
        let mut envs = envs(&TaskSpec::rl_tuner(), 4, 0);
        let stats = agent
            .learn(&mut envs, 500, &mut ChaCha8Rng::seed_from_u64(0))
            .unwrap();
        let dir = checkpoint_dir(&format!("optim-{kind}"));
        agent.save(&dir).unwrap();
        let header: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(pg::HEADER_FILE)).unwrap())
                .unwrap();
        assert_eq!(header["steps_done"], stats.steps, "{kind}");
        assert_eq!(header["optimizer"], pg::OPTIMIZER_FILE, "{kind}");
        let loaded = pg::load(&dir, DeviceChoice::Cpu).unwrap();
        let again = checkpoint_dir(&format!("optim-again-{kind}"));
        loaded.save(&again).unwrap();
        for file in [pg::OPTIMIZER_FILE, pg::WEIGHTS_FILE] {
            assert!(
                std::fs::read(dir.join(file)).unwrap() == std::fs::read(again.join(file)).unwrap(),
                "{kind}: {file} changed in a save-load-save round trip"
            );
        }

        // A corrupt optimizer file is an error naming it.
        std::fs::write(dir.join(pg::OPTIMIZER_FILE), b"not tensors").unwrap();
        let err = checkpoint_error(pg::load(&dir, DeviceChoice::Cpu));
        assert!(err.contains(pg::OPTIMIZER_FILE), "{err}");

        // A checkpoint from before optimizer state existed still loads (fresh moments).
        std::fs::remove_file(dir.join(pg::OPTIMIZER_FILE)).unwrap();
        let mut old: serde_json::Value = header.clone();
        let fields = old.as_object_mut().unwrap();
        fields.remove("optimizer");
        fields.remove("steps_done");
        std::fs::write(dir.join(pg::HEADER_FILE), old.to_string()).unwrap();
        assert_eq!(pg::load(&dir, DeviceChoice::Cpu).unwrap().kind(), kind);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&again);
    }
}

fn checkpoint_error(result: Result<Box<dyn Agent>, AgentError>) -> String {
    match result {
        Err(e @ AgentError::Checkpoint { .. }) => e.to_string(),
        Err(e) => panic!("expected a checkpoint error, got {e}"),
        Ok(_) => panic!("expected a checkpoint error, got an agent"),
    }
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let agent = build("ppo", "[model]\nhidden = 8", 0, 10);
    let dir = checkpoint_dir("bad");
    agent.save(&dir).unwrap();
    let weights = dir.join(pg::WEIGHTS_FILE);
    let header = dir.join(pg::HEADER_FILE);

    // Another kind.
    let err = checkpoint_error(pg::load_kind(&dir, "a2c", DeviceChoice::Cpu));
    assert!(
        err.contains(pg::HEADER_FILE) && err.contains("'ppo'"),
        "{err}"
    );

    // Truncated weights.
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = checkpoint_error(pg::load(&dir, DeviceChoice::Cpu));
    assert!(err.contains(pg::WEIGHTS_FILE), "{err}");

    // Garbage weights.
    std::fs::write(&weights, b"not a tensor file at all").unwrap();
    let err = checkpoint_error(pg::load(&dir, DeviceChoice::Cpu));
    assert!(err.contains(pg::WEIGHTS_FILE), "{err}");

    // Weights of another shape.
    build("ppo", "[model]\nhidden = 9", 0, 10)
        .save(&dir)
        .unwrap();
    let good_header = std::fs::read_to_string(&header).unwrap();
    std::fs::write(
        &header,
        good_header.replace("\"hidden\": 9", "\"hidden\": 8"),
    )
    .unwrap();
    let err = checkpoint_error(pg::load(&dir, DeviceChoice::Cpu));
    assert!(
        err.contains(pg::WEIGHTS_FILE) && err.contains("shape"),
        "{err}"
    );

    // Corrupt and truncated headers, unknown kind, missing directory.
    std::fs::write(&header, &good_header[..good_header.len() / 2]).unwrap();
    let err = checkpoint_error(pg::load(&dir, DeviceChoice::Cpu));
    assert!(err.contains(pg::HEADER_FILE), "{err}");
    std::fs::write(&header, good_header.replace("\"ppo\"", "\"dqn\"")).unwrap();
    let err = checkpoint_error(pg::load(&dir, DeviceChoice::Cpu));
    assert!(err.contains("dqn"), "{err}");
    std::fs::write(&header, "{\"format\": \"tabular\"}").unwrap();
    let err = checkpoint_error(pg::load(&dir, DeviceChoice::Cpu));
    assert!(err.contains("format"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    let err = checkpoint_error(pg::load(&dir, DeviceChoice::Cpu));
    assert!(err.contains(pg::HEADER_FILE), "{err}");
}

#[test]
fn training_is_deterministic_under_a_seed_on_cpu() {
    for kind in ["ppo", "a2c"] {
        let run = || {
            let mut agent = build(
                kind,
                "num_steps = 16\nminibatch_size = 64\n[model]\nhidden = 16"
                    .replace(
                        "minibatch_size = 64\n",
                        if kind == "ppo" {
                            "minibatch_size = 64\n"
                        } else {
                            ""
                        },
                    )
                    .as_str(),
                5,
                3_000,
            );
            let mut envs = envs(&TaskSpec::rl_tuner(), 8, 3);
            let stats = agent
                .learn(&mut envs, 3_000, &mut ChaCha8Rng::seed_from_u64(3))
                .unwrap();
            let dir = checkpoint_dir(&format!("det-{kind}-{:?}", std::thread::current().id()));
            agent.save(&dir).unwrap();
            let weights = std::fs::read(dir.join(pg::WEIGHTS_FILE)).unwrap();
            let _ = std::fs::remove_dir_all(&dir);
            (stats.episode_returns, weights)
        };
        let (a, b) = (run(), run());
        assert_eq!(a.0, b.0, "{kind}: episode returns differ");
        assert!(a.1 == b.1, "{kind}: weights differ");
    }
}

#[test]
fn configs_are_validated_with_the_field_named() {
    let error = |spec: &BuildSpec<'_>| match pg::build(spec) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error"),
    };
    fn spec(config: &toml::Table) -> BuildSpec<'_> {
        BuildSpec {
            kind: "ppo",
            config,
            task: None,
            obs_dim: 184,
            num_actions: 38,
            device: DeviceChoice::Cpu,
            seed: 0,
            total_steps: None,
        }
    }
    let err = error(&spec(&table("clip_coef = 0.0")));
    assert!(err.contains("clip_coef"), "{err}");
    let err = error(&spec(&table("epoch = 3")));
    assert!(err.contains("epoch"), "{err}");
    let err = error(&spec(&table("[model]\nhidden = 0")));
    assert!(err.contains("model.hidden"), "{err}");
    let empty = toml::Table::new();
    let err = error(&BuildSpec {
        kind: "dqn",
        ..spec(&empty)
    });
    assert!(err.contains("reinforce, a2c, ppo"), "{err}");
    assert_eq!(
        pg::recommended_envs("ppo", &empty, None).unwrap(),
        pg::PpoConfig::default().training.num_envs
    );
    assert_eq!(
        pg::recommended_envs("a2c", &table("num_envs = 5"), None).unwrap(),
        5
    );
    assert!("tpu".parse::<DeviceChoice>().is_err());
    if !pg::cuda_available() {
        let err = error(&BuildSpec {
            device: DeviceChoice::Cuda,
            ..spec(&empty)
        });
        assert!(err.contains("cuda"), "{err}");
    }
}

/// A network evaluates a wave of episodes in one forward pass; the melodies are those of one
/// episode at a time (each episode has its own generator), up to the last bits of a batched
/// matrix product, which may rarely tip a sample. A recurrent policy falls back to one
/// episode at a time and agrees exactly.
#[test]
fn batched_evaluation_agrees_with_one_episode_at_a_time() {
    use cadenza_agents::train::{evaluate, evaluate_batch};
    let task = TaskSpec::rl_tuner();
    let env = || ComposeEnv::new(task.clone(), Box::new(InScaleReward) as Box<dyn Reward>);
    for (config, exact) in [("", false), ("[model]\narch = \"gru\"\n", true)] {
        let mut agent = build("ppo", config, 3, 1_000);
        let one = evaluate(agent.as_mut(), &mut env(), 40, 11, SAMPLE).unwrap();
        let mut wave: Vec<TrainEnv> = (0..16).map(|_| env()).collect();
        let many = evaluate_batch(agent.as_mut(), &mut wave, 40, 11, SAMPLE).unwrap();
        let same = one
            .melodies
            .iter()
            .zip(&many.melodies)
            .filter(|(a, b)| a == b)
            .count();
        if exact {
            assert_eq!(same, 40, "{config}");
        } else {
            assert!(same >= 36, "only {same} of 40 melodies agree");
        }
        assert!(
            one.distinct() > 30,
            "an untrained policy samples varied melodies"
        );
    }
}

/// A reward whose one best melody rests on every step: the easiest policy to collapse onto.
struct RestsPay;

impl Reward for RestsPay {
    fn term_names(&self) -> Vec<String> {
        vec!["rest".to_string()]
    }
    fn reset(&mut self, _setting: &cadenza_env::Setting) {}
    fn step(&mut self, ctx: &cadenza_env::StepContext<'_>, terms: &mut [f64]) -> f64 {
        terms[0] = if ctx.action == cadenza_env::REST {
            1.0
        } else {
            0.0
        };
        terms[0]
    }
}

/// Small, fast PPO settings for the improvisation tests; the improvisation defaults supply
/// the entropy target.
const SMALL_PPO: &str = "num_envs = 16\nnum_steps = 32\nminibatch_size = 512\n\
                         learning_rate = 0.01\nmodel = { hidden = 32 }\n";

fn improv_ppo(config: &str, seed: u64, total: u64) -> Box<dyn Agent> {
    let task = TaskSpec::by_name("improv", None).unwrap();
    pg::build(&BuildSpec {
        kind: "ppo",
        config: &table(config),
        task: Some(&task),
        obs_dim: task.observation_dim(),
        num_actions: task.setting.encoding.num_events(),
        device: DeviceChoice::Cpu,
        seed,
        total_steps: Some(total),
    })
    .unwrap()
}

fn rest_envs(n: usize, seed: u64) -> VecEnv<TrainEnv> {
    let task = TaskSpec::by_name("improv", None).unwrap();
    let envs = (0..n)
        .map(|_| ComposeEnv::new(task.clone(), Box::new(RestsPay) as Box<dyn Reward>))
        .collect();
    let mut envs = VecEnv::new(envs, 1).unwrap();
    envs.reset(Some(seed)).unwrap();
    envs
}

/// The policy's mean entropy over the updates of the last `learn` call of `chunks`.
fn entropy_after(agent: &mut dyn Agent, steps: u64, chunks: u64) -> (f64, LearnStats) {
    let mut envs = rest_envs(16, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut last = None;
    for _ in 0..chunks {
        last = Some(agent.learn(&mut envs, steps / chunks, &mut rng).unwrap());
    }
    let stats = last.unwrap();
    (stats.scalars["entropy"], stats)
}

/// On an improvisation task PPO's defaults hold the policy's entropy near their target even
/// where one melody earns the most; the fixed entropy bonus (the defaults before the target,
/// `kl_coef = 0` and the target's rate 0) collapses onto that melody within the same steps.
#[test]
fn ppo_keeps_its_entropy_on_improv_where_one_melody_pays() {
    let steps = 40_960;
    let mut tuned = improv_ppo(SMALL_PPO, 1, steps);
    let (entropy, stats) = entropy_after(tuned.as_mut(), steps, 4);
    let kl_coef = stats.scalars["kl_coef"];
    assert!(
        entropy > 0.8,
        "tuned: entropy {entropy:.3} (kl_coef {kl_coef:.3})"
    );
    assert!(
        kl_coef > pg::ppo::MIN_KL_COEF && kl_coef < pg::ppo::MAX_KL_COEF,
        "kl_coef {kl_coef}"
    );

    let fixed = format!("{SMALL_PPO}kl_coef = 0.0\n[entropy_target]\nrate = 0.0\n");
    let mut fixed = improv_ppo(&fixed, 1, steps);
    let (entropy, stats) = entropy_after(fixed.as_mut(), steps, 4);
    assert!(entropy < 0.3, "fixed bonus: entropy {entropy:.3}");
    assert!(!stats.scalars.contains_key("kl_coef"));
}

/// The tuned coefficient is part of the checkpoint: an agent restored from it trains on
/// exactly as the agent that wrote it, and a save of either holds the same coefficient.
#[test]
fn ppo_resumes_with_its_tuned_coefficient() {
    let total = 8_192;
    let mut agent = improv_ppo(SMALL_PPO, 2, total);
    let mut envs = rest_envs(16, 0);
    agent
        .learn(&mut envs, total / 2, &mut ChaCha8Rng::seed_from_u64(0))
        .unwrap();
    let dir = checkpoint_dir("ppo-state");
    agent.save(&dir).unwrap();
    let header: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(pg::HEADER_FILE)).unwrap()).unwrap();
    let saved = header["state"]["kl_coef"].as_f64().unwrap();
    assert!(
        saved != 0.3,
        "the coefficient moved from its start: {saved}"
    );
    let mut resumed = pg::load(&dir, DeviceChoice::Cpu).unwrap();
    resumed.set_total_steps(total);

    // Both go on over the same fresh envs (five of them, so that neither keeps its
    // episodes in flight) with the same seed.
    let go_on = |agent: &mut dyn Agent, tag: &str| {
        let mut envs = rest_envs(5, 9);
        let stats = agent
            .learn(&mut envs, total / 2, &mut ChaCha8Rng::seed_from_u64(4))
            .unwrap();
        let out = checkpoint_dir(&format!("ppo-state-{tag}"));
        agent.save(&out).unwrap();
        let weights = std::fs::read(out.join(pg::WEIGHTS_FILE)).unwrap();
        let _ = std::fs::remove_dir_all(&out);
        (stats.scalars["kl_coef"], stats.episode_returns, weights)
    };
    let (a, b) = (go_on(agent.as_mut(), "a"), go_on(resumed.as_mut(), "b"));
    assert_eq!(a.0, b.0, "kl_coef");
    assert_eq!(a.1, b.1, "episode returns");
    assert!(a.2 == b.2, "weights differ");
    let _ = std::fs::remove_dir_all(&dir);
}
