//! `cadenza session --duet`: trade phrases with the session's duet answerer in the terminal.
//!
//! Each exchange, the person plays a call of the duet's bars: on a MIDI keyboard with
//! `--midi-in NAME` (feature `midi-in`; the call starts with the first note and ends at the
//! bar line after its bars, or after a bar of silence), else typed as one token a step (a MIDI
//! pitch, `-` to hold, `r` to rest; a shorter line ends in rests). The answer is drawn after
//! the call as a piano roll over the chords, played (through `--midi-out`, or as a WAV with
//! the system's player), and rated 1-5; every call, answer and rating goes to the log as in
//! the page's duet mode.

use super::{ask, play, player, read_answer, show, start, Midi, RunArgs};
use anyhow::{bail, Context, Result};
use cadenza_env::duet::partner::LoggedCalls;
use cadenza_env::TaskSpec;
use cadenza_session::duet::CallNote;
use cadenza_session::{Session, SessionError};

/// Seconds a MIDI call waits for its first note.
#[cfg(feature = "midi-in")]
const FIRST_NOTE_WAIT_SECS: u64 = 120;

/// Where calls come from.
enum CallSource {
    /// Typed on standard input.
    Typed,
    /// Played on a MIDI keyboard.
    #[cfg(feature = "midi-in")]
    Midi(cadenza_session::midi_in::MidiIn),
}

impl CallSource {
    fn open(args: &RunArgs) -> Result<Self> {
        match &args.midi_in {
            None => Ok(Self::Typed),
            #[cfg(feature = "midi-in")]
            Some(name) => {
                let input = cadenza_session::midi_in::MidiIn::open(name)
                    .with_context(|| format!("--midi-in {name}"))?;
                println!("MIDI in: {}", input.port());
                Ok(Self::Midi(input))
            }
            #[cfg(not(feature = "midi-in"))]
            Some(_) => bail!(
                "--midi-in needs a build with the `midi-in` feature: cargo build --release --features midi-in (on Linux it needs ALSA's headers: apt-get install libasound2-dev pkg-config)"
            ),
        }
    }

    /// The next call's notes; `None` when the person quits (or the input ends).
    fn next(&mut self, task: &TaskSpec) -> Result<Option<Vec<CallNote>>> {
        match self {
            Self::Typed => typed_call(task),
            #[cfg(feature = "midi-in")]
            Self::Midi(input) => {
                use cadenza_session::call_recorder::CallRecorder;
                let setting = &task.setting;
                let spq = task.improv.as_ref().map_or(4, |c| c.steps_per_quarter);
                let bar = setting.steps_per_bar() as u32;
                let range = (setting.encoding.min_pitch(), setting.encoding.max_pitch());
                println!(
                    "play your call: it starts with your first note and ends after {} steps, or after a bar of silence",
                    setting.call_steps
                );
                let recorder =
                    CallRecorder::new(task.tempo_qpm, spq, setting.call_steps as u32, bar, range);
                let call = input.record(
                    recorder,
                    std::time::Duration::from_secs(FIRST_NOTE_WAIT_SECS),
                )?;
                if call.out_of_range > 0 {
                    println!(
                        "({} notes outside {}-{} were left out)",
                        call.out_of_range, range.0, range.1
                    );
                }
                if call.notes.is_empty() {
                    println!("no note came; ending the duet");
                    return Ok(None);
                }
                Ok(Some(call.notes))
            }
        }
    }
}

/// A call typed as one token a step; asked again until it reads, `None` on `q` or at the end
/// of the input.
fn typed_call(task: &TaskSpec) -> Result<Option<Vec<CallNote>>> {
    let steps = task.setting.call_steps;
    let mut input = std::io::stdin().lock();
    loop {
        print!("your call, one token a step (MIDI pitch, - holds, r rests; {steps} steps, a shorter line ends in rests; q quits): ");
        let Some(line) = read_answer(&mut input)? else {
            return Ok(None);
        };
        if line == "q" {
            return Ok(None);
        }
        match parse_call(task, &line) {
            Ok(notes) => return Ok(Some(notes)),
            Err(e) => println!("{e}"),
        }
    }
}

/// A typed call's notes: the logged-calls format of the duet's `calls` partner
/// ([`LoggedCalls::parse`]), padded with rests to the call's steps.
fn parse_call(task: &TaskSpec, line: &str) -> Result<Vec<CallNote>> {
    let steps = task.setting.call_steps;
    let tokens = line.split_whitespace().count();
    if tokens > steps {
        bail!("{tokens} steps: the call has {steps}");
    }
    let padded = format!("{line}{}", " r".repeat(steps - tokens));
    let events = LoggedCalls::parse(&padded, task)
        .map_err(|e| anyhow::anyhow!("{}", e.trim_start_matches("line 1: ")))?
        .remove(0);
    let notes = task
        .setting
        .encoding
        .to_notes(&events)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(notes
        .into_iter()
        .map(|n| CallNote {
            pitch: n.pitch,
            start: n.start,
            duration: n.duration,
        })
        .collect())
}

/// Runs the terminal duet (see the module docs).
pub(super) fn run(args: &RunArgs) -> Result<()> {
    let mut source = CallSource::open(args)?;
    let mut midi = match &args.midi_out {
        Some(name) => Some(Midi::open(name)?),
        None => None,
    };
    let mut session: Session = start(args)?;
    println!("pre-training the duet answerer...");
    let task = session.duet()?.task().clone();
    let dir = args.audio_dir.clone().unwrap_or_else(std::env::temp_dir);
    let player = if midi.is_some() { None } else { player() };
    let chords: Vec<&str> = task.backing.iter().map(|b| b.symbol.as_str()).collect();
    println!(
        "Duet in {} at {} qpm over {}: you play the call, the agent answers, you rate the answer.",
        task.key_name,
        task.tempo_qpm,
        chords.join(" | ")
    );
    let mut rated = 0u64;
    while rated < args.rounds {
        let Some(notes) = source.next(&task)? else {
            break;
        };
        let (exchange, call, answer) = match session.duet_call(&notes) {
            Ok(exchange) => exchange,
            Err(SessionError::Feedback(message)) => {
                println!("{message}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let both = [call.as_slice(), answer.as_slice()].concat();
        show(
            &task,
            &format!("\nexchange {}: your call, then the answer", exchange + 1),
            &both,
        );
        if let Some(midi) = &mut midi {
            midi.play(&task, &both)?;
        } else {
            play(
                &task,
                &both,
                &dir.join(format!("cadenza-duet-{exchange}.wav")),
                player,
            )?;
        }
        let Some(rating) = ask(
            "rate the answer 1-5 (q quits):",
            &["1", "2", "3", "4", "5", "q"],
        )?
        else {
            break;
        };
        if rating == "q" {
            break;
        }
        session.duet_rate(exchange, rating.parse().context("a rating")?)?;
        rated += 1;
    }
    println!("{rated} answer{} rated.", if rated == 1 { "" } else { "s" });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_call_is_padded_with_rests_and_bad_tokens_are_named() {
        let task = TaskSpec::by_name("duet", None).unwrap();
        let notes = parse_call(&task, "60 - - - 64 - r 67").unwrap();
        let got: Vec<(u8, u32, u32)> = notes
            .iter()
            .map(|n| (n.pitch, n.start, n.duration))
            .collect();
        assert_eq!(got, [(60, 0, 4), (64, 4, 2), (67, 7, 1)]);
        let err = parse_call(&task, "60 x").unwrap_err().to_string();
        assert!(err.contains("'x'"), "{err}");
        let long = vec!["r"; task.setting.call_steps + 1].join(" ");
        assert!(parse_call(&task, &long).is_err());
    }
}
