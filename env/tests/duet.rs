//! The `duet` task: its partners, the call in the episode, the observation and the compact
//! state.

use cadenza_env::check::check_env;
use cadenza_env::duet::partner::{CorpusCalls, LoggedCalls, Split};
use cadenza_env::duet::{DuetConfig, Partner};
use cadenza_env::{
    ComposeEnv, Environment, Event, InScaleReward, Reward, Setting, StepContext, TaskSpec,
    ZeroReward, CALL_EVENT_DIM, HOLD, REST,
};
use std::path::PathBuf;
use std::sync::Arc;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/corpus/oneills-dev")
}

fn corpus_task(split: &str) -> TaskSpec {
    let toml = format!(
        "partner = \"corpus\"\ncorpus = \"{}\"\nsplit = \"{split}\"",
        corpus_dir().display()
    );
    TaskSpec::by_name("duet", Some(&toml)).unwrap()
}

#[test]
fn every_partner_passes_the_checker() {
    for task in [
        TaskSpec::by_name("duet", None).unwrap(),
        corpus_task("train"),
    ] {
        let report = check_env(|| ComposeEnv::new(task.clone(), InScaleReward));
        assert!(
            report.passed(),
            "{}:\n{report}",
            task.duet.unwrap().partner.name()
        );
    }
    let masked = TaskSpec::by_name("duet", Some("mask_out_of_scale = true")).unwrap();
    let report = check_env(|| ComposeEnv::new(masked.clone(), ZeroReward));
    assert!(report.passed(), "{report}");
}

#[test]
fn the_call_opens_the_episode_and_the_agent_answers() {
    let task = TaskSpec::by_name("duet", None).unwrap();
    let calls = task.call_steps();
    let mut env = ComposeEnv::new(task.clone(), ZeroReward);
    let (obs, info) = env.reset(Some(3)).unwrap();
    assert_eq!(info.step, 0);
    assert_eq!(env.melody().len(), calls);
    let call = env.melody().to_vec();
    assert!(
        call.iter().any(|&e| e > HOLD),
        "the call strikes notes: {call:?}"
    );
    assert_eq!(obs.len(), task.observation_dim());
    // Same seed, same call; another seed, another call.
    env.reset(Some(3)).unwrap();
    assert_eq!(env.melody(), &call[..]);
    let others: Vec<Vec<Event>> = (10..20)
        .map(|seed| {
            env.reset(Some(seed)).unwrap();
            env.melody().to_vec()
        })
        .collect();
    assert!(others.iter().any(|other| *other != call));
    // The answer fills the rest, then the episode ends.
    env.reset(Some(3)).unwrap();
    let answer_steps = task.setting.length - calls;
    for k in 0..answer_steps {
        let step = env.step(2).unwrap();
        assert_eq!(step.info.step, k + 1);
        assert_eq!(step.terminated, k + 1 == answer_steps);
    }
    assert_eq!(&env.melody()[..calls], &call[..]);
}

/// Counts the steps a reward is fed, and remembers the call it heard.
#[derive(Default)]
struct Listens {
    fed: Vec<(usize, Event)>,
}

impl Reward for Listens {
    fn term_names(&self) -> Vec<String> {
        vec!["heard".to_string()]
    }
    fn reset(&mut self, _setting: &Setting) {
        self.fed.clear();
    }
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        assert_eq!(ctx.history.len(), ctx.step);
        self.fed.push((ctx.step, ctx.action));
        terms[0] = ctx.step as f64;
        terms[0]
    }
}

#[test]
fn the_reward_hears_the_call_before_the_answer_and_its_values_are_dropped() {
    let task = TaskSpec::by_name("duet", None).unwrap();
    let calls = task.call_steps();
    let mut env = ComposeEnv::new(task, Listens::default());
    let (_, info) = env.reset(Some(1)).unwrap();
    assert_eq!(info.terms, vec![0.0]);
    assert_eq!(env.reward().fed.len(), calls);
    let step = env.step(5).unwrap();
    assert_eq!(
        step.reward, calls as f64,
        "the answer's first step is step {calls}"
    );
    let fed = &env.reward().fed;
    assert_eq!(fed[calls], (calls, 5));
    let heard: Vec<Event> = fed[..calls].iter().map(|&(_, e)| e).collect();
    assert_eq!(heard, env.melody()[..calls].to_vec());
}

/// A partner that always plays the same call.
#[derive(Debug)]
struct Fixed(Vec<Event>);

impl Partner for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    fn call(&self, _rng: &mut rand_chacha::ChaCha8Rng, _setting: &Setting, out: &mut [Event]) {
        out.copy_from_slice(&self.0);
    }
}

#[test]
fn the_observation_carries_the_call_relative_to_its_chord() {
    let task = TaskSpec::by_name("duet", None).unwrap();
    let enc = task.setting.encoding;
    let e = |pitch: u8| enc.event_of_pitch(pitch).unwrap();
    // Bar 1 over C: E on beat 1; bar 2 over G7: B on beat 1, then a rest; 200 is not an event.
    let mut call = vec![HOLD; 32];
    call[0] = e(64);
    call[16] = e(71);
    call[24] = REST;
    call[31] = 200;
    let task = task.with_partner(Arc::new(Fixed(call))).unwrap();
    let layout = task.layout;
    let per_bar = task.setting.steps_per_bar();
    let base = task.observation_dim() - cadenza_env::call_dim(layout.history, per_bar);
    let mut env = ComposeEnv::new(task, ZeroReward);
    let (obs, _) = env.reset(Some(0)).unwrap();
    // The bad event was read as a rest.
    assert_eq!(env.melody()[31], REST);
    // Echo position of the answer's first step: the call's first step, E over C = a third.
    let echo = &obs[base..base + CALL_EVENT_DIM];
    assert_eq!(echo[2 + 4], 1.0, "{echo:?}");
    assert_eq!(echo.iter().sum::<f32>(), 1.0);
    // The call's last event (a rest) heads its history.
    let last = &obs[base + CALL_EVENT_DIM..base + 2 * CALL_EVENT_DIM];
    assert_eq!(last[0], 1.0);
    // Rhythm: onsets on the downbeat of both bars.
    let rhythm = &obs[base + (layout.history + 1) * CALL_EVENT_DIM..][..per_bar];
    assert_eq!(rhythm[0], 1.0);
    assert_eq!(rhythm[1..].iter().sum::<f32>(), 0.0);
    // Summary: 2 onsets in 32 steps, a rise of 7 semitones, all moves rising.
    let summary = &obs[obs.len() - 4..];
    assert_eq!(summary, &[2.0 / 32.0, 0.5 + 7.0 / 48.0, 7.0 / 24.0, 1.0]);
    // Sixteen steps into the answer, the echo is B over G7: its third.
    let mut step = None;
    for _ in 0..16 {
        step = Some(env.step(0).unwrap());
    }
    let obs = step.unwrap().observation;
    assert_eq!(obs[base + 2 + 4], 1.0);
}

#[test]
fn the_compact_state_follows_the_call_at_its_echo_position() {
    let task = TaskSpec::by_name("duet", None).unwrap();
    let enc = task.setting.encoding;
    let e = |pitch: u8| enc.event_of_pitch(pitch).unwrap();
    let mut call = vec![HOLD; 32];
    for (k, pitch) in [60u8, 62, 64, 65, 67, 69, 71, 72].iter().enumerate() {
        call[k * 2] = e(*pitch); // busy: eight eighths, rising by steps
    }
    call[16..].fill(REST);
    let task = task.with_partner(Arc::new(Fixed(call))).unwrap();
    let mut env = ComposeEnv::new(task, ZeroReward);
    env.reset(Some(0)).unwrap();
    let state = env.discrete_state();
    assert_eq!(
        (state >> 38) & 1,
        1,
        "the call struck a note at its first step"
    );
    assert_eq!((state >> 39) & 7, 0, "no move into the call's first note");
    assert_eq!((state >> 42) & 1, 0, "8 onsets in 32 steps is not busy");
    env.step(2).unwrap();
    assert_eq!(
        (env.discrete_state() >> 38) & 1,
        0,
        "a hold at the echo position"
    );
    env.step(2).unwrap();
    let state = env.discrete_state();
    assert_eq!((state >> 38) & 1, 1);
    assert_eq!((state >> 39) & 7, 5, "a step up into D");
    // Equal calls and answers give equal states, episode after episode.
    env.reset(Some(5)).unwrap();
    let again = env.discrete_state();
    env.reset(Some(6)).unwrap();
    assert_eq!(env.discrete_state(), again);
}

#[test]
fn corpus_pairs_are_consecutive_phrases_in_the_task_key() {
    let task = TaskSpec::by_name("duet", None).unwrap();
    let train = CorpusCalls::load(&corpus_dir(), Split::Train, &task).unwrap();
    let held = CorpusCalls::load(&corpus_dir(), Split::HeldOut, &task).unwrap();
    println!(
        "pairs: train {} (skipped files {}), held-out {} (skipped {})",
        train.pairs().len(),
        train.skipped(),
        held.pairs().len(),
        held.skipped()
    );
    assert!(train.pairs().len() > 500, "{}", train.pairs().len());
    assert!(held.pairs().len() > 100, "{}", held.pairs().len());
    let train_files: std::collections::HashSet<_> =
        train.pairs().iter().map(|p| p.file.clone()).collect();
    assert!(held.pairs().iter().all(|p| !train_files.contains(&p.file)));
    let scale = task.setting.scale;
    let (mut in_key, mut notes) = (0, 0);
    for pair in train.pairs() {
        assert_eq!(pair.call.len(), 32);
        assert_eq!(pair.response.len(), 32);
        for &event in pair.call.iter().chain(&pair.response) {
            if let Some(pitch) = task.setting.encoding.pitch_of(event) {
                notes += 1;
                in_key += usize::from(scale & (1 << (pitch % 12)) != 0);
            }
        }
    }
    // Moved to C major, the tunes stay in its scale (a few accidentals remain).
    assert!(in_key as f64 > 0.95 * notes as f64, "{in_key} of {notes}");
}

#[test]
fn a_corpus_without_pairs_is_a_clear_error() {
    let empty = std::env::temp_dir().join(format!("cadenza-duet-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let toml = format!("partner = \"corpus\"\ncorpus = \"{}\"", empty.display());
    let err = TaskSpec::by_name("duet", Some(&toml))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("corpus") && err.contains("no call/response pairs"),
        "{err}"
    );
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn logged_calls_round_trip_and_bad_lines_are_named() {
    let task = TaskSpec::by_name("duet", Some("call_bars = 1\nanswer_bars = 1")).unwrap();
    let enc = task.setting.encoding;
    let call: Vec<Event> = (0..16)
        .map(|k| match k % 4 {
            0 => enc.event_of_pitch(60 + k as u8).unwrap(),
            3 => REST,
            _ => HOLD,
        })
        .collect();
    let line = LoggedCalls::format(&call, enc);
    let parsed = LoggedCalls::parse(&format!("# a call\n\n{line}\n"), &task).unwrap();
    assert_eq!(parsed, vec![call]);
    for (text, needle) in [
        ("60 - - x", "line 1: 'x'"),
        ("60 - -", "line 1: 3 steps: expected 16"),
        ("20 - - - - - - - - - - - - - - -", "pitch 20 is outside"),
        ("# nothing", "no calls"),
    ] {
        let err = LoggedCalls::parse(text, &task).unwrap_err();
        assert!(err.contains(needle), "{text}: {err}");
    }
    let path = std::env::temp_dir().join(format!("cadenza-duet-calls-{}.txt", std::process::id()));
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let toml = format!(
        "call_bars = 1\nanswer_bars = 1\npartner = \"calls\"\ncalls = \"{}\"",
        path.display()
    );
    let task = TaskSpec::by_name("duet", Some(&toml)).unwrap();
    let mut env = ComposeEnv::new(task, ZeroReward);
    env.reset(Some(0)).unwrap();
    assert_eq!(LoggedCalls::format(env.melody(), enc), line);
    std::fs::remove_file(&path).unwrap();
    let config = DuetConfig::from_toml(&toml).unwrap();
    assert!(config
        .to_task()
        .unwrap_err()
        .to_string()
        .contains("cannot read"));
}

#[test]
fn a_deaf_duet_leaves_the_call_out_of_what_the_agent_reads() {
    let deaf = TaskSpec::by_name("duet", Some("hear_call = false")).unwrap();
    let improv = TaskSpec::by_name("improv", None).unwrap();
    assert_eq!(deaf.observation_dim(), improv.observation_dim());
    assert_eq!(deaf.state, cadenza_env::CompactState::Harmonic);
    let report = check_env(|| ComposeEnv::new(deaf.clone(), InScaleReward));
    assert!(report.passed(), "{report}");
}

#[test]
fn the_answer_frame_starts_at_the_answer_with_its_chords() {
    let task = TaskSpec::by_name("duet", None).unwrap();
    let setting = &task.setting;
    let frame = setting.answer_frame();
    assert_eq!(frame.length, 32);
    assert_eq!(frame.call_steps, 0);
    // The answer's bars are | C | G7 C |: C, then G7 for two beats, then C.
    assert_eq!(frame.chord_at(0), setting.chord_at(32));
    assert_eq!(frame.chord_at(16).unwrap().root, 7);
    assert_eq!(frame.chord_at(31).unwrap().root, 0);
    let solo = TaskSpec::by_name("improv", None).unwrap();
    assert_eq!(solo.setting.answer_frame(), solo.setting);
}

#[test]
fn the_duet_state_says_where_the_echoed_call_note_lies() {
    let task = TaskSpec::by_name("duet", None).unwrap();
    let enc = task.setting.encoding;
    let e = |pitch: u8| enc.event_of_pitch(pitch).unwrap();
    let mut call = vec![HOLD; 32];
    call[0] = e(72);
    call[4] = e(60);
    call[8] = e(66);
    call[28] = REST;
    let task = task.with_partner(Arc::new(Fixed(call))).unwrap();
    let mut env = ComposeEnv::new(task, ZeroReward);
    env.reset(Some(0)).unwrap();
    // The last pitch played is the call's F#4 (66); the echo of step 0 is C5 (72): above.
    assert_eq!((env.discrete_state() >> 43) & 3, 3);
    for _ in 0..4 {
        env.step(usize::from(e(67))).unwrap();
    }
    // Played G4; the echo of step 4 is C4: below.
    assert_eq!((env.discrete_state() >> 43) & 3, 1);
    for _ in 0..4 {
        env.step(usize::from(HOLD)).unwrap();
    }
    // The echo of step 8 is F#4, a semitone from G4.
    assert_eq!((env.discrete_state() >> 43) & 3, 2);
    env.step(usize::from(HOLD)).unwrap();
    assert_eq!(
        (env.discrete_state() >> 43) & 3,
        0,
        "no call note at step 9"
    );
}
