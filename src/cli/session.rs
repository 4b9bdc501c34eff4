//! `cadenza session`: improvise with an agent that learns your taste as it plays.

mod terminal_duet;

use super::melodies::print_stdout;
use super::pianoroll;
use anyhow::{bail, Context, Result};
use cadenza_env::improv::ImprovConfig;
use cadenza_env::TaskSpec;
use cadenza_session::replay::{export_duet, export_song, replay_model};
use cadenza_session::sim::{self, SimListener};
use cadenza_session::web::{BindOptions, WebServer};
use cadenza_session::{
    audio, Adaptation, AgentSource, Choice, Feedback, Round, Session, SessionConfig,
};
use clap::{Args, Subcommand};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Improvise with an agent: it plays a phrase over a backing progression, you rate it (1-5)
/// or pick between two phrases (A/B), and it learns your taste phrase by phrase.
///
/// Interactive (no --listener): each phrase is drawn as a piano roll with its chords,
/// rendered to a WAV file and played with the system's player (aplay, paplay or afplay)
/// when there is one. Type 1-5 and Enter to rate, a or b to answer an A/B question, q to
/// quit; ask in musical terms with `range 60 72`, `density -0.5`, `space 1`, `chromatic 0.5`
/// or `reset`, and the next phrase follows. With --listener sim:NAME (sim:stepwise,
/// sim:syncopated, sim:bluesy, sim:high, sim:falling, sim:arpeggio, sim:climax) a simulated
/// listener answers instead. --log writes every phrase, rating and model update to a JSONL file,
/// fsynced; --resume continues a session from its log. --midi-out NAME also plays each
/// phrase live through a MIDI port (build with `--features midi-out`).
///
/// Duet (--duet): you play a two-bar call, typed one token a step (`60 - - - 64 - r 67`:
/// MIDI pitches, - holds, r rests) or on a MIDI keyboard (--midi-in NAME, build with
/// `--features midi-in`), the agent answers over the next two bars, and you rate the answer
/// 1-5; your ratings teach the same listener model as rated phrases, and the answers follow
/// it. The page's duet mode does the same with the computer keyboard or Web MIDI.
///
/// Web (--web): serves a page on http://127.0.0.1:PORT/ (the URL is printed on stdout) that
/// plays the phrases in the browser, draws them as a piano roll, takes ratings (keys 1-5) and
/// A/B answers (keys a/b), changes key, progression and tempo, and charts what the listener
/// model has learnt. Loopback only, unless --host names another address and --allow-remote
/// is given. Every answer goes to the --log as in the terminal, so --resume works too.
///
/// --agent DIR starts from a tabular agent trained with `cadenza train --task improv --agent
/// q --out DIR` (its task is the session's) and adapts its own Q-table to the listener
/// (--adapt q-learning, the default with --agent). With `--features tch`, DIR may also be a
/// run of `--agent ppo` (or a2c, reinforce): the candidates are sampled from its policy, and
/// REINFORCE steps on them move its network towards the listener (--adapt policy-gradient,
/// the default with such an agent).
///
/// Examples:
///   cadenza session --listener sim:bluesy --rounds 40 --seed 1 --json
///   cadenza session --web --log today.jsonl
///   cadenza session --duet --log today.jsonl
///   cadenza session --log today.jsonl
///   cadenza session replay today.jsonl --out taste.json
///   cadenza session export today.jsonl --out today.mid
///   cadenza session export today.jsonl --duet --out duet.mid
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SessionArgs {
    #[command(subcommand)]
    command: Option<SessionCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum SessionCommand {
    /// Rebuild the listener model from a session log; print what it learnt (JSON), and
    /// save it with --out for use as a `[listener] model = "..."` reward term.
    Replay {
        /// The session log.
        log: PathBuf,
        /// Where to save the model (JSON).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a whole session (every played phrase over its backing chords) as one MIDI,
    /// ABC or MusicXML file (by the extension of --out, or --format).
    ///
    /// With --duet, the session's duet exchanges instead (the page's duet mode): each call
    /// you played followed by the answer it got, each over the backing chords it was played
    /// over, as `cadenza duet --out` writes an exchange (the duet task rebuilt from the
    /// log's key, range, meter and tempo). A log without duet exchanges is an error.
    Export {
        /// The session log.
        log: PathBuf,
        /// Write the duet exchanges (calls and answers) instead of the rounds' phrases.
        #[arg(long)]
        duet: bool,
        /// The file to write: .mid, .abc or .musicxml.
        #[arg(long)]
        out: PathBuf,
        /// Format of --out: midi, abc or musicxml [default: from its extension].
        #[arg(long, value_parser = super::common::parse_format)]
        format: Option<cadenza_env::formats::Format>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A simulated listener (sim:stepwise, sim:syncopated, sim:bluesy) instead of you.
    #[arg(long)]
    listener: Option<String>,
    /// Rounds in the whole session (a resumed session counts its earlier rounds).
    #[arg(long, default_value_t = 40)]
    rounds: u64,
    /// Seed of the agent, the sampling and the simulated listener's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object (simulated listeners): ratings, improvement, A/B accuracy.
    #[arg(long)]
    json: bool,
    /// Write the session log here (JSONL, fsynced after every record).
    #[arg(long, conflicts_with = "resume")]
    log: Option<PathBuf>,
    /// Continue the session in this log (its settings win over the flags).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Task config (TOML of the improv task: key, progression, tempo, length).
    #[arg(long)]
    task_config: Option<PathBuf>,
    /// Q-learning steps before the session starts (about 2 s on a laptop core).
    #[arg(long, default_value_t = 2_000_000)]
    pretrain_steps: u64,
    /// Candidate phrases per round.
    #[arg(long, default_value_t = 24)]
    candidates: usize,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.5)]
    temperature: f64,
    /// Weight of the listener model against the theory floor.
    #[arg(long, default_value_t = 2.0)]
    listener_weight: f64,
    /// Gain of the listener model's learnt taste (register, density, space, chromatic,
    /// contour, skips, arc) on how phrases are sampled; 0 samples the agent as it is.
    #[arg(long, default_value_t = cadenza_session::DEFAULT_STEERING)]
    steering: f64,
    /// Let a round play a phrase that fails a musicianship floor when the listener model
    /// scores it best (by default a round plays its best candidate that is music).
    #[arg(long)]
    no_musicianship_guard: bool,
    /// Held-out A/B questions asked at the end of a simulated session.
    #[arg(long, default_value_t = 200)]
    held_out: usize,
    /// Where WAV renders go in interactive mode (default: the system's temp directory).
    #[arg(long)]
    audio_dir: Option<PathBuf>,
    /// Serve the session as a web page instead of the terminal.
    #[arg(long, conflicts_with_all = ["listener", "json", "midi_out"])]
    web: bool,
    /// Port of the web page (0 picks a free one; the URL is printed on stdout).
    #[arg(long, default_value_t = 8765, requires = "web")]
    port: u16,
    /// Address the web page listens on: a loopback address unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1", requires = "web")]
    host: String,
    /// Let --host name an address other machines can reach (the page has no
    /// authentication: anyone who reaches it can rate).
    #[arg(long, requires = "web")]
    allow_remote: bool,
    /// Trade phrases in the terminal instead of rating the agent's: you play a call (typed,
    /// or on a MIDI keyboard with --midi-in), the duet answerer answers it, you rate the
    /// answer; --rounds counts rated answers.
    #[arg(long, conflicts_with_all = ["listener", "json", "web"])]
    duet: bool,
    /// Take the duet's calls from this MIDI input port (needs the `midi-in` feature). An
    /// unknown name lists the ports there are.
    #[arg(long, value_name = "NAME", requires = "duet")]
    midi_in: Option<String>,
    /// Play each phrase live through this MIDI output port too (terminal mode; needs the
    /// `midi-out` feature). An unknown name lists the ports there are.
    #[arg(long, value_name = "NAME", conflicts_with = "listener")]
    midi_out: Option<String>,
    /// Start from this trained agent (a run directory of `cadenza train --task improv --agent
    /// q`, or ppo/a2c/reinforce with `--features tch`, or its checkpoint directory) instead
    /// of pre-training one.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["resume", "task_config"])]
    agent: Option<PathBuf>,
    /// How the agent adapts between phrases: preference (a preference table added to its
    /// Q-values) or q-learning (Q-updates of its own table on the theory reward plus the
    /// listener model's) or policy-gradient (REINFORCE steps of a policy-gradient agent)
    /// [default: policy-gradient or q-learning with --agent, else preference].
    #[arg(long, value_name = "MODE")]
    adapt: Option<String>,
}

/// Runs `cadenza session`.
pub fn run(args: SessionArgs) -> Result<()> {
    match args.command {
        Some(SessionCommand::Replay { log, out }) => replay(&log, out.as_deref()),
        Some(SessionCommand::Export {
            log,
            duet,
            out,
            format,
        }) => {
            super::common::check_output_path(&out)?;
            cadenza_env::formats::format_of(&out, format)?;
            if duet {
                let written = export_duet(&log, &out, format)
                    .with_context(|| format!("exporting the duet of {}", log.display()))?;
                eprintln!(
                    "wrote {} duet exchange{} ({} steps) to {}",
                    written.exchanges,
                    if written.exchanges == 1 { "" } else { "s" },
                    written.steps,
                    out.display()
                );
                return Ok(());
            }
            let n = export_song(&log, &out, format)
                .with_context(|| format!("exporting {}", log.display()))?;
            eprintln!("wrote {n} phrases to {}", out.display());
            Ok(())
        }
        None => live(args.run),
    }
}

fn replay(log: &Path, out: Option<&Path>) -> Result<()> {
    let replay = replay_model(log).with_context(|| format!("replaying {}", log.display()))?;
    for line in replay.report.lines(log) {
        eprintln!("{line}");
    }
    let model = &replay.model;
    let weights: serde_json::Map<String, serde_json::Value> = model
        .feature_names()
        .iter()
        .zip(model.weights())
        .map(|(n, w)| (n.clone(), serde_json::json!(w)))
        .collect();
    let summary = serde_json::json!({
        "rounds": replay.rounds,
        "observations": model.observations().len(),
        "ratings": replay.ratings.iter().map(|r| r.1).collect::<Vec<_>>(),
        "bias": model.bias(),
        "weights": weights,
        "corrupt_lines": replay.report.corrupt.iter().map(|c| c.line).collect::<Vec<_>>(),
        "skipped_rounds": replay.report.skipped,
        "notices": replay.report.notices,
        "unchecked_records": replay.report.unchecked,
    });
    if let Some(out) = out {
        super::common::check_output_path(out)?;
        model.save(out)?;
    }
    print_stdout(&format!("{}\n", serde_json::to_string_pretty(&summary)?))
}

fn start(args: &RunArgs) -> Result<Session> {
    if let Some(path) = &args.resume {
        let (session, report) =
            Session::resume(path).with_context(|| format!("resuming {}", path.display()))?;
        for line in report.lines(path) {
            eprintln!("{line}");
        }
        eprintln!(
            "resumed {} at round {}",
            path.display(),
            session.rounds_done()
        );
        return Ok(session);
    }
    let (agent, agent_task) = match &args.agent {
        Some(dir) => {
            let (source, task) = agent_source(dir)?;
            (Some(source), Some(task))
        }
        None => (None, None),
    };
    let adaptation = match args.adapt.as_deref() {
        None if agent.as_ref().is_some_and(AgentSource::is_policy) => Adaptation::PolicyGradient,
        None if agent.is_some() => Adaptation::QLearning,
        None | Some("preference") => Adaptation::Preference,
        Some("q-learning") => Adaptation::QLearning,
        Some("policy-gradient") => Adaptation::PolicyGradient,
        Some(other) => {
            bail!("--adapt '{other}': expected preference, q-learning or policy-gradient")
        }
    };
    let task = match &args.task_config {
        _ if agent_task.is_some() => agent_task.unwrap_or_default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read task config {}", path.display()))?;
            ImprovConfig::from_toml(&text)
                .with_context(|| format!("task config {}", path.display()))?
        }
        None => Default::default(),
    };
    let config = SessionConfig {
        task,
        seed: args.seed,
        pretrain_steps: args.pretrain_steps,
        candidates: args.candidates,
        temperature: args.temperature,
        listener_weight: args.listener_weight,
        steering: args.steering,
        musicianship_guard: !args.no_musicianship_guard,
        adaptation,
        agent,
        ..SessionConfig::default()
    };
    if let Some(log) = &args.log {
        super::common::check_output_path(log)?;
    }
    Ok(Session::new(config, args.log.as_deref())?)
}

/// The checkpoint of a trained tabular or policy-gradient agent and the task it was trained on, from a run
/// directory (run.json + checkpoint/) or a bare checkpoint directory (default task).
fn agent_source(dir: &Path) -> Result<(AgentSource, ImprovConfig)> {
    use cadenza_agents::registry::Family;
    use cadenza_agents::run::RunDir;
    let (checkpoint, info) = RunDir::resolve(dir)?;
    let task = match &info {
        Some(info) => {
            if info.task != "improv" {
                bail!(
                    "--agent {}: trained on the '{}' task; a session improvises over chords, so it needs an agent trained with --task improv",
                    dir.display(),
                    info.task
                );
            }
            let kind = info.kind()?;
            if kind.family == Family::BehaviourCloning {
                bail!(
                    "--agent {}: a '{}' agent ({}); sessions adapt agents trained on a reward",
                    dir.display(),
                    kind.name,
                    kind.summary
                );
            }
            kind.ensure_built()?;
            match &info.task_config {
                Some(text) => ImprovConfig::from_toml(text)
                    .with_context(|| format!("the task config in {}", dir.display()))?,
                None => ImprovConfig::default(),
            }
        }
        None => ImprovConfig::default(),
    };
    let source = AgentSource::from_dir(&checkpoint).with_context(|| {
        format!(
            "--agent {}: expected a run directory of `cadenza train --task improv --agent q` (or ppo, a2c, reinforce) or its checkpoint directory",
            dir.display()
        )
    })?;
    Ok((source, task))
}

fn live(args: RunArgs) -> Result<()> {
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if args.web {
        return web(&args);
    }
    if args.duet {
        return terminal_duet::run(&args);
    }
    match &args.listener {
        Some(name) => {
            let listener = SimListener::by_name(name, args.seed)?;
            // Before pre-training, so that a bad count does not cost the wait.
            sim::check_held_out(args.held_out).context("--held-out")?;
            let mut session = start(&args)?;
            let report = sim::run(&mut session, &listener, args.rounds, args.held_out)?;
            if args.json {
                print_stdout(&format!("{}\n", serde_json::to_string(&report)?))
            } else {
                print_stdout(&format!(
                    "{}: {} rounds, improvement {:+.2} (last 10 vs first 10), utility {:.3} -> {:.3}, musicianship passing {:.0}% -> {:.0}%, held-out A/B accuracy {:.0}% ({} pairs), median latency {:.2} ms\nratings: {:?}\n",
                    report.listener,
                    report.ratings.len(),
                    report.improvement,
                    report.utility_first,
                    report.utility_last,
                    100.0 * report.musicianship_first.passing_share,
                    100.0 * report.musicianship_last.passing_share,
                    100.0 * report.ab_accuracy,
                    report.held_out_pairs,
                    report.latency_ms_median,
                    report.ratings
                ))
            }
        }
        None => {
            if args.json {
                bail!(
                    "--json needs a simulated --listener: an interactive session prints as it goes"
                );
            }
            interactive(&args)
        }
    }
}

/// A system audio player, if one is installed.
fn player() -> Option<&'static str> {
    ["aplay", "paplay", "afplay"].into_iter().find(|p| {
        std::process::Command::new("which")
            .arg(p)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn play(task: &TaskSpec, events: &[u8], path: &Path, player: Option<&str>) -> Result<()> {
    audio::write_wav(task, events, path).with_context(|| format!("writing {}", path.display()))?;
    match player {
        Some(p) => {
            let status = std::process::Command::new(p)
                .arg(path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            if !status.is_ok_and(|s| s.success()) {
                println!("(could not play; the WAV is at {})", path.display());
            }
        }
        None => println!("(no audio player found; the WAV is at {})", path.display()),
    }
    Ok(())
}

fn chord_line(task: &TaskSpec) -> String {
    let spb = task.setting.steps_per_bar();
    let mut line = vec![' '; task.setting.length + task.setting.length / spb.max(1) + 1];
    for chord in &task.backing {
        let start = chord.start as usize;
        let col = start + start / spb.max(1);
        for (i, ch) in chord.symbol.chars().enumerate() {
            if let Some(cell) = line.get_mut(col + i) {
                *cell = ch;
            }
        }
    }
    format!("      {}", line.into_iter().collect::<String>().trim_end())
}

fn show(task: &TaskSpec, title: &str, events: &[u8]) {
    println!("{title}");
    println!("{}", chord_line(task));
    print!(
        "{}",
        pianoroll::render(events, task.setting.encoding, task.setting.steps_per_bar())
    );
}

/// Asks until one of `allowed` is answered; `None` at the end of the input. A line that is
/// not UTF-8 (a stray byte from the terminal) is an answer like any other wrong one: the
/// question is asked again, and the rating already given in the round is kept.
fn ask(prompt: &str, allowed: &[&str]) -> Result<Option<String>> {
    ask_from(&mut std::io::stdin().lock(), prompt, allowed)
}

/// One answer line from `input` (after flushing the prompt), trimmed and lower-cased; `None`
/// at the end of the input.
fn read_answer(mut input: impl BufRead) -> Result<Option<String>> {
    std::io::stdout().flush()?;
    let mut bytes = Vec::new();
    if input
        .read_until(b'\n', &mut bytes)
        .context("cannot read the answer from standard input")?
        == 0
    {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&bytes).trim().to_lowercase()))
}

fn ask_from(input: &mut impl BufRead, prompt: &str, allowed: &[&str]) -> Result<Option<String>> {
    loop {
        print!("{prompt} ");
        let Some(answer) = read_answer(&mut *input)? else {
            return Ok(None);
        };
        if allowed.contains(&answer.as_str()) {
            return Ok(Some(answer));
        }
        println!("please answer one of: {}", allowed.join(" "));
    }
}

/// Serves the session as a web page until the process is stopped.
fn web(args: &RunArgs) -> Result<()> {
    let options = BindOptions {
        host: args.host.clone(),
        port: args.port,
        allow_remote: args.allow_remote,
        ..BindOptions::default()
    };
    // Bind before the session starts: an address in use then costs no pre-training and
    // leaves no log behind to block the next run with the same --log.
    let server = WebServer::bind(&options)?;
    let session = start(args)?;
    print_stdout(&format!("listening on {}\n", server.url()))?;
    eprintln!(
        "open {} in a browser; Ctrl-C ends the session",
        server.url()
    );
    server.run(session);
    Ok(())
}

/// Live MIDI output, when asked for and built in.
#[cfg(feature = "midi-out")]
struct Midi(cadenza_session::midi_out::MidiOut);

#[cfg(feature = "midi-out")]
impl Midi {
    fn open(name: &str) -> Result<Self> {
        let out = cadenza_session::midi_out::MidiOut::open(name)
            .with_context(|| format!("--midi-out {name}"))?;
        println!("MIDI out: {}", out.port());
        Ok(Self(out))
    }

    fn play(&mut self, task: &TaskSpec, events: &[u8]) -> Result<()> {
        Ok(self.0.play(task, events)?)
    }
}

#[cfg(not(feature = "midi-out"))]
struct Midi;

#[cfg(not(feature = "midi-out"))]
impl Midi {
    fn open(_name: &str) -> Result<Self> {
        bail!(
            "--midi-out needs a build with the `midi-out` feature: cargo build --release --features midi-out (on Linux it needs ALSA's headers: apt-get install libasound2-dev pkg-config)"
        )
    }

    fn play(&mut self, _task: &TaskSpec, _events: &[u8]) -> Result<()> {
        Ok(())
    }
}

fn interactive(args: &RunArgs) -> Result<()> {
    let mut midi = match &args.midi_out {
        Some(name) => Some(Midi::open(name)?),
        None => None,
    };
    let mut session = start(args)?;
    let dir = args.audio_dir.clone().unwrap_or_else(std::env::temp_dir);
    let player = if midi.is_some() { None } else { player() };
    let task = session.task().clone();
    println!(
        "{} over {} at {} qpm. Rate 1-5, answer a/b, q to quit (Enter skips an A/B question).",
        task.key_name,
        task.backing
            .iter()
            .map(|b| b.symbol.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        task.tempo_qpm
    );
    while session.rounds_done() < args.rounds {
        let round: Round = session.propose()?.clone();
        let n = round.index;
        show(
            session.task(),
            &format!("\nphrase {}", n + 1),
            &round.played().events,
        );
        let m =
            cadenza_session::controls::describe(&session.task().setting, &round.played().events);
        println!(
            "{}-{} (mean {:.1}), {:.2} notes a beat, {:.0}% rests, {:.0}% outside the key",
            m.lowest,
            m.highest,
            m.mean_pitch,
            m.notes_per_beat,
            100.0 * m.rest_share,
            100.0 * m.chromatic_share
        );
        if let Some(midi) = &mut midi {
            midi.play(session.task(), &round.played().events)?;
        } else {
            play(
                session.task(),
                &round.played().events,
                &dir.join(format!("cadenza-phrase-{n}.wav")),
                player,
            )?;
        }
        let Some(answer) = ask_rating(&mut session)? else {
            break;
        };
        if answer == "q" {
            break;
        }
        if answer.is_empty() {
            // The controls changed: the next phrase follows them.
            continue;
        }
        let rating: u8 = answer.parse().context("a rating")?;
        let mut preference = None;
        if let Some((a, b)) = round.pair {
            for (label, i) in [("A", a), ("B", b)] {
                let events = &round.candidates[i].events;
                show(session.task(), &format!("{label}:"), events);
                if let Some(midi) = &mut midi {
                    midi.play(session.task(), events)?;
                } else {
                    play(
                        session.task(),
                        events,
                        &dir.join(format!("cadenza-phrase-{n}-{label}.wav")),
                        player,
                    )?;
                }
            }
            match ask("A or B? (a/b, Enter skips, q quits):", &["a", "b", "", "q"])? {
                Some(a) if a == "a" => preference = Some(Choice::A),
                Some(b) if b == "b" => preference = Some(Choice::B),
                Some(q) if q == "q" => {
                    session.feedback(Feedback {
                        rating: Some(rating),
                        preference: None,
                    })?;
                    break;
                }
                _ => {}
            }
        }
        session.feedback(Feedback {
            rating: Some(rating),
            preference,
        })?;
        let top = top_weights(&session);
        println!("learnt so far: {top}");
    }
    println!("{} rounds rated.", session.rounds_done());
    Ok(())
}

/// Asks for a rating; a control command (`space 1`, `range 60 72`, ...) sets the session's
/// controls instead and answers "" (the phrase waiting is then dropped, so the caller plays
/// the next one). `None` at the end of the input.
fn ask_rating(session: &mut Session) -> Result<Option<String>> {
    let ratings = ["1", "2", "3", "4", "5", "q"];
    let mut input = std::io::stdin().lock();
    loop {
        print!(
            "rate 1-5, or ask: {} (q quits): ",
            cadenza_session::controls::COMMAND_HELP
        );
        let Some(answer) = read_answer(&mut input)? else {
            return Ok(None);
        };
        if ratings.contains(&answer.as_str()) {
            return Ok(Some(answer));
        }
        let setting = session.task().setting.clone();
        match session.controls().command(&setting, &answer) {
            Some(Ok(controls)) => {
                session.set_controls(controls)?;
                let c = session.controls();
                let (low, high) = c.range(&setting);
                println!(
                    "asking for: range {low}-{high}, density {:+}, space {:+}, chromatic {:+}",
                    c.density, c.space, c.chromatic
                );
                return Ok(Some(String::new()));
            }
            Some(Err(e)) => println!("{e}"),
            None => println!("please answer one of: {}", ratings.join(" ")),
        }
    }
}

fn top_weights(session: &Session) -> String {
    let model = session.model();
    let mut named: Vec<(&String, f64)> = model
        .feature_names()
        .iter()
        .zip(model.weights().iter().copied())
        .collect();
    named.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    named
        .iter()
        .take(3)
        .map(|(n, w)| format!("{n} {w:+.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}
