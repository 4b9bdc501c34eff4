//! Hand-made files for each import rule, and bad input that must give an error, not a panic.

mod midi_common;

/// Grouped under `midi` so that `cargo test midi` selects these tests.
mod midi {

    use crate::midi_common::{off, on, smf, track};
    use cadenza_env::encoding::{EventEncoding, Note, HOLD, REST};
    use cadenza_env::limits::MAX_MELODY_STEPS;
    use cadenza_env::midi::{
        import_bytes, import_file, ImportOptions, ImportedMelody, MidiError, MidiSong, OutOfRange,
        Polyphony,
    };

    fn import(bytes: &[u8]) -> Result<ImportedMelody, MidiError> {
        import_bytes(bytes, &ImportOptions::default())
    }

    fn n(pitch: u8, start: u32, duration: u32) -> Note {
        Note {
            pitch,
            start,
            duration,
        }
    }

    /// A single-track file at 480 ticks per quarter (120 ticks per sixteenth step).
    fn single(events: &[(u32, &[u8])]) -> Vec<u8> {
        smf(0, 480, &[track(events)])
    }

    #[test]
    fn empty_bytes_are_a_parse_error() {
        let err = import(&[]).unwrap_err();
        assert!(matches!(err, MidiError::Parse { .. }), "{err:?}");
    }

    #[test]
    fn truncated_header_is_a_parse_error() {
        let full = single(&[(0, &on(0, 60)), (480, &off(0, 60))]);
        for len in 1..14 {
            let err = import(&full[..len]).unwrap_err();
            assert!(
                matches!(err, MidiError::Parse { .. }),
                "{len} bytes: {err:?}"
            );
        }
    }

    #[test]
    fn truncated_track_is_a_parse_error() {
        let full = single(&[(0, &on(0, 60)), (480, &off(0, 60))]);
        for len in 14..full.len() {
            let err = import(&full[..len]).unwrap_err();
            assert!(
                matches!(err, MidiError::Parse { .. }),
                "{len} bytes: {err:?}"
            );
            assert!(err.to_string().contains("truncated"), "{err}");
        }
        assert!(import(&full).is_ok());
    }

    #[test]
    fn not_midi_is_a_parse_error() {
        let err = import(b"RIFX this is not a MIDI file at all").unwrap_err();
        assert!(matches!(err, MidiError::Parse { .. }), "{err:?}");
    }

    #[test]
    fn garbage_after_a_valid_header_is_an_error() {
        let mut bytes = smf(0, 480, &[]);
        bytes.extend(b"\x13\x37garbage that is no chunk at all");
        let err = import(&bytes).unwrap_err();
        assert!(matches!(err, MidiError::Parse { .. }), "{err:?}");

        // A well-sized track chunk full of nonsense: the event parser stops, we report it.
        let mut bytes = smf(0, 480, &[]);
        bytes.extend(b"MTrk\x00\x00\x00\x06\x00\x42\x42\x42\x42\x42");
        let err = import(&bytes).unwrap_err();
        assert!(matches!(err, MidiError::Parse { .. }), "{err:?}");
    }

    #[test]
    fn unknown_chunks_are_skipped_as_the_standard_says() {
        let mut bytes = smf(0, 480, &[]);
        bytes.extend(b"XFIH\x00\x00\x00\x03abc");
        bytes.extend(track(&[(0, &on(0, 60)), (480, &off(0, 60))]));
        assert_eq!(import(&bytes).unwrap().notes, vec![n(60, 0, 4)]);
    }

    #[test]
    fn header_without_tracks_has_no_melody() {
        let err = import(&smf(1, 480, &[])).unwrap_err();
        assert!(matches!(err, MidiError::NoMelody { .. }), "{err:?}");
    }

    #[test]
    fn only_drums_is_no_melody_and_says_so() {
        let bytes = single(&[
            (0, &on(9, 36)),
            (120, &off(9, 36)),
            (0, &on(9, 38)),
            (120, &off(9, 38)),
        ]);
        let err = import(&bytes).unwrap_err();
        assert!(matches!(err, MidiError::NoMelody { .. }), "{err:?}");
        assert!(err.to_string().contains("drum"), "{err}");
    }

    #[test]
    fn drums_beside_a_melody_are_ignored() {
        let bytes = single(&[
            (0, &on(9, 36)),
            (0, &on(0, 72)),
            (120, &off(9, 36)),
            (360, &off(0, 72)),
        ]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.notes, vec![n(72, 0, 4)]);
        assert_eq!(melody.report.drum_notes_ignored, 1);
        assert_eq!(melody.raw_note_count, 1);
    }

    #[test]
    fn zero_length_notes_are_dropped_and_counted() {
        let bytes = single(&[
            (0, &on(0, 60)),
            (0, &off(0, 60)),
            (0, &on(0, 62)),
            (480, &off(0, 62)),
            (0, &on(0, 64)),
            (0, &[0x90, 64, 0]), // velocity 0: a note-off
        ]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.notes, vec![n(62, 0, 4)]);
        assert_eq!(melody.report.zero_length_dropped, 2);
        assert_eq!(melody.raw_note_count, 3);
    }

    #[test]
    fn velocity_zero_is_a_note_off_and_unmatched_offs_are_ignored() {
        let bytes = single(&[
            (0, &off(0, 50)),
            (0, &on(0, 60)),
            (240, &[0x90, 60, 0]),
            (0, &off(0, 60)),
            (240, &on(0, 62)),
            (240, &off(0, 62)),
        ]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.notes, vec![n(60, 0, 2), n(62, 4, 2)]);
        assert_eq!(melody.report.unmatched_note_offs, 2);
    }

    #[test]
    fn a_new_note_cuts_the_sounding_one() {
        // Legato overlap, as keyboard players leave it: 60 is still held when 62 starts.
        let bytes = single(&[
            (0, &on(0, 60)),
            (480, &on(0, 62)),
            (60, &off(0, 60)),
            (420, &off(0, 62)),
        ]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.notes, vec![n(60, 0, 4), n(62, 4, 4)]);
        assert_eq!(melody.report.overlaps_cut, 1);
    }

    #[test]
    fn chords_keep_the_highest_note_or_fail_on_request() {
        let bytes = single(&[
            (0, &on(0, 48)),
            (0, &on(0, 67)),
            (0, &on(0, 64)),
            (480, &off(0, 48)),
            (0, &off(0, 64)),
            (0, &off(0, 67)),
        ]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.notes, vec![n(67, 0, 4)]);
        assert_eq!(melody.report.simultaneous_dropped, 2);

        let strict = ImportOptions {
            polyphony: Polyphony::Error,
            ..ImportOptions::default()
        };
        match import_bytes(&bytes, &strict) {
            Err(MidiError::Polyphony { tick, pitches, .. }) => {
                assert_eq!(tick, 0);
                assert_eq!(pitches, vec![48, 67]);
            }
            other => panic!("expected a polyphony error, got {other:?}"),
        }
    }

    #[test]
    fn unterminated_notes_end_with_the_track() {
        let bytes = single(&[
            (0, &on(0, 60)),
            (480, &on(0, 62)),
            (480, &[0xff, 0x01, 0x00]),
        ]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.notes, vec![n(60, 0, 4), n(62, 4, 4)]);
        assert_eq!(melody.report.unterminated_closed, 1);
    }

    #[test]
    fn quantisation_rounds_and_reports() {
        let bytes = single(&[
            (0, &on(0, 60)),
            (130, &off(0, 60)), // ends 10 ticks late
            (50, &on(0, 62)),   // starts at 180: half a step, rounds up to step 2
            (10, &off(0, 62)),  // ends at 190, also step 2: lasts one step all the same
            (50, &on(0, 64)),   // 240, on the grid, but also step 2: dropped
            (240, &off(0, 64)),
        ]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.notes, vec![n(60, 0, 1), n(62, 2, 1)]);
        let report = &melody.report;
        assert_eq!(report.quantize_collisions_dropped, 1);
        assert_eq!(report.max_shift_ticks, 60.0);
        assert!((report.moved_onset_fraction - 1.0 / 3.0).abs() < 1e-12);
        assert!(
            (report.mean_shift_ticks - (0.0 + 10.0 + 60.0 + 50.0 + 0.0 + 0.0) / 6.0).abs() < 1e-9
        );
    }

    #[test]
    fn tempo_changes_are_counted_not_applied() {
        let tempo = |micros: u32| {
            let b = micros.to_be_bytes();
            [0xff, 0x51, 0x03, b[1], b[2], b[3]]
        };
        let bytes = single(&[
            (0, &tempo(600_000)),
            (0, &on(0, 60)),
            (480, &tempo(400_000)),
            (0, &off(0, 60)),
            (0, &on(0, 62)),
            (480, &off(0, 62)),
        ]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.tempo_qpm, 100.0);
        assert_eq!(melody.report.tempo_changes, 1);
        assert_eq!(melody.notes, vec![n(60, 0, 4), n(62, 4, 4)]);

        // No tempo at all: the standard's default.
        let plain = import(&single(&[(0, &on(0, 60)), (480, &off(0, 60))])).unwrap();
        assert_eq!(plain.tempo_qpm, 120.0);
        assert_eq!(plain.time_signature, None);
        assert_eq!(plain.title, None);
    }

    #[test]
    fn smpte_timing_is_unsupported() {
        // Division 0xE728: -25 frames per second, 40 ticks per frame.
        let bytes = smf(0, 0xE728, &[track(&[(0, &on(0, 60)), (40, &off(0, 60))])]);
        let err = import(&bytes).unwrap_err();
        assert!(matches!(err, MidiError::Unsupported { .. }), "{err:?}");
        assert!(err.to_string().contains("SMPTE"), "{err}");
    }

    #[test]
    fn the_busiest_track_is_the_melody_unless_one_is_named() {
        let conductor = track(&[(0, &[0xff, 0x03, 0x04, b'S', b'o', b'n', b'g'])]);
        let bass = track(&[(0, &on(1, 36)), (960, &off(1, 36))]);
        let tune = track(&[
            (0, &on(0, 72)),
            (480, &off(0, 72)),
            (0, &on(0, 74)),
            (480, &off(0, 74)),
        ]);
        let bytes = smf(1, 480, &[conductor, bass, tune]);
        let melody = import(&bytes).unwrap();
        assert_eq!(melody.report.track, 2);
        assert_eq!(melody.title.as_deref(), Some("Song"));
        assert_eq!(melody.notes, vec![n(72, 0, 4), n(74, 4, 4)]);

        let bass = ImportOptions {
            track: Some(1),
            ..ImportOptions::default()
        };
        assert_eq!(
            import_bytes(&bytes, &bass).unwrap().notes,
            vec![n(36, 0, 8)]
        );

        let empty = ImportOptions {
            track: Some(0),
            ..ImportOptions::default()
        };
        assert!(matches!(
            import_bytes(&bytes, &empty),
            Err(MidiError::NoMelody { .. })
        ));

        let missing = ImportOptions {
            track: Some(3),
            ..ImportOptions::default()
        };
        match import_bytes(&bytes, &missing) {
            Err(MidiError::NoSuchTrack {
                track: 3,
                tracks: 3,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn zero_steps_per_quarter_is_invalid() {
        let options = ImportOptions {
            steps_per_quarter: 0,
            ..ImportOptions::default()
        };
        let bytes = single(&[(0, &on(0, 60)), (480, &off(0, 60))]);
        assert!(matches!(
            import_bytes(&bytes, &options),
            Err(MidiError::Invalid { .. })
        ));
    }

    #[test]
    fn errors_from_files_name_the_file() {
        let dir = std::env::temp_dir().join(format!("cadenza-midi-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.mid");
        std::fs::write(&path, b"MThd\x00\x00").unwrap();
        let err = import_file(&path, &ImportOptions::default()).unwrap_err();
        assert!(err.to_string().contains("broken.mid"), "{err}");

        let err = import_file(dir.join("absent.mid"), &ImportOptions::default()).unwrap_err();
        assert!(matches!(err, MidiError::Io { .. }));
        assert!(err.to_string().contains("absent.mid"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn events_fold_octaves_or_name_the_offending_note() {
        let song = MidiSong::new(vec![n(60, 0, 2), n(96, 2, 2), n(30, 6, 1)], 4);
        let melody = import(&song.to_bytes().unwrap()).unwrap();
        let enc = EventEncoding::RL_TUNER_38; // MIDI 48..=83

        match melody.to_events(enc, OutOfRange::Error) {
            Err(MidiError::PitchOutOfRange {
                pitch: 96,
                index: 1,
                step: 2,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        let events = melody.to_events(enc, OutOfRange::FoldOctaves).unwrap();
        // 96 -> 84 -> 72 (event 26); 30 -> 42 -> 54 (event 8).
        assert_eq!(events, vec![14, HOLD, 26, HOLD, REST, HOLD, 8]);

        // A range narrower than an octave cannot always take the pitch class: 96 folds onto 60,
        // but 30 lands on 54 or 66.
        let narrow = EventEncoding::new(60, 62).unwrap();
        assert!(matches!(
            melody.to_events(narrow, OutOfRange::FoldOctaves),
            Err(MidiError::PitchOutOfRange {
                pitch: 30,
                index: 2,
                ..
            })
        ));
    }

    #[test]
    fn regression_smpte_frame_byte_0x80_does_not_panic() {
        // Found by `midi_fuzz`: division 0x80xx made the parser negate -128 and overflow.
        for division in [0x8000u16, 0x8078, 0xE728, 0xFF01] {
            let bytes = smf(0, division, &[track(&[(0, &on(0, 60)), (40, &off(0, 60))])]);
            let err = import(&bytes).unwrap_err();
            assert!(
                matches!(err, MidiError::Unsupported { .. }),
                "{division:#x}: {err:?}"
            );
        }
    }

    #[test]
    fn rmid_wrapped_files_are_read() {
        let inner = single(&[(0, &on(0, 60)), (480, &off(0, 60))]);
        let mut data = b"data".to_vec();
        data.extend((inner.len() as u32).to_le_bytes());
        data.extend(&inner);
        if inner.len() % 2 == 1 {
            data.push(0);
        }
        let mut riff = b"RIFF".to_vec();
        riff.extend(((data.len() + 4) as u32).to_le_bytes());
        riff.extend(b"RMID");
        riff.extend(&data);
        assert_eq!(import(&riff).unwrap().notes, vec![n(60, 0, 4)]);

        riff.truncate(riff.len() - 5);
        assert!(matches!(import(&riff), Err(MidiError::Parse { .. })));
        assert!(matches!(
            import(b"RIFF\x04\x00\x00\x00WAVE"),
            Err(MidiError::Parse { .. })
        ));
    }

    #[test]
    fn far_away_notes_do_not_allocate_gigabytes() {
        // One tick per quarter and a 2^28-tick rest: a billion sixteenth steps, refused while
        // the file is read.
        let bytes = smf(
            0,
            1,
            &[track(&[(0x0fff_ffff, &on(0, 60)), (1, &off(0, 60))])],
        );
        let err = import(&bytes).unwrap_err();
        assert!(
            matches!(err, MidiError::NoteTooLong { note: 0, .. }),
            "{err:?}"
        );
        // A melody built by hand past the limit is refused by `to_events` too.
        let melody = ImportedMelody {
            notes: vec![n(60, MAX_MELODY_STEPS as u32, 1)],
            ..import(&single(&[(0, &on(0, 60)), (480, &off(0, 60))])).unwrap()
        };
        assert!(matches!(
            melody.to_events(EventEncoding::RL_TUNER_38, OutOfRange::Error),
            Err(MidiError::TooLong { .. })
        ));
    }

    #[test]
    fn a_tiny_file_of_endless_notes_is_refused_naming_file_track_note_and_limit() {
        // 29 notes of 2^28 - 1 ticks each at 480 ticks per quarter: 2.2 million sixteenth
        // steps per note, 64 million in all, from a few hundred bytes.
        let mut events: Vec<(u32, Vec<u8>)> = Vec::new();
        for i in 0..29u8 {
            events.push((0, on(0, 60 + i % 12).to_vec()));
            events.push((0x0fff_ffff, off(0, 60 + i % 12).to_vec()));
        }
        let events: Vec<(u32, &[u8])> = events.iter().map(|(d, e)| (*d, e.as_slice())).collect();
        let bytes = smf(0, 480, &[track(&events)]);
        assert!(bytes.len() < 400, "{} bytes", bytes.len());
        let dir = std::env::temp_dir().join(format!("cadenza-endless-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("endless.mid");
        std::fs::write(&path, &bytes).unwrap();
        let err = import_file(&path, &ImportOptions::default()).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let text = err.to_string();
        assert!(matches!(err, MidiError::NoteTooLong { .. }), "{err:?}");
        assert!(text.contains("endless.mid"), "{text}");
        assert!(text.contains("note 0 of track 0"), "{text}");
        assert!(text.contains(&MAX_MELODY_STEPS.to_string()), "{text}");
        // The same notes a little shorter are read: the limit is on steps, not on ticks.
        let short: Vec<(u32, Vec<u8>)> = (0..4u8)
            .flat_map(|i| {
                [
                    (0, on(0, 60 + i).to_vec()),
                    (480 * 1000, off(0, 60 + i).to_vec()),
                ]
            })
            .collect();
        let short: Vec<(u32, &[u8])> = short.iter().map(|(d, e)| (*d, e.as_slice())).collect();
        let melody = import(&smf(0, 480, &[track(&short)])).unwrap();
        assert_eq!(melody.length_steps(), 4 * 4000);
    }
}
