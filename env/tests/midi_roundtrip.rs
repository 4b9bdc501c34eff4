//! Export then import gives back the same melody and metadata; exported files are plain
//! Standard MIDI Files that another reader (midly, used directly) understands.

/// Grouped under `midi` so that `cargo test midi` selects these tests.
mod midi {
    use cadenza_env::encoding::Note;
    use cadenza_env::midi::{
        import_bytes, ChordSpan, ImportOptions, KeySignature, MidiError, MidiSong, Polyphony,
        MELODY_TRACK,
    };
    use proptest::prelude::*;

    /// Sorted, non-overlapping notes: each is (gap before it, duration, pitch).
    fn melody() -> impl Strategy<Value = Vec<Note>> {
        prop::collection::vec((0u32..20, 1u32..20, 0u8..=127), 1..80).prop_map(|specs| {
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

    fn time_signature() -> impl Strategy<Value = (u8, u8)> {
        (1u8..=16, prop::sample::select(vec![1u8, 2, 4, 8, 16, 32]))
    }

    fn key_signature() -> impl Strategy<Value = Option<KeySignature>> {
        prop::option::of(
            (-7i8..=7, any::<bool>()).prop_map(|(sharps, minor)| KeySignature { sharps, minor }),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn export_import_round_trip(
            notes in melody(),
            title in prop::option::of("[A-Za-z0-9 ',.é-]{1,40}"),
            qpm in 20u32..=300,
            time_signature in time_signature(),
            key_signature in key_signature(),
            steps_per_quarter in prop::sample::select(vec![1u32, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 96]),
        ) {
            let song = MidiSong {
                title: title.clone(),
                tempo_qpm: f64::from(qpm),
                time_signature,
                key_signature,
                ..MidiSong::new(notes.clone(), steps_per_quarter)
            };
            let bytes = song.to_bytes()?;
            let options = ImportOptions { steps_per_quarter, polyphony: Polyphony::Error, track: None };
            let back = import_bytes(&bytes, &options)?;
            prop_assert_eq!(&back.notes, &notes);
            prop_assert_eq!(back.title, title);
            prop_assert!((back.tempo_qpm - f64::from(qpm)).abs() < 1e-3 * f64::from(qpm));
            prop_assert_eq!(back.time_signature, Some(time_signature));
            prop_assert_eq!(back.key_signature, key_signature);
            prop_assert_eq!(back.raw_note_count, notes.len());
            prop_assert_eq!(back.report.dropped(), 0);
            prop_assert_eq!(back.report.max_shift_ticks, 0.0);
            prop_assert_eq!(back.report.track, MELODY_TRACK);
            prop_assert_eq!(usize::from(back.ticks_per_quarter) % steps_per_quarter as usize, 0);
        }

        #[test]
        fn chords_do_not_disturb_the_melody(notes in melody(), voices in 1usize..6) {
            let end = notes.last().map_or(0, |n| n.start + n.duration);
            let chords: Vec<ChordSpan> = (0..end.div_ceil(8))
                .map(|i| ChordSpan {
                    start: i * 8,
                    duration: 8,
                    pitches: (0..voices).map(|v| 36 + 4 * v as u8).collect(),
                    symbol: Some(format!("C{i}")),
                })
                .collect();
            let song = MidiSong { chords, ..MidiSong::new(notes.clone(), 4) };
            let bytes = song.to_bytes()?;
            let options = ImportOptions { track: Some(MELODY_TRACK), ..ImportOptions::default() };
            prop_assert_eq!(import_bytes(&bytes, &options)?.notes, notes);
        }
    }

    #[test]
    fn exported_file_reads_back_with_midly_directly() {
        use midly::{Format, MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};

        let melody = vec![
            Note {
                pitch: 67,
                start: 0,
                duration: 2,
            },
            Note {
                pitch: 69,
                start: 2,
                duration: 2,
            },
            Note {
                pitch: 71,
                start: 6,
                duration: 2,
            },
        ];
        let song = MidiSong {
            title: Some("The Tune".into()),
            tempo_qpm: 100.0,
            time_signature: (6, 8),
            key_signature: Some(KeySignature {
                sharps: 1,
                minor: false,
            }),
            chords: vec![ChordSpan {
                start: 0,
                duration: 8,
                pitches: vec![43, 47, 50],
                symbol: Some("G".into()),
            }],
            ..MidiSong::new(melody, 4)
        };
        let bytes = song.to_bytes().unwrap();
        let smf = Smf::parse(&bytes).unwrap();
        assert_eq!(smf.header.format, Format::Parallel);
        assert_eq!(smf.header.timing, Timing::Metrical(480.into()));
        assert_eq!(smf.tracks.len(), 3, "conductor, melody, chords");

        let metas: Vec<MetaMessage> = smf.tracks[0]
            .iter()
            .filter_map(|e| match e.kind {
                TrackEventKind::Meta(m) => Some(m),
                _ => None,
            })
            .collect();
        assert!(metas.contains(&MetaMessage::TrackName(b"The Tune")));
        assert!(metas.contains(&MetaMessage::Tempo(600_000.into())));
        assert!(metas.contains(&MetaMessage::TimeSignature(6, 3, 36, 8)));
        assert!(metas.contains(&MetaMessage::KeySignature(1, false)));
        assert_eq!(metas.last(), Some(&MetaMessage::EndOfTrack));

        // Melody: absolute ticks of note-ons and note-offs on channel 1, program 73.
        let mut tick = 0u32;
        let mut ons = Vec::new();
        let mut offs = Vec::new();
        let mut program = None;
        for event in &smf.tracks[1] {
            tick += event.delta.as_int();
            if let TrackEventKind::Midi { channel, message } = event.kind {
                assert_eq!(channel.as_int(), 0);
                match message {
                    MidiMessage::NoteOn { key, vel } => {
                        ons.push((tick, key.as_int(), vel.as_int()))
                    }
                    MidiMessage::NoteOff { key, .. } => offs.push((tick, key.as_int())),
                    MidiMessage::ProgramChange { program: p } => program = Some(p.as_int()),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(program, Some(73));
        assert_eq!(ons, vec![(0, 67, 90), (240, 69, 90), (720, 71, 90)]);
        assert_eq!(offs, vec![(240, 67), (480, 69), (960, 71)]);

        // Chords: channel 2, softer, with the symbol as text.
        let chord_track = &smf.tracks[2];
        assert!(chord_track
            .iter()
            .any(|e| e.kind == TrackEventKind::Meta(MetaMessage::Text(b"G"))));
        let chord_ons: Vec<(u8, u8, u8)> = chord_track
            .iter()
            .filter_map(|e| match e.kind {
                TrackEventKind::Midi {
                    channel,
                    message: MidiMessage::NoteOn { key, vel },
                } => Some((channel.as_int(), key.as_int(), vel.as_int())),
                _ => None,
            })
            .collect();
        assert_eq!(chord_ons, vec![(1, 43, 60), (1, 47, 60), (1, 50, 60)]);
    }

    #[test]
    fn exported_file_plays_in_mido_when_available() {
        // Optional: a second, independent reader. Skipped quietly where Python or mido is absent.
        let has_mido = std::process::Command::new("python3")
            .args(["-c", "import mido"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_mido {
            eprintln!("python3 with mido not available; skipping");
            return;
        }
        let dir = std::env::temp_dir().join(format!("cadenza-midi-mido-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("song.mid");
        let song = MidiSong::new(
            vec![Note {
                pitch: 60,
                start: 0,
                duration: 4,
            }],
            4,
        );
        song.write(&path).unwrap();
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, mido; f = mido.MidiFile(sys.argv[1]); \
             print(len(f.tracks), sum(m.type == 'note_on' for t in f.tracks for m in t))",
            ])
            .arg(&path)
            .output()
            .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2 1");
    }

    #[test]
    fn invalid_songs_name_the_field() {
        let note = |pitch| Note {
            pitch,
            start: 0,
            duration: 1,
        };
        let cases: Vec<(MidiSong, &str)> = vec![
            (
                MidiSong {
                    tempo_qpm: f64::NAN,
                    ..MidiSong::default()
                },
                "tempo_qpm",
            ),
            (
                MidiSong {
                    tempo_qpm: 0.0,
                    ..MidiSong::default()
                },
                "tempo_qpm",
            ),
            (
                MidiSong {
                    tempo_qpm: -90.0,
                    ..MidiSong::default()
                },
                "tempo_qpm",
            ),
            (
                MidiSong {
                    tempo_qpm: f64::INFINITY,
                    ..MidiSong::default()
                },
                "tempo_qpm",
            ),
            (
                MidiSong::new(vec![note(60), note(128)], 4),
                "melody[1].pitch",
            ),
            (
                MidiSong::new(
                    vec![Note {
                        pitch: 60,
                        start: 0,
                        duration: 0,
                    }],
                    4,
                ),
                "melody[0].duration",
            ),
            (MidiSong::new(vec![note(60)], 0), "steps_per_quarter"),
            (MidiSong::new(vec![note(60)], 40_000), "steps_per_quarter"),
            (
                MidiSong {
                    time_signature: (3, 3),
                    ..MidiSong::default()
                },
                "time_signature",
            ),
            (
                MidiSong {
                    time_signature: (0, 4),
                    ..MidiSong::default()
                },
                "time_signature",
            ),
            (
                MidiSong {
                    key_signature: Some(KeySignature {
                        sharps: 8,
                        minor: false,
                    }),
                    ..MidiSong::default()
                },
                "key_signature.sharps",
            ),
            (
                MidiSong {
                    velocity: 0,
                    ..MidiSong::default()
                },
                "velocity",
            ),
            (
                MidiSong {
                    melody_program: 200,
                    ..MidiSong::default()
                },
                "melody_program",
            ),
            (
                MidiSong {
                    chords: vec![ChordSpan {
                        start: 0,
                        duration: 4,
                        pitches: vec![60, 255],
                        symbol: None,
                    }],
                    ..MidiSong::default()
                },
                "chords[0].pitches[1]",
            ),
        ];
        for (song, field) in cases {
            match song.to_bytes() {
                Err(MidiError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn uncommon_step_counts_pick_a_fitting_resolution() {
        for (steps_per_quarter, ticks) in [
            (4, 480),
            (7, 3360),
            (9, 1440),
            (960, 960),
            (1000, 12000),
            (20_000, 20_000),
        ] {
            let song = MidiSong::new(
                vec![Note {
                    pitch: 60,
                    start: 3,
                    duration: 2,
                }],
                steps_per_quarter,
            );
            assert_eq!(song.ticks_per_quarter().unwrap(), ticks);
            let options = ImportOptions {
                steps_per_quarter,
                ..ImportOptions::default()
            };
            let back = import_bytes(&song.to_bytes().unwrap(), &options).unwrap();
            assert_eq!(back.notes, song.melody);
        }
    }

    #[test]
    fn write_is_atomic_and_names_the_path_on_failure() {
        let dir = std::env::temp_dir().join(format!("cadenza-midi-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tune.mid");
        let song = MidiSong::new(
            vec![Note {
                pitch: 62,
                start: 0,
                duration: 3,
            }],
            4,
        );
        song.write(&path).unwrap();
        song.write(&path).unwrap(); // Replaces the existing file.
        let imported = cadenza_env::midi::import_file(&path, &ImportOptions::default()).unwrap();
        assert_eq!(imported.notes, song.melody);
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");

        let missing = dir.join("no-such-folder").join("tune.mid");
        let err = song.write(&missing).unwrap_err();
        assert!(matches!(err, MidiError::Io { .. }));
        assert!(err.to_string().contains("no-such-folder"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
