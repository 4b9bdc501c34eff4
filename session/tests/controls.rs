//! Musical controls: each moves the very next phrase the way it says and keeps it music;
//! bad values are refused naming the field; the log replays them.

use cadenza_env::Event;
use cadenza_reward::musicianship::{self, MUSIC};
use cadenza_session::controls::{describe, Measures};
use cadenza_session::web::handle;
use cadenza_session::{Controls, Feedback, Session, SessionConfig};
use serde_json::Value;

fn config() -> SessionConfig {
    SessionConfig {
        seed: 11,
        pretrain_steps: 300_000,
        calibration_phrases: 16,
        ..SessionConfig::default()
    }
}

/// The mean measures over every candidate of the next round under `controls`, and the played
/// phrase.
fn next_round(session: &mut Session, controls: &Controls) -> (Measures, Vec<Event>) {
    session.set_controls(controls.clone()).unwrap();
    let round = session.propose().unwrap().clone();
    let setting = &session.task().setting;
    let all: Vec<Measures> = round
        .candidates
        .iter()
        .map(|c| describe(setting, &c.events))
        .collect();
    let n = all.len() as f64;
    let mean = |f: fn(&Measures) -> f64| all.iter().map(f).sum::<f64>() / n;
    let measures = Measures {
        notes_per_beat: mean(|m| m.notes_per_beat),
        rest_share: mean(|m| m.rest_share),
        chromatic_share: mean(|m| m.chromatic_share),
        lowest: all.iter().map(|m| m.lowest).min().unwrap(),
        highest: all.iter().map(|m| m.highest).max().unwrap(),
        mean_pitch: mean(|m| m.mean_pitch),
    };
    (measures, round.played().events.clone())
}

fn is_music(session: &Session, events: &[Event]) -> bool {
    let scores = musicianship::measure(&session.task().setting, events).scores();
    MUSIC.failures(&scores).is_empty()
}

#[test]
fn each_control_moves_the_next_phrase_its_way_and_keeps_it_music() {
    let mut session = Session::new(config(), None).unwrap();
    let none = Controls::default();
    let ask = |f: fn(&mut Controls)| {
        let mut c = Controls::default();
        f(&mut c);
        c
    };
    let (mut denser, mut sparser, mut spacious, mut plain) = (0.0, 0.0, 0.0, 0.0);
    let (mut chromatic, mut in_key) = (0.0, 0.0);
    let mut played = Vec::new();
    let rounds = 3;
    for _ in 0..rounds {
        // The same round (the same random stream) under each control in turn.
        let (m, _) = next_round(&mut session, &ask(|c| c.density = 1.0));
        denser += m.notes_per_beat;
        let (m, _) = next_round(&mut session, &ask(|c| c.density = -1.0));
        sparser += m.notes_per_beat;
        let (m, p) = next_round(&mut session, &ask(|c| c.space = 1.0));
        spacious += m.rest_share;
        played.push(p);
        let (m, _) = next_round(&mut session, &ask(|c| c.chromatic = 1.0));
        chromatic += m.chromatic_share;
        let (m, p) = next_round(&mut session, &ask(|c| c.chromatic = -1.0));
        in_key += m.chromatic_share;
        played.push(p);
        let (m, p) = next_round(
            &mut session,
            &ask(|c| {
                c.low = Some(67);
                c.high = Some(79);
            }),
        );
        assert!(m.lowest >= 67 && m.highest <= 79, "{m:?}");
        played.push(p);
        let (m, p) = next_round(&mut session, &none);
        plain += m.rest_share;
        played.push(p);
        session
            .feedback(Feedback {
                rating: Some(3),
                preference: None,
            })
            .unwrap();
    }
    let r = f64::from(rounds);
    let (denser, sparser) = (denser / r, sparser / r);
    let (spacious, plain) = (spacious / r, plain / r);
    let (chromatic, in_key) = (chromatic / r, in_key / r);
    // Measurable, not marginal: a third more notes per beat, half as much again of rests, and
    // twice the share of notes outside the key.
    assert!(
        denser > 1.3 * sparser,
        "notes per beat {denser} against {sparser}"
    );
    assert!(spacious > 1.5 * plain, "rests {spacious} against {plain}");
    assert!(
        chromatic > 2.0 * in_key,
        "outside the key {chromatic} against {in_key}"
    );
    let music = played.iter().filter(|p| is_music(&session, p)).count();
    assert!(
        music * 4 >= played.len() * 3,
        "{music} of {} played phrases are music",
        played.len()
    );
}

#[test]
fn the_api_refuses_bad_controls_naming_the_field() {
    let mut session = Session::new(
        SessionConfig {
            pretrain_steps: 20_000,
            calibration_phrases: 8,
            candidates: 4,
            ..SessionConfig::default()
        },
        None,
    )
    .unwrap();
    for (body, word) in [
        (r#"{"density": 2}"#, "controls.density"),
        (r#"{"space": "lots"}"#, "field 'space'"),
        (r#"{"low": "C4"}"#, "field 'low'"),
        (r#"{"low": 200}"#, "field 'low'"),
        (r#"{"high": 30}"#, "controls.high"),
        (r#"{"low": 70, "high": 72}"#, "controls.high"),
        (r#"{"loud": 1}"#, "unknown field 'loud'"),
        (r#"[1, 2]"#, "JSON object"),
        (r#"{"density": "#, "request body"),
    ] {
        let reply = handle(&mut session, "POST", "/api/controls", body.as_bytes());
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.body.contains(word), "{body}: {}", reply.body);
    }
    assert_eq!(session.controls(), &Controls::default(), "nothing changed");

    let reply = handle(
        &mut session,
        "POST",
        "/api/controls",
        br#"{"low": 64, "space": 0.5}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(answer["state"]["controls"]["low"], 64);
    assert_eq!(answer["state"]["controls"]["space"], 0.5);
    assert!(answer["phrase"]["measures"]["rest_share"].is_number());
    let taste = answer["state"]["taste"].as_array().unwrap();
    assert_eq!(taste.len(), cadenza_session::controls::DIMENSION_COUNT);
    assert!(answer["phrase"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["pitch"].as_u64().unwrap() >= 64));
    // A later request changes only the fields it names; null clears the range.
    let reply = handle(&mut session, "POST", "/api/controls", br#"{"low": null}"#);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(session.controls().low, None);
    assert_eq!(session.controls().space, 0.5);
}

#[test]
fn a_resumed_session_plays_on_with_the_logged_controls() {
    let dir = std::env::temp_dir().join(format!("cadenza-controls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.jsonl");
    let _ = std::fs::remove_file(&path);
    let config = SessionConfig {
        seed: 5,
        pretrain_steps: 20_000,
        calibration_phrases: 8,
        candidates: 4,
        ..SessionConfig::default()
    };
    let controls = Controls {
        low: Some(65),
        high: Some(80),
        density: -0.5,
        space: 0.75,
        chromatic: -1.0,
    };
    let rate = |s: &mut Session, r| {
        s.propose().unwrap();
        s.feedback(Feedback {
            rating: Some(r),
            preference: None,
        })
        .unwrap();
    };
    let expected = {
        let mut session = Session::new(config, Some(&path)).unwrap();
        rate(&mut session, 4);
        // A phrase proposed, then replaced by one that follows the controls.
        session.propose().unwrap();
        session.set_controls(controls.clone()).unwrap();
        rate(&mut session, 2);
        rate(&mut session, 5);
        session.propose().unwrap().played().events.clone()
    };
    let (mut resumed, report) = Session::resume(&path).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(resumed.controls(), &controls);
    assert_eq!(resumed.rounds_done(), 3);
    let again = resumed.propose().unwrap().played().events.clone();
    assert_eq!(
        again, expected,
        "the resumed session proposes what it would have"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The musicianship guard: a round plays its best candidate that is music whenever one is;
/// without the guard the same rounds play the best score, music or not.
#[test]
fn the_guard_plays_music_whenever_a_candidate_is_music() {
    let run = |guard: bool| {
        let mut session = Session::new(
            SessionConfig {
                seed: 2,
                pretrain_steps: 200_000,
                calibration_phrases: 8,
                candidates: 16,
                musicianship_guard: guard,
                ..SessionConfig::default()
            },
            None,
        )
        .unwrap();
        let (mut unmusical_played, mut rounds_with_music) = (0, 0);
        for _ in 0..12 {
            let round = session.propose().unwrap().clone();
            if round.candidates.iter().any(|c| c.musical) {
                rounds_with_music += 1;
                unmusical_played += usize::from(!round.played().musical);
            }
            session
                .feedback(Feedback {
                    rating: Some(3),
                    preference: None,
                })
                .unwrap();
        }
        (unmusical_played, rounds_with_music)
    };
    let (guarded, with_music) = run(true);
    assert!(with_music > 0, "no round had a musical candidate");
    assert_eq!(
        guarded, 0,
        "{guarded} rounds played a phrase that is not music"
    );
    let (unguarded, _) = run(false);
    assert!(
        unguarded > 0,
        "the test cannot tell the guard from its absence"
    );
}
