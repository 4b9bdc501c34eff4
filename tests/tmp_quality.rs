use cadenza_agents::tabular::*;
use cadenza_agents::train::evaluate;
use cadenza_agents::{ActMode, Agent, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};
use cadenza_reward::metrics::RlTunerMetrics;
use cadenza_reward::rl_tuner::RlTunerReward;
use rand::SeedableRng;
use std::collections::HashSet;

#[test]
#[ignore]
fn quality() {
    let steps: u64 = std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let cfg: TabularConfig = toml::from_str(&std::env::var("CFG").unwrap_or_default()).unwrap();
    let kind = std::env::var("KIND").unwrap_or("q".into());
    let env = || -> TrainEnv {
        ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(RlTunerReward::default()))
    };
    let mut envs = VecEnv::new(vec![env()], 1).unwrap();
    envs.reset(Some(0)).unwrap();
    let mut agent = TabularAgent::new(
        Algorithm::from_kind(&kind).unwrap(),
        cfg.clone(),
        "rl-tuner",
        38,
        steps,
    )
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let t0 = std::time::Instant::now();
    agent.learn(&mut envs, steps, &mut rng).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{kind} {cfg:?}\n{steps} steps in {secs:.2}s = {:.2} M/s, states {}, mib {:.0}",
        steps as f64 / secs / 1e6,
        agent.table().len(),
        agent.table().memory_bytes() as f64 / 1048576.0
    );
    let mut e = env();
    let temps: Vec<f64> = std::env::var("TEMPS")
        .unwrap_or("0,0.5,1,2".into())
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    for t in temps {
        let mode = if t == 0.0 {
            ActMode::Greedy
        } else {
            ActMode::Sample { temperature: t }
        };
        let ev = evaluate(&mut agent, &mut e, 1000, 1_000_000, mode).unwrap();
        let mut m = RlTunerMetrics::new();
        for mel in &ev.melodies {
            m.add_composition(mel);
        }
        let r = m.report();
        let distinct = ev.melodies.iter().collect::<HashSet<_>>().len();
        if t == 0.0 {
            println!("{:?}", ev.melodies[0]);
            println!("{:?}", ev.terms);
        }
        println!("T={t}: return {:.1}±{:.1} distinct {distinct} | notkey {:.2}% rep {:.2}% leaps {:.1}% motif {:.1}% tonic {:.1}% hi {:.1}% lo {:.1}% repmotif {:.2}%",
            ev.mean, ev.std, r["percent_notes_not_in_key"]*100., r["percent_notes_excessively_repeated"]*100., r["percent_leaps_resolved"]*100., r["percent_notes_in_motif"]*100., r["percent_compositions_starting_with_tonic"]*100., r["percent_compositions_unique_highest_note"]*100., r["percent_compositions_unique_lowest_note"]*100., r["percent_notes_in_repeated_motif"]*100.);
    }
}

#[test]
#[ignore]
fn env_speed() {
    use cadenza_env::Environment;
    let mut e: TrainEnv = ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(RlTunerReward::default()));
    let mut obs = vec![0f32; 184];
    e.reset_into(Some(0), &mut obs).unwrap();
    let mut x = 12345u64;
    let n = 20_000_000u64;
    let t0 = std::time::Instant::now();
    let mut sum = 0.0;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = e.step_into((x % 38) as usize, &mut obs).unwrap();
        sum += t.reward;
        if t.terminated {
            e.reset_into(None, &mut obs).unwrap();
        }
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "env+rl-tuner reward, random actions: {:.2} M/s ({sum})",
        n as f64 / s / 1e6
    );
}

#[test]
#[ignore]
fn score_melodies() {
    use cadenza_env::Environment;
    let mels: Vec<Vec<usize>> = serde_json::from_str(&std::env::var("MELS").unwrap()).unwrap();
    for m in mels {
        let mut e: TrainEnv =
            ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(RlTunerReward::default()));
        let mut obs = vec![0f32; 184];
        e.reset_into(Some(0), &mut obs).unwrap();
        let mut total = 0.0;
        let mut terms = vec![0.0; 9];
        for &a in &m {
            let t = e.step_into(a, &mut obs).unwrap();
            total += t.reward;
            for (s, v) in terms.iter_mut().zip(e.term_values()) {
                *s += v;
            }
        }
        println!(
            "{total:.2} {:?}",
            terms
                .iter()
                .map(|v| (v * 100.0f64).round() / 100.0)
                .collect::<Vec<_>>()
        );
    }
}
