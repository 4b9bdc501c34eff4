//! A song laid out as written music, shared by the ABC and MusicXML writers: bars of notes
//! and rests cut at bar lines and chord changes (tied where a note goes on), note values
//! with dots, and pitch spelling under a key signature.

use crate::midi::MidiSong;

/// One written note or rest inside a bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    /// MIDI pitch, `None` for a rest.
    pub pitch: Option<u8>,
    /// Steps it lasts (at least 1).
    pub steps: u32,
    /// Tied from the piece before (the same note going on).
    pub tie_from_previous: bool,
    /// Tied to the next piece.
    pub tie_to_next: bool,
    /// The chord symbol that starts with this piece.
    pub chord: Option<String>,
}

/// The song as bars of pieces; every bar is full (the last one padded with rest).
pub(crate) fn measures(song: &MidiSong) -> Result<Vec<Vec<Piece>>, String> {
    let spq = song.steps_per_quarter;
    let (num, den) = song.time_signature;
    if spq == 0 || num == 0 || den == 0 || !den.is_power_of_two() {
        return Err(format!(
            "needs steps_per_quarter >= 1 and a meter n/d with d a power of two, found {spq} and {num}/{den}"
        ));
    }
    let bar = u64::from(spq) * 4 * u64::from(num);
    if bar % u64::from(den) != 0 {
        return Err(format!(
            "a bar of {num}/{den} is not a whole number of steps at {spq} steps per quarter"
        ));
    }
    let bar = bar / u64::from(den);
    let mut notes = song.melody.clone();
    notes.sort_by_key(|n| n.start);
    let melody_end = notes
        .iter()
        .map(|n| u64::from(n.start) + u64::from(n.duration))
        .max()
        .unwrap_or(0);
    let chord_end = song
        .chords
        .iter()
        .map(|c| u64::from(c.start) + u64::from(c.duration))
        .max()
        .unwrap_or(0);
    let total = melody_end.max(chord_end).max(1);
    let total = total.div_ceil(bar) * bar;
    if total > crate::limits::MAX_MELODY_STEPS as u64 * 2 {
        return Err(format!("the song lasts {total} steps, too long to write"));
    }
    // The melody as consecutive spans (pitch or rest), a note cut where the next one starts.
    let mut spans: Vec<(u64, u64, Option<u8>)> = Vec::new();
    let mut time = 0u64;
    for (i, n) in notes.iter().enumerate() {
        let start = u64::from(n.start);
        if start < time {
            continue; // starts with the previous note: the earlier one is kept
        }
        let mut end = start + u64::from(n.duration.max(1));
        if let Some(next) = notes.get(i + 1) {
            if u64::from(next.start) > start {
                end = end.min(u64::from(next.start));
            }
        }
        if start > time {
            spans.push((time, start, None));
        }
        spans.push((start, end, Some(n.pitch)));
        time = end;
    }
    if time < total {
        spans.push((time, total, None));
    }
    let mut chords: Vec<(u64, String)> = song
        .chords
        .iter()
        .filter_map(|c| c.symbol.clone().map(|s| (u64::from(c.start), s)))
        .collect();
    chords.sort_by_key(|c| c.0);
    chords.dedup_by(|later, earlier| {
        // Two symbols at one step: the later one sounds.
        if later.0 == earlier.0 {
            earlier.1 = later.1.clone();
            true
        } else {
            false
        }
    });
    let mut bars: Vec<Vec<Piece>> = vec![Vec::new(); (total / bar) as usize];
    let mut c = 0usize;
    for (start, end, pitch) in spans {
        let mut t = start;
        while t < end {
            // The next cut: a bar line or a chord change.
            let bar_end = (t / bar + 1) * bar;
            while chords.get(c).is_some_and(|ch| ch.0 < t) {
                c += 1;
            }
            let chord_here = chords.get(c).filter(|ch| ch.0 == t).map(|ch| ch.1.clone());
            let next_chord = chords[c..]
                .iter()
                .map(|ch| ch.0)
                .find(|&s| s > t)
                .unwrap_or(u64::MAX);
            let piece_end = end.min(bar_end).min(next_chord);
            bars[(t / bar) as usize].push(Piece {
                pitch,
                steps: (piece_end - t) as u32,
                tie_from_previous: pitch.is_some() && t > start,
                tie_to_next: pitch.is_some() && piece_end < end,
                chord: chord_here,
            });
            t = piece_end;
        }
    }
    Ok(bars)
}

/// A written note value: `steps` long, of `kind` (a MusicXML type name) with `dots`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Value {
    pub steps: u32,
    pub kind: &'static str,
    pub dots: u8,
}

/// The note type of a step and the tuplet it is written in: (steps per notated quarter
/// `p`, a power of two, and whether steps are tuplets of `spq` in the time of `p`).
pub(crate) fn base_unit(spq: u32) -> u32 {
    1 << (31 - spq.max(1).leading_zeros())
}

/// `steps` as note values from the longest down (a value is a plain or dotted note of at
/// most a whole note), each written in units of `1/base_unit(spq)` of a quarter.
pub(crate) fn values(steps: u32, spq: u32) -> Result<Vec<Value>, String> {
    const KINDS: [&str; 13] = [
        "whole", "half", "quarter", "eighth", "16th", "32nd", "64th", "128th", "256th", "512th",
        "1024th", "", "",
    ];
    let p = base_unit(spq);
    // Type index of 2^j units: units = 4 quarters * p / 2^index.
    let kind_of = |units: u32| -> Option<&'static str> {
        let whole = 4 * p;
        if units == 0 || !whole.is_multiple_of(units) || !(whole / units).is_power_of_two() {
            return None;
        }
        let index = (whole / units).trailing_zeros() as usize;
        KINDS.get(index).copied().filter(|k| !k.is_empty())
    };
    let mut candidates: Vec<(u32, &'static str, u8)> = Vec::new();
    let mut units = 4 * p;
    while units >= 1 {
        if let Some(kind) = kind_of(units) {
            candidates.push((units, kind, 0));
            if units >= 2 && units * 3 / 2 <= 4 * p {
                candidates.push((units * 3 / 2, kind, 1));
            }
        }
        units /= 2;
    }
    if candidates.is_empty() {
        return Err(format!(
            "{spq} steps per quarter need notes shorter than a 1024th"
        ));
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut left = steps;
    let mut out = Vec::new();
    while left > 0 {
        let &(units, kind, dots) = candidates
            .iter()
            .find(|c| c.0 <= left)
            .ok_or_else(|| format!("cannot write {left} steps as note values"))?;
        out.push(Value {
            steps: units,
            kind,
            dots,
        });
        left -= units;
    }
    Ok(out)
}

/// Semitones above C of the natural notes C D E F G A B.
pub(crate) const NATURAL: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Letter names, C first.
pub(crate) const LETTERS: [char; 7] = ['C', 'D', 'E', 'F', 'G', 'A', 'B'];

/// The accidental of each letter under a key signature of `sharps` (F C G D A E B order).
pub(crate) fn signature_accidentals(sharps: i8) -> [i8; 7] {
    const SHARP_ORDER: [usize; 7] = [3, 0, 4, 1, 5, 2, 6];
    let mut acc = [0i8; 7];
    let n = usize::from(sharps.unsigned_abs()).min(7);
    if sharps >= 0 {
        for &l in &SHARP_ORDER[..n] {
            acc[l] = 1;
        }
    } else {
        for &l in SHARP_ORDER.iter().rev().take(n) {
            acc[l] = -1;
        }
    }
    acc
}

/// A MIDI pitch spelled under a key signature: (letter index, alteration, octave with C4 =
/// 60). Notes of the key take its letters; others a natural letter, else a sharp in sharp
/// keys and a flat in flat keys.
pub(crate) fn spell(pitch: u8, sharps: i8) -> (usize, i8, i32) {
    let pc = pitch % 12;
    let key = signature_accidentals(sharps);
    let in_key = (0..7)
        .find(|&l| (i32::from(NATURAL[l]) + i32::from(key[l])).rem_euclid(12) == i32::from(pc));
    let natural = (0..7).find(|&l| NATURAL[l] == pc);
    let (letter, alter) = match (in_key, natural) {
        (Some(l), _) => (l, key[l]),
        (None, Some(l)) => (l, 0),
        (None, None) if sharps >= 0 => ((0..7).find(|&l| NATURAL[l] + 1 == pc).unwrap_or(0), 1),
        (None, None) => (
            (0..7).find(|&l| (NATURAL[l] + 11) % 12 == pc).unwrap_or(0),
            -1,
        ),
    };
    let octave =
        (i32::from(pitch) - i32::from(NATURAL[letter]) - i32::from(alter)).div_euclid(12) - 1;
    (letter, alter, octave)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Note;
    use crate::midi::ChordSpan;

    #[test]
    fn values_are_plain_or_dotted() {
        let kinds = |steps| -> Vec<(&str, u8)> {
            values(steps, 4)
                .unwrap()
                .iter()
                .map(|v| (v.kind, v.dots))
                .collect()
        };
        assert_eq!(kinds(4), [("quarter", 0)]);
        assert_eq!(kinds(6), [("quarter", 1)]);
        assert_eq!(kinds(5), [("quarter", 0), ("16th", 0)]);
        assert_eq!(kinds(16), [("whole", 0)]);
        assert_eq!(kinds(20), [("whole", 0), ("quarter", 0)]);
        // Three steps per quarter: a step is a triplet eighth, a quarter three of them.
        assert_eq!(
            values(3, 3).unwrap(),
            [Value {
                steps: 3,
                kind: "quarter",
                dots: 1
            }]
        );
        assert_eq!(base_unit(3), 2);
    }

    #[test]
    fn spelling_follows_the_key() {
        assert_eq!(spell(66, 1), (3, 1, 4)); // F#4 in G
        assert_eq!(spell(70, -1), (6, -1, 4)); // Bb4 in F
        assert_eq!(spell(61, 0), (0, 1, 4)); // C#4 in C
        assert_eq!(spell(61, -2), (1, -1, 4)); // Db4 in Bb
        assert_eq!(spell(72, 7), (6, 1, 4)); // B#4 in C# major is MIDI 72
        assert_eq!(spell(59, -7), (0, -1, 4)); // Cb4 in Cb major is MIDI 59
    }

    #[test]
    fn notes_are_cut_at_bar_lines_and_chord_changes() {
        let song = MidiSong {
            chords: vec![
                ChordSpan {
                    start: 0,
                    duration: 8,
                    pitches: vec![],
                    symbol: Some("C".into()),
                },
                ChordSpan {
                    start: 8,
                    duration: 8,
                    pitches: vec![],
                    symbol: Some("G7".into()),
                },
            ],
            time_signature: (2, 4),
            ..MidiSong::new(
                vec![Note {
                    pitch: 60,
                    start: 2,
                    duration: 12,
                }],
                4,
            )
        };
        let bars = measures(&song).unwrap();
        assert_eq!(bars.len(), 2);
        type Shape = (Option<u8>, u32, bool, bool);
        let shape: Vec<Vec<Shape>> = bars
            .iter()
            .map(|b| {
                b.iter()
                    .map(|p| (p.pitch, p.steps, p.tie_from_previous, p.tie_to_next))
                    .collect()
            })
            .collect();
        assert_eq!(
            shape,
            [
                vec![(None, 2, false, false), (Some(60), 6, false, true)],
                vec![(Some(60), 6, true, false), (None, 2, false, false)]
            ]
        );
        assert_eq!(bars[1][0].chord.as_deref(), Some("G7"));
    }
}
