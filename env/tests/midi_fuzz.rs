//! Fuzz-style properties: no input, however broken, makes the importer panic.

mod midi_common;

/// Grouped under `midi` so that `cargo test midi` selects these tests.
mod midi {

    use crate::midi_common::{corpus_files, smf, track};
    use cadenza_env::encoding::EventEncoding;
    use cadenza_env::midi::{import_bytes, ImportOptions, OutOfRange, Polyphony};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// Imports with a few option sets and, when that works, encodes the result: every path that
    /// a caller could take must return, whatever the bytes.
    fn exercise(bytes: &[u8]) {
        for options in [
            ImportOptions::default(),
            ImportOptions {
                steps_per_quarter: 7,
                polyphony: Polyphony::Error,
                track: None,
            },
            ImportOptions {
                steps_per_quarter: 1,
                polyphony: Polyphony::Skyline,
                track: Some(1),
            },
        ] {
            if let Ok(melody) = import_bytes(bytes, &options) {
                assert!(melody
                    .notes
                    .windows(2)
                    .all(|w| w[0].start + w[0].duration <= w[1].start));
                assert!(melody.notes.iter().all(|n| n.duration >= 1));
                assert!(melody.notes.len() <= melody.raw_note_count);
                if let Ok(events) =
                    melody.to_events(EventEncoding::RL_TUNER_38, OutOfRange::FoldOctaves)
                {
                    assert_eq!(events.len(), melody.length_steps());
                }
            }
        }
    }

    fn corpus() -> &'static Vec<Vec<u8>> {
        static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        FILES.get_or_init(|| {
            corpus_files()
                .iter()
                .take(40)
                .map(|p| std::fs::read(p).expect("corpus file"))
                .collect()
        })
    }

    /// A byte change: position (scaled to the file), and what to do there.
    #[derive(Debug, Clone)]
    enum Mutation {
        Flip { at: f64, bit: u8 },
        Set { at: f64, value: u8 },
        Truncate { at: f64 },
        Insert { at: f64, bytes: Vec<u8> },
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (0.0..1.0f64, 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
            (0.0..1.0f64, any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
            (0.0..1.0f64).prop_map(|at| Mutation::Truncate { at }),
            (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..8))
                .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        ]
    }

    fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
        let pos = |at: f64, len: usize| ((at * len as f64) as usize).min(len.saturating_sub(1));
        match m {
            Mutation::Flip { at, bit } if !bytes.is_empty() => {
                let i = pos(*at, bytes.len());
                bytes[i] ^= 1 << bit;
            }
            Mutation::Set { at, value } if !bytes.is_empty() => {
                let i = pos(*at, bytes.len());
                bytes[i] = *value;
            }
            Mutation::Truncate { at } => bytes.truncate(pos(*at, bytes.len())),
            Mutation::Insert { at, bytes: extra } => {
                let i = pos(*at, bytes.len() + 1);
                bytes.splice(i..i, extra.iter().copied());
            }
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            exercise(&bytes);
        }

        #[test]
        fn arbitrary_tracks_behind_a_valid_header_never_panic(
            format in 0u16..3,
            division in any::<u16>(),
            body in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            // A header and a correctly sized track chunk, so that the bytes reach the event parser.
            let mut chunk = b"MTrk".to_vec();
            chunk.extend((body.len() as u32).to_be_bytes());
            chunk.extend(&body);
            exercise(&smf(format, division, &[chunk]));
        }

        #[test]
        fn plausible_events_never_panic(
            events in prop::collection::vec(
                (0u32..2000, prop::sample::select(vec![0x80u8, 0x90, 0x99, 0x89, 0xb0, 0xc0]), 0u8..128, 0u8..128),
                0..64,
            ),
            division in 1u16..1000,
        ) {
            let raw: Vec<(u32, [u8; 3])> = events.iter().map(|&(d, s, a, b)| (d, [s, a, b])).collect();
            let refs: Vec<(u32, &[u8])> = raw.iter().map(|(d, e)| (*d, &e[..])).collect();
            exercise(&smf(1, division, &[track(&[]), track(&refs)]));
        }

        #[test]
        fn mutated_corpus_files_never_panic(
            file in any::<prop::sample::Index>(),
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let mut bytes = file.get(corpus()).clone();
            for m in &mutations {
                apply(&mut bytes, m);
            }
            exercise(&bytes);
        }
    }
}
