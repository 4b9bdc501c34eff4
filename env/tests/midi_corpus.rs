//! Every corpus file imports, with the manifest's note counts, meters and keys.

mod midi_common;

/// Grouped under `midi` so that `cargo test midi` selects these tests.
mod midi {

    use crate::midi_common::{corpus_files, manifest};
    use cadenza_env::encoding::EventEncoding;
    use cadenza_env::midi::{import_file, ImportOptions, OutOfRange, Polyphony};

    #[test]
    fn whole_corpus_imports_with_manifest_counts_meters_and_keys() {
        let rows = manifest();
        let files = corpus_files();
        assert_eq!(files.len(), rows.len(), "one manifest row per .mid file");
        // The corpus is strictly monophonic, so asking for an error on chords must never fire.
        let options = ImportOptions {
            polyphony: Polyphony::Error,
            ..ImportOptions::default()
        };
        let (mut raw, mut kept, mut moved, mut max_shift) = (0usize, 0usize, 0usize, 0f64);
        for row in &rows {
            let path = files
                .iter()
                .find(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy() == row["file"])
                })
                .unwrap_or_else(|| panic!("{} is in the manifest but not on disk", row["file"]));
            let melody = import_file(path, &options).unwrap_or_else(|e| panic!("{e}"));
            let name = &row["file"];

            let num_notes: usize = row["num_notes"].parse().unwrap();
            assert_eq!(melody.raw_note_count, num_notes, "{name}: note count");
            assert_eq!(melody.ticks_per_quarter, 480, "{name}");
            assert_eq!(melody.report.tracks, 1, "{name}: format 0");

            let (num, den) = row["meter"].split_once('/').unwrap();
            let meter = (num.parse().unwrap(), den.parse().unwrap());
            assert_eq!(melody.time_signature, Some(meter), "{name}: meter");

            let key = melody
                .key_signature
                .unwrap_or_else(|| panic!("{name}: no key"));
            assert_eq!(
                i32::from(key.sharps),
                row["key_sharps"].parse::<i32>().unwrap(),
                "{name}"
            );
            assert_eq!(key.minor, row["key"].ends_with("minor"), "{name}: mode");

            let tempo: f64 = row["tempo_qpm"].parse().unwrap();
            // Files store whole microseconds per quarter, so 90 reads back as 89.99996.
            assert!(
                (melody.tempo_qpm - tempo).abs() < 1e-3,
                "{name}: tempo {}",
                melody.tempo_qpm
            );
            assert_eq!(
                melody.title.as_deref(),
                Some(row["title"].as_str()),
                "{name}"
            );

            let (lo, hi): (u8, u8) = (
                row["pitch_min"].parse().unwrap(),
                row["pitch_max"].parse().unwrap(),
            );
            assert!(
                melody.notes.iter().all(|n| (lo..=hi).contains(&n.pitch)),
                "{name}: pitches"
            );
            assert!(
                melody
                    .notes
                    .windows(2)
                    .all(|w| w[0].start + w[0].duration <= w[1].start),
                "{name}: sorted and monophonic"
            );
            // The corpus range (MIDI 55..=88) fits `range-55-88` as is.
            let events = melody
                .to_events(EventEncoding::new(55, 88).unwrap(), OutOfRange::Error)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(events.len(), melody.length_steps());

            raw += melody.raw_note_count;
            kept += melody.notes.len();
            moved += (melody.report.moved_onset_fraction * melody.raw_note_count as f64).round()
                as usize;
            max_shift = max_shift.max(melody.report.max_shift_ticks);
        }
        let dropped = raw - kept;
        eprintln!(
            "corpus: {} files, {raw} notes, {dropped} dropped at 4 steps per quarter ({:.4}%), \
         {moved} onsets moved, largest shift {max_shift} ticks",
            rows.len(),
            100.0 * dropped as f64 / raw as f64
        );
        assert_eq!(raw, 98_247, "the README's total");
        // The corpus holds some 32nd notes and triplets (51 files, 6/8 tunes among them), which a
        // sixteenth grid cannot keep apart: 903 of 98,247 notes (0.92%) at the time of writing.
        assert!(
            dropped as f64 <= 0.01 * raw as f64,
            "{dropped} of {raw} notes dropped by quantisation"
        );
    }

    #[test]
    fn finer_grids_keep_every_corpus_note() {
        for (steps_per_quarter, exact) in [(8, false), (24, true)] {
            let options = ImportOptions {
                steps_per_quarter,
                ..ImportOptions::default()
            };
            for path in corpus_files() {
                let melody = import_file(&path, &options).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    melody.report.dropped(),
                    0,
                    "{} at {steps_per_quarter}",
                    path.display()
                );
                assert_eq!(melody.notes.len(), melody.raw_note_count);
                if exact {
                    // Every value in the corpus is a multiple of 20 ticks (a 32nd-note triplet).
                    assert_eq!(melody.report.max_shift_ticks, 0.0, "{}", path.display());
                }
            }
        }
    }
}
