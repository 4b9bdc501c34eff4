//! ABC in and out: round trips of songs through ABC (the development corpus and random songs
//! with chords), the MusicXML layout of the same songs, MIDI chord tracks as harmony, the
//! fixture tunes, and fuzzing: no bytes, however broken, make the ABC reader panic.

mod midi_common;

mod abc {
    use crate::midi_common::corpus_files;
    use cadenza_env::abc::{import_bytes, import_str, AbcError};
    use cadenza_env::encoding::Note;
    use cadenza_env::formats::{read_file, Format};
    use cadenza_env::midi::{self, ChordSpan, ImportOptions, KeySignature, MidiSong};
    use cadenza_env::music::Chord;
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/abc"))
    }

    fn options(steps_per_quarter: u32) -> ImportOptions {
        ImportOptions {
            steps_per_quarter,
            ..ImportOptions::default()
        }
    }

    /// The sum of the `<duration>` of every note (pitched only, or all) of a MusicXML text.
    fn xml_durations(xml: &str, pitched_only: bool) -> u64 {
        xml.split("<note>")
            .skip(1)
            .filter(|n| !pitched_only || n.contains("<pitch>"))
            .map(|n| {
                let d = n
                    .split("<duration>")
                    .nth(1)
                    .and_then(|d| d.split('<').next());
                d.and_then(|d| d.parse::<u64>().ok()).expect("a duration")
            })
            .sum()
    }

    /// Every tune of the development corpus, written as ABC, reads back to the same notes,
    /// meter, key, tempo and title; its MusicXML holds the same durations, bar by bar.
    #[test]
    fn the_development_corpus_round_trips_through_abc_and_lays_out_as_musicxml() {
        let files = corpus_files();
        assert!(files.len() >= 600, "{} files", files.len());
        for path in files {
            let m = midi::import_file(&path, &ImportOptions::default()).unwrap();
            let song = MidiSong {
                title: m.title.clone(),
                tempo_qpm: m.tempo_qpm.round(),
                time_signature: m.time_signature.unwrap_or((4, 4)),
                key_signature: m.key_signature,
                ..MidiSong::new(m.notes.clone(), 4)
            };
            let abc = song.to_abc().unwrap();
            let tunes = import_str(&abc, &ImportOptions::default());
            let back = tunes[0]
                .melody
                .as_ref()
                .unwrap_or_else(|e| panic!("{}: {e}\n{abc}", path.display()));
            assert_eq!(back.notes, m.notes, "{}\n{abc}", path.display());
            assert_eq!(back.time_signature, Some(song.time_signature));
            assert_eq!(back.key_signature, m.key_signature);
            assert_eq!(back.title, m.title.as_ref().map(|t| t.trim().to_string()));
            assert_eq!(back.tempo_qpm, song.tempo_qpm);
            assert_eq!(back.report.dropped(), 0);

            let xml = song.to_musicxml().unwrap();
            let (num, den) = song.time_signature;
            let bar = 16 * u64::from(num) / u64::from(den);
            let measures = xml.matches("<measure ").count() as u64;
            assert_eq!(
                xml_durations(&xml, false),
                measures * bar,
                "{}",
                path.display()
            );
            let sounding: u64 = m.notes.iter().map(|n| u64::from(n.duration)).sum();
            assert_eq!(xml_durations(&xml, true), sounding, "{}", path.display());
        }
    }

    /// Sorted, non-overlapping notes: each is (gap before it, duration, pitch).
    fn melody() -> impl Strategy<Value = Vec<Note>> {
        prop::collection::vec((0u32..20, 1u32..40, 0u8..=127), 1..60).prop_map(|specs| {
            let mut step = 0;
            specs
                .into_iter()
                .map(|(gap, duration, pitch)| {
                    let note = Note {
                        pitch,
                        start: step + gap,
                        duration,
                    };
                    step = note.start + duration;
                    note
                })
                .collect()
        })
    }

    const SYMBOLS: [&str; 12] = [
        "C", "Am", "Dm7", "G7", "F#m7b5", "Bb", "Ebmaj7", "E7b9", "Csus4", "Ab/C", "D9", "Gdim7",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Songs with chords -> ABC -> notes and harmony, exactly, on every grid and key.
        #[test]
        fn songs_with_chords_round_trip_through_abc(
            notes in melody(),
            chords in prop::collection::vec((0u32..200, 0usize..SYMBOLS.len()), 0..12),
            meter in prop::sample::select(vec![(2u8, 4u8), (3, 4), (4, 4), (6, 8), (9, 8), (2, 2), (5, 4), (7, 8)]),
            sharps in -7i8..=7,
            minor in any::<bool>(),
            keyless in any::<bool>(),
            steps_per_quarter in prop::sample::select(vec![2u32, 4, 8, 12, 16]),
            qpm in 30u32..=240,
        ) {
            let mut spans: Vec<ChordSpan> = chords
                .iter()
                .map(|&(start, s)| ChordSpan { start, duration: 4, pitches: vec![], symbol: Some(SYMBOLS[s].to_string()) })
                .collect();
            spans.sort_by_key(|c| c.start);
            spans.dedup_by_key(|c| c.start);
            let song = MidiSong {
                title: Some("Random".into()),
                tempo_qpm: f64::from(qpm),
                time_signature: meter,
                key_signature: (!keyless).then_some(KeySignature { sharps, minor }),
                chords: spans.clone(),
                ..MidiSong::new(notes.clone(), steps_per_quarter)
            };
            let abc = song.to_abc()?;
            let tunes = import_str(&abc, &options(steps_per_quarter));
            prop_assert_eq!(tunes.len(), 1);
            let back = tunes[0].melody.as_ref().map_err(|e| TestCaseError::fail(format!("{e}\n{abc}")))?;
            prop_assert_eq!(&back.notes, &notes, "{}", abc);
            let expected: Vec<(u32, Chord)> = spans.iter().map(|c| (c.start, c.symbol.as_deref().unwrap_or("").parse().unwrap())).collect();
            prop_assert_eq!(&back.harmony, &expected);
            prop_assert_eq!(back.key_signature, song.key_signature);
            prop_assert_eq!(back.time_signature, Some(meter));
            prop_assert_eq!(back.tempo_qpm, f64::from(qpm));
            prop_assert_eq!(back.report.max_shift_ticks, 0.0);

            // And the MIDI file of the same song keeps the harmony in its chord track.
            let with_tones = MidiSong {
                chords: spans.iter().map(|c| ChordSpan { pitches: vec![48, 52], ..c.clone() }).collect(),
                ..song.clone()
            };
            let bytes = with_tones.to_bytes()?;
            let midi = midi::import_bytes(&bytes, &ImportOptions { track: Some(midi::MELODY_TRACK), ..options(steps_per_quarter) })?;
            prop_assert_eq!(&midi.harmony, &expected);

            // Its MusicXML fills every bar and sounds the melody's steps.
            let xml = song.to_musicxml().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let sounding: u64 = notes.iter().map(|n| u64::from(n.duration)).sum();
            prop_assert_eq!(xml_durations(&xml, true), sounding);
            prop_assert_eq!(xml.matches("<harmony>").count(), expected.len());
        }
    }

    /// A chord track with more notes than the melody is still the accompaniment: the
    /// melody comes from the other track and the chords become its harmony, without naming
    /// a track.
    #[test]
    fn a_dense_chord_track_is_harmony_not_melody() {
        let notes: Vec<Note> = (0..8)
            .map(|i| Note {
                pitch: 72 + i as u8,
                start: 4 * i,
                duration: 4,
            })
            .collect();
        let chords = vec![
            ChordSpan {
                start: 0,
                duration: 16,
                pitches: vec![48, 52, 55, 59],
                symbol: Some("Cmaj7".into()),
            },
            ChordSpan {
                start: 16,
                duration: 16,
                pitches: vec![43, 47, 50, 53],
                symbol: Some("G7".into()),
            },
        ];
        // 20 chord notes against 8 melody notes.
        let mut song = MidiSong {
            chords,
            ..MidiSong::new(notes.clone(), 4)
        };
        for extra in 0..4 {
            song.chords.push(ChordSpan {
                start: 32 + 4 * extra,
                duration: 4,
                pitches: vec![40, 44, 47],
                symbol: None,
            });
        }
        let m = midi::import_bytes(&song.to_bytes().unwrap(), &ImportOptions::default()).unwrap();
        assert_eq!(m.report.track, midi::MELODY_TRACK);
        assert_eq!(m.notes, notes);
        let harmony: Vec<String> = m.harmony.iter().map(|(s, c)| format!("{s}:{c}")).collect();
        assert_eq!(harmony, ["0:Cmaj7", "16:G7"]);
    }

    #[test]
    fn the_fixture_tunes_read_with_their_chords_and_the_broken_one_is_named() {
        let tunes = read_file(
            &fixtures().join("reels.abc"),
            None,
            &ImportOptions::default(),
        )
        .unwrap();
        assert_eq!(tunes.len(), 3);
        let reel = tunes[0].melody.as_ref().unwrap();
        // Four bars played twice, less the first ending's bar on the second pass.
        assert_eq!(reel.time_signature, Some((2, 2)));
        assert_eq!(
            reel.key_signature,
            Some(KeySignature {
                sharps: 2,
                minor: false
            })
        );
        assert_eq!(reel.length_steps(), 8 * 16);
        let chords: Vec<String> = reel.harmony.iter().map(|(_, c)| c.to_string()).collect();
        assert_eq!(
            chords,
            ["D", "G", "A", "D", "A7", "D", "D", "G", "A", "D", "A7", "D"]
        );

        let waltz = tunes[1].melody.as_ref().unwrap();
        assert_eq!(waltz.tempo_qpm, 100.0);
        assert_eq!(waltz.report.lyric_lines_skipped, 1);
        assert_eq!(waltz.report.decorations_skipped, 1);
        // The tie across the bar line makes one E of four beats, then two beats of rest.
        let e = waltz.notes.iter().find(|n| n.start == 36).unwrap();
        assert_eq!((e.pitch, e.duration), (64, 16));
        assert_eq!(waltz.harmony.len(), 8);
        assert_eq!(waltz.harmony[3], (36, "Em".parse().unwrap()));

        let err = tunes[2].melody.as_ref().unwrap_err().to_string();
        assert!(err.contains("reels.abc"), "{err}");
        assert!(err.contains("X:3 \"Broken\""), "{err}");
        assert!(err.contains("line 27, column 7"), "{err}");
        assert!(err.contains("expected a note"), "{err}");
    }

    #[test]
    fn unreadable_inputs_are_errors_not_panics() {
        let tunes = import_str("X:1\nK:Q\nC\n", &ImportOptions::default());
        assert!(
            matches!(&tunes[0].melody, Err(AbcError::Syntax { message, .. }) if message.contains("expected a key"))
        );
        let tunes = import_str("X:1\nK:C\nC & D\n", &ImportOptions::default());
        assert!(matches!(
            &tunes[0].melody,
            Err(AbcError::Unsupported { .. })
        ));
        let tunes = import_str("X:1\nK:C\nC99999999999\n", &ImportOptions::default());
        assert!(tunes[0].melody.is_err());
        // Repeats past the melody limit are refused before their steps are laid out.
        let long = format!("X:1\nL:64/1\nK:C\n{}\n", "|: C C C C :|".repeat(400));
        let tunes = import_str(&long, &ImportOptions::default());
        assert!(
            matches!(&tunes[0].melody, Err(AbcError::TooLong { .. })),
            "{}",
            tunes[0].melody.is_ok()
        );
        assert_eq!(Format::from_path("x.ABC".as_ref()), Some(Format::Abc));
    }

    fn exercise(bytes: &[u8]) {
        for spq in [4, 3, 1] {
            for tune in import_bytes(bytes, &options(spq)) {
                if let Ok(m) = tune.melody {
                    assert!(m
                        .notes
                        .windows(2)
                        .all(|w| w[0].start + w[0].duration <= w[1].start));
                    assert!(m.notes.iter().all(|n| n.duration >= 1));
                    assert!(m.harmony.windows(2).all(|w| w[0].0 < w[1].0));
                    round_trip(&m);
                }
            }
        }
    }

    /// A tune that reads is written back as ABC (ABC -> events -> ABC) and must read again
    /// to the same notes, harmony and key.
    fn round_trip(m: &cadenza_env::midi::ImportedMelody) {
        let song = m.to_song();
        let (num, den) = song.time_signature;
        let whole_bar =
            (u64::from(song.steps_per_quarter) * 4 * u64::from(num)).is_multiple_of(u64::from(den));
        let abc = match song.to_abc() {
            Ok(abc) => abc,
            Err(e) => {
                assert!(!whole_bar, "{e}");
                return;
            }
        };
        let again = import_str(&abc, &options(song.steps_per_quarter));
        let back = again[0]
            .melody
            .as_ref()
            .unwrap_or_else(|e| panic!("{e}\n{abc}"));
        assert_eq!(back.notes, m.notes, "{abc}");
        assert_eq!(back.harmony, m.harmony, "{abc}");
        assert_eq!(back.key_signature, m.key_signature);
    }

    #[test]
    fn the_fixture_tunes_round_trip_abc_to_events_to_abc() {
        for file in ["reels.abc", "jig.abc"] {
            let tunes = read_file(&fixtures().join(file), None, &ImportOptions::default()).unwrap();
            let read: Vec<_> = tunes
                .iter()
                .filter_map(|t| t.melody.as_ref().ok())
                .collect();
            assert!(!read.is_empty());
            for tune in read {
                round_trip(tune);
            }
        }
    }

    fn seeds() -> Vec<String> {
        let mut texts: Vec<String> = ["reels.abc", "jig.abc"]
            .iter()
            .map(|f| std::fs::read_to_string(fixtures().join(f)).unwrap())
            .collect();
        texts.push("X:1\nM:7/8\nL:1/16\nK:Bb\n[K:F#m] (5ABcde [L:1/8] z4 Z2 |: [CEG]>[ce] :: \"N.C.\"G,,^^c''__d !p!e|]".into());
        texts
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            exercise(&bytes);
        }

        #[test]
        fn mutated_tunes_never_panic(
            seed in 0usize..3,
            edits in prop::collection::vec((0.0f64..1.0, prop::sample::select(b"|:[]()\"!{}-<>/^_=,'0123456789zZxXABCabcKLM: \n%&".to_vec()), any::<bool>()), 1..8),
        ) {
            let mut bytes = seeds()[seed].clone().into_bytes();
            for (at, byte, insert) in edits {
                let i = ((bytes.len() as f64) * at) as usize;
                if insert || i >= bytes.len() {
                    bytes.insert(i.min(bytes.len()), byte);
                } else {
                    bytes[i] = byte;
                }
            }
            exercise(&bytes);
        }
    }
}
