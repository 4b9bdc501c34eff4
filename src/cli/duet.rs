//! `cadenza duet`: trading phrases. An agent trained on the `duet` task answers calls (from
//! its task's partner, or from a second agent it trades with) and the exchange is written as
//! one MIDI file with the backing; with `--evaluate`, the answers to held-out corpus calls
//! are measured against the responses the tunes give.

use anyhow::{bail, Context, Result};
use cadenza_agents::duet::{Answerer, CallResponseCounts};
use cadenza_agents::run::RunDir;
use cadenza_agents::{ActMode, Agent, Observation};
use cadenza_env::duet::partner::{CorpusCalls, Split};
use cadenza_env::duet::DuetPhrase;
use cadenza_env::Event;
use cadenza_env::{Setting, TaskSpec};
use cadenza_reward::duet::phrase_distance;
use cadenza_reward::musicianship::{self, GroupScores};
use cadenza_reward::score::play_episode;
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Trade phrases with an agent trained on the duet task, or measure how it answers.
///
/// Without --with, each round is a call from the agent's task partner (scripted, corpus or
/// logged calls, as the run was trained) and the agent's answer. With --with DIR, the two
/// agents trade: the first answers the task partner's opening call, the second answers that
/// answer, and so on for --rounds answers. The exchange goes to --out as one MIDI file with
/// the backing chords under every phrase.
///
/// With --evaluate, the agent answers every call of the held-out corpus pairs (--corpus,
/// every fifth tune by name); each answer is compared with the response its tune gives and
/// with the response of another tune (`phrase_distance`), and the report (JSON to stdout or
/// --out) gives how often the real response is the closer one, the answer terms and the
/// answers' musicianship; --baseline DIR measures a second run the same way. Answers are
/// sampled at the run's temperature (--temperature, --greedy as for exchanges).
///
/// Example: cadenza duet --agent runs/duet-q --rounds 8 --out duet.mid
#[derive(Debug, Args)]
pub struct DuetArgs {
    /// Run directory of an agent trained on the duet task.
    #[arg(long, value_name = "DIR", required_unless_present = "clone")]
    agent: Option<PathBuf>,
    /// A second agent to trade phrases with (self-play).
    #[arg(long = "with", value_name = "DIR")]
    with: Option<PathBuf>,
    /// Answers to play (1..=1000).
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Output: a .mid file (or, with --evaluate, a .json report; stdout without it).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Seed of the calls and the sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampling temperature [default: the run's].
    #[arg(long, conflicts_with = "greedy")]
    temperature: Option<f64>,
    /// Always take the best event.
    #[arg(long)]
    greedy: bool,
    /// Measure the answers to held-out corpus calls instead of writing an exchange.
    #[arg(long)]
    evaluate: bool,
    /// With --evaluate: a second run to measure the same way (an unconditioned answerer).
    #[arg(long, value_name = "DIR", requires = "evaluate")]
    baseline: Option<PathBuf>,
    /// With --evaluate: instead of runs, answerers learnt from the corpus's training pairs
    /// (call/response counts per compact state, with and without hearing the call), measured
    /// the same way, with the call-conditioned likelihood of the held-out responses.
    #[arg(long, requires = "evaluate", conflicts_with_all = ["agent", "baseline"])]
    clone: bool,
    /// With --evaluate: the corpus folder whose held-out tunes give the pairs.
    #[arg(long, value_name = "DIR", default_value = "data/corpus/oneills-dev")]
    corpus: PathBuf,
    /// Where a policy-gradient network runs: cpu, cuda or auto.
    #[arg(long, default_value = "auto")]
    device: String,
}

/// Most answers one exchange plays.
const MAX_ROUNDS: usize = 1000;

pub fn run(args: DuetArgs) -> Result<()> {
    if args.clone {
        let report = evaluate_clones(&args.corpus, args.seed)?;
        return write_report(&report, args.out.as_deref());
    }
    let Some(agent_dir) = &args.agent else {
        bail!("--agent DIR: the run of an agent trained on --task duet is required");
    };
    let (task, mut agent, temperature) = open(agent_dir, &args.device)?;
    let mode = |run_temperature: f64| -> Result<ActMode> {
        if args.greedy {
            return Ok(ActMode::Greedy);
        }
        let t = args.temperature.unwrap_or(run_temperature);
        if !(t.is_finite() && t >= 0.0) {
            bail!("--temperature must be a finite number >= 0, got {t}");
        }
        Ok(ActMode::Sample { temperature: t })
    };
    if args.evaluate {
        let mut report = serde_json::Map::new();
        let pairs = CorpusCalls::load(&args.corpus, Split::HeldOut, &task)
            .with_context(|| format!("--corpus {}", args.corpus.display()))?;
        let measured = evaluate(
            agent.as_mut(),
            &task,
            pairs.pairs(),
            args.seed,
            mode(temperature)?,
        )?;
        report.insert("pairs".into(), pairs.pairs().len().into());
        report.insert("agent".into(), serde_json::to_value(&measured)?);
        if let Some(baseline) = &args.baseline {
            let (base_task, mut base_agent, base_temperature) = open(baseline, &args.device)?;
            let base_pairs = CorpusCalls::load(&args.corpus, Split::HeldOut, &base_task)?;
            let measured = evaluate(
                base_agent.as_mut(),
                &base_task,
                base_pairs.pairs(),
                args.seed,
                mode(base_temperature)?,
            )?;
            report.insert("baseline".into(), serde_json::to_value(&measured)?);
        }
        return write_report(&serde_json::Value::Object(report), args.out.as_deref());
    }
    let Some(out) = &args.out else {
        bail!("--out: the MIDI file to write the exchange to is required (or use --evaluate)");
    };
    if !(1..=MAX_ROUNDS).contains(&args.rounds) {
        bail!("--rounds {}: expected 1..={MAX_ROUNDS}", args.rounds);
    }
    super::common::check_output_path(out)?;
    let phrases = match &args.with {
        None => against_partner(
            agent.as_mut(),
            &task,
            args.rounds,
            args.seed,
            mode(temperature)?,
        )?,
        Some(other) => {
            let (other_task, mut other_agent, other_temperature) = open(other, &args.device)?;
            let s = (&task.setting, &other_task.setting);
            if s.0.encoding != s.1.encoding
                || s.0.call_steps != s.1.call_steps
                || s.0.length != s.1.length
                || s.0.steps_per_bar() != s.1.steps_per_bar()
            {
                bail!(
                    "--with {}: its duet (range, call and answer bars, meter) differs from --agent's",
                    other.display()
                );
            }
            if s.0.call_steps * 2 != s.0.length {
                bail!("--with: trading needs answers as long as calls (answer_bars = call_bars)");
            }
            let mut modes = [mode(temperature)?, mode(other_temperature)?];
            trade(
                [agent.as_mut(), other_agent.as_mut()],
                &mut modes,
                &task,
                args.rounds,
                args.seed,
            )?
        }
    };
    let song = task.exchange_song(&phrases)?;
    song.write(out)
        .with_context(|| format!("cannot write MIDI {}", out.display()))?;
    eprintln!(
        "wrote {} phrases ({} steps) to {}",
        phrases.len(),
        phrases.iter().map(|p| p.events.len()).sum::<usize>(),
        out.display()
    );
    Ok(())
}

/// Writes a JSON report to `out`, or to stdout.
fn write_report(report: &serde_json::Value, out: Option<&Path>) -> Result<()> {
    let text = serde_json::to_string_pretty(report)? + "\n";
    match out {
        Some(path) => {
            super::common::check_output_path(path)?;
            cadenza_env::io::write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Smoothing of the call/response counts (added to every event's count).
const CLONE_ALPHA: f64 = 0.1;

/// `--evaluate --clone`: answerers learnt from the training pairs of `corpus`, with and
/// without hearing the call, measured on its held-out pairs.
fn evaluate_clones(corpus: &Path, seed: u64) -> Result<serde_json::Value> {
    let mut report = serde_json::Map::new();
    for (name, hear) in [("heard", true), ("deaf", false)] {
        let config = format!(
            "partner = \"corpus\"\ncorpus = \"{}\"\nhear_call = {hear}",
            corpus
                .display()
                .to_string()
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
        );
        let task = TaskSpec::by_name("duet", Some(&config))
            .with_context(|| format!("--corpus {}", corpus.display()))?;
        let train = CorpusCalls::load(corpus, Split::Train, &task)?;
        let held = CorpusCalls::load(corpus, Split::HeldOut, &task)?;
        let examples: Vec<(Vec<Event>, Vec<Event>)> = train
            .pairs()
            .iter()
            .map(|p| (p.call.clone(), p.response.clone()))
            .collect();
        let mut model = CallResponseCounts::fit(&task, &examples, CLONE_ALPHA)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut real, mut other, mut wins) = (0.0, 0.0, 0.0);
        let pairs = held.pairs();
        for pair in pairs {
            let different = loop {
                let candidate = &pairs[rng.random_range(0..pairs.len())];
                if candidate.file != pair.file {
                    break candidate;
                }
            };
            let r = model.log_prob(&pair.call, &pair.response)?;
            let o = model.log_prob(&pair.call, &different.response)?;
            real += r;
            other += o;
            wins += if r > o {
                1.0
            } else if r == o {
                0.5
            } else {
                0.0
            };
        }
        let n = pairs.len() as f64;
        let measured = evaluate(
            &mut model,
            &task,
            pairs,
            seed,
            ActMode::Sample { temperature: 1.0 },
        )?;
        report.insert(
            name.into(),
            serde_json::json!({
                "training_pairs": train.pairs().len(),
                "states": model.states(),
                "log_likelihood_real": real / n,
                "log_likelihood_other": other / n,
                "likelier_real": wins / n,
                "answers": measured,
            }),
        );
    }
    report.insert(
        "pairs".into(),
        serde_json::json!(CorpusCalls::load(
            corpus,
            Split::HeldOut,
            &TaskSpec::by_name("duet", None)?
        )
        .map(|c| c.pairs().len())
        .unwrap_or(0)),
    );
    Ok(serde_json::Value::Object(report))
}

/// A run's task (a duet), agent and sampling temperature.
fn open(dir: &Path, device: &str) -> Result<(TaskSpec, Box<dyn Agent>, f64)> {
    let (run, info) = RunDir::open(dir)?;
    let task = info.task()?;
    if task.duet.is_none() {
        bail!(
            "{}: trained on the '{}' task; duets need an agent trained on --task duet",
            dir.display(),
            task.name
        );
    }
    let agent = run.load_agent(&info, device.parse()?)?;
    Ok((task, agent, info.temperature))
}

/// Rounds of the task's partner calling and the agent answering.
fn against_partner(
    agent: &mut dyn Agent,
    task: &TaskSpec,
    rounds: usize,
    seed: u64,
    mode: ActMode,
) -> Result<Vec<DuetPhrase>> {
    let calls = task.call_steps();
    let melodies = super::generate::sample(agent, task, rounds, seed, mode)?;
    Ok(melodies
        .into_iter()
        .flat_map(|melody| {
            [
                DuetPhrase {
                    player: "partner".into(),
                    events: melody[..calls].to_vec(),
                    is_call: true,
                },
                DuetPhrase {
                    player: "agent".into(),
                    events: melody[calls..].to_vec(),
                    is_call: false,
                },
            ]
        })
        .collect())
}

/// Two agents trading: the task partner's opening call, then answers in turn, each
/// answering the one before.
fn trade(
    agents: [&mut dyn Agent; 2],
    modes: &mut [ActMode; 2],
    task: &TaskSpec,
    rounds: usize,
    seed: u64,
) -> Result<Vec<DuetPhrase>> {
    let calls = task.call_steps();
    let opening = super::generate::sample(agents[0], task, 1, seed, modes[0])?;
    let mut phrases = vec![DuetPhrase {
        player: "partner".into(),
        events: opening[0][..calls].to_vec(),
        is_call: true,
    }];
    let mut answerer = Answerer::new(task)?;
    let mut answer = Vec::new();
    for round in 0..rounds {
        let k = round % 2;
        let call = phrases.last().map(|p| p.events.clone()).unwrap_or_default();
        answerer.answer(
            &mut *agents[k],
            &call,
            seed.wrapping_add(round as u64 + 1),
            modes[k],
            &mut answer,
        )?;
        phrases.push(DuetPhrase {
            player: if k == 0 { "agent" } else { "with" }.into(),
            events: answer.clone(),
            is_call: false,
        });
    }
    Ok(phrases)
}

/// How an answerer answers held-out calls (see `docs/duet.md`).
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Share of calls whose answer is closer to the tune's own response than to another
    /// tune's (ties count one half; 0.5 is chance).
    pub closer_to_real: f64,
    /// 95% percentile bootstrap interval of `closer_to_real` (1000 resamples of the calls).
    pub closer_to_real_ci: (f64, f64),
    /// Mean distance of the answers to the real responses.
    pub distance_to_real: f64,
    /// Mean distance of the answers to the other tunes' responses.
    pub distance_to_random: f64,
    /// Mean `call_motif` per answer step.
    pub call_motif: f64,
    /// Mean `call_rhythm` per answer step.
    pub call_rhythm: f64,
    /// The call-conditioned likelihood of the real responses against the other tunes', under
    /// the answerer's own sampling distribution; absent for an agent that does not expose it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub likelihood: Option<Likelihood>,
    /// Musicianship of the answers (group scores, the answer judged in its own bars).
    pub musicianship: GroupScores,
    /// What keeps the answers from counting as music (groups below their floors, too few
    /// distinct answers), as the musicianship report names it.
    pub musicianship_failures: Vec<&'static str>,
}

/// Share of a uniform choice among the allowed events mixed into the answerer's distribution
/// when the likelihood of a response is measured: an event the answerer never plays then
/// costs about ln(0.05 / 38) = −6.6 nats instead of an infinite penalty.
const LIKELIHOOD_SMOOTHING: f64 = 0.05;

/// How likely the answerer finds the tunes' own responses (see [`Answerer::log_likelihood`]).
#[derive(Debug, Clone, Serialize)]
pub struct Likelihood {
    /// The sampling temperature the distribution is taken at (0: greedy, one-hot).
    pub temperature: f64,
    /// The uniform share mixed in ([`LIKELIHOOD_SMOOTHING`]).
    pub smoothing: f64,
    /// Mean log-probability per step of the real responses, in nats.
    pub real: f64,
    /// Mean log-probability per step of the other tunes' responses (the same draws as the
    /// distances'), in nats.
    pub other: f64,
    /// Share of calls whose real response is the likelier (ties one half; 0.5 is chance).
    pub likelier_real: f64,
    /// 95% percentile bootstrap interval of `likelier_real` (1000 resamples of the calls).
    pub likelier_real_ci: (f64, f64),
}

/// Share of ones in `wins` and its 95% percentile bootstrap interval over 1000 resamples.
fn share_with_interval(wins: &[f64], rng: &mut ChaCha8Rng) -> (f64, (f64, f64)) {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut resampled: Vec<f64> = (0..1000)
        .map(|_| {
            let sum: f64 = (0..wins.len())
                .map(|_| wins[rng.random_range(0..wins.len())])
                .sum();
            sum / wins.len() as f64
        })
        .collect();
    resampled.sort_by(f64::total_cmp);
    (mean(wins), (resampled[25], resampled[974]))
}

/// Whether `agent` tells the distribution it samples from ([`Agent::action_probs`]).
fn exposes_probs(agent: &mut dyn Agent, task: &TaskSpec) -> bool {
    let n = task.setting.encoding.num_events();
    let (dense, mask, mut probs) = (
        vec![0.0; task.observation_dim()],
        vec![true; n],
        vec![0.0; n],
    );
    let probe = Observation {
        dense: &dense,
        state: 0,
        mask: &mask,
    };
    agent.action_probs(&probe, 1.0, &mut probs).is_ok()
}

/// 1 when `a` beats `b` (is `better`), 0.5 on a tie, else 0.
fn win(a: f64, b: f64, better: impl Fn(f64, f64) -> bool) -> f64 {
    if better(a, b) {
        1.0
    } else if a == b {
        0.5
    } else {
        0.0
    }
}

/// Measures `agent`'s answers to the calls of `pairs` (see [`Measured`]).
pub fn evaluate(
    agent: &mut dyn Agent,
    task: &TaskSpec,
    pairs: &[cadenza_env::duet::CallPair],
    seed: u64,
    mode: ActMode,
) -> Result<Measured> {
    if pairs.len() < 2 {
        bail!(
            "the held-out corpus gives {} pairs: expected at least 2",
            pairs.len()
        );
    }
    let setting: &Setting = &task.setting;
    let mut answerer = Answerer::new(task)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut reward = cadenza_reward::registry::preset("duet")?;
    let names = reward.term_names();
    let term = |name: &str| names.iter().position(|n| n == name);
    let (motif, rhythm) = (term("call_motif"), term("call_rhythm"));
    let mut terms = vec![0.0; names.len()];
    let mut wins = Vec::with_capacity(pairs.len());
    let (mut to_real, mut to_random, mut motif_sum, mut rhythm_sum) = (0.0, 0.0, 0.0, 0.0);
    let mut answers = Vec::with_capacity(pairs.len());
    let mut answer = Vec::new();
    let temperature = match mode {
        ActMode::Greedy => 0.0,
        ActMode::Sample { temperature } => temperature,
    };
    let mut likelihoods: Option<Vec<(f64, f64)>> =
        exposes_probs(agent, task).then(|| Vec::with_capacity(pairs.len()));
    for (i, pair) in pairs.iter().enumerate() {
        answerer.answer(
            agent,
            &pair.call,
            seed.wrapping_add(i as u64),
            mode,
            &mut answer,
        )?;
        let other = loop {
            let candidate = &pairs[rng.random_range(0..pairs.len())];
            if candidate.file != pair.file || pairs.iter().all(|p| p.file == pair.file) {
                break candidate;
            }
        };
        let real = phrase_distance(setting, &answer, &pair.response);
        let random = phrase_distance(setting, &answer, &other.response);
        wins.push(win(real, random, |a, b| a < b));
        if let Some(l) = &mut likelihoods {
            let (call, smoothing) = (&pair.call, LIKELIHOOD_SMOOTHING);
            let r = answerer.log_likelihood(agent, call, &pair.response, temperature, smoothing)?;
            let o =
                answerer.log_likelihood(agent, call, &other.response, temperature, smoothing)?;
            l.push((r, o));
        }
        to_real += real;
        to_random += random;
        let melody = [pair.call.as_slice(), answer.as_slice()].concat();
        let mut step = 0;
        play_episode(
            reward.as_mut(),
            setting,
            &melody,
            &mut terms,
            |_, values| {
                if step >= pair.call.len() {
                    motif_sum += motif.map_or(0.0, |k| values[k]);
                    rhythm_sum += rhythm.map_or(0.0, |k| values[k]);
                }
                step += 1;
            },
        );
        answers.push(answer.clone());
    }
    let n = pairs.len() as f64;
    let answer_steps = (setting.length - setting.call_steps).max(1) as f64;
    let (closer_to_real, closer_to_real_ci) = share_with_interval(&wins, &mut rng);
    let likelihood = likelihoods.map(|l| {
        let likelier: Vec<f64> = l.iter().map(|&(r, o)| win(r, o, |a, b| a > b)).collect();
        let (likelier_real, likelier_real_ci) = share_with_interval(&likelier, &mut rng);
        Likelihood {
            temperature,
            smoothing: LIKELIHOOD_SMOOTHING,
            real: l.iter().map(|p| p.0).sum::<f64>() / n,
            other: l.iter().map(|p| p.1).sum::<f64>() / n,
            likelier_real,
            likelier_real_ci,
        }
    });
    let frame = setting.answer_frame();
    let report = musicianship::report(&frame, &answers);
    Ok(Measured {
        closer_to_real,
        closer_to_real_ci,
        likelihood,
        distance_to_real: to_real / n,
        distance_to_random: to_random / n,
        call_motif: motif_sum / (n * answer_steps),
        call_rhythm: rhythm_sum / (n * answer_steps),
        musicianship: report.mean,
        musicianship_failures: report.failures,
    })
}
