//! Writing a song as an ABC tune.

use super::error::AbcError;
use crate::midi::{KeySignature, MidiSong};
use crate::notation::{measures, signature_accidentals, spell, LETTERS};

/// Bars per line of written music.
const BARS_PER_LINE: usize = 4;

/// The key as ABC's `K:` field names it (`K:none` without a signature).
fn key_name(key: Option<KeySignature>) -> String {
    const MAJOR: [&str; 15] = [
        "Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#",
    ];
    const MINOR: [&str; 15] = [
        "Abm", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m",
        "A#m",
    ];
    match key {
        None => "none".to_string(),
        Some(k) => {
            let index = (i32::from(k.sharps.clamp(-7, 7)) + 7) as usize;
            if k.minor { MINOR[index] } else { MAJOR[index] }.to_string()
        }
    }
}

/// A length of `steps` in unit notes of `unit_steps` steps: `""`, `2`, `/`, `3/2`, `/4`.
fn length(steps: u32, unit_steps: (u32, u32)) -> String {
    // steps / (unit_n / unit_d) = steps * unit_d / unit_n
    let (n, d) = (
        u64::from(steps) * u64::from(unit_steps.1),
        u64::from(unit_steps.0),
    );
    let g = gcd(n, d);
    let (n, d) = (n / g, d / g);
    match (n, d) {
        (1, 1) => String::new(),
        (n, 1) => n.to_string(),
        (1, 2) => "/".to_string(),
        (1, d) => format!("/{d}"),
        (n, d) => format!("{n}/{d}"),
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// A chord symbol as it may stand in quotes (a quote inside would end it early).
fn quoted(symbol: &str) -> String {
    format!("\"{}\"", symbol.replace('"', "'"))
}

impl MidiSong {
    /// The song as one ABC 2.1 tune (`X:1`): title, meter, unit length, tempo and key in the
    /// header; then the melody bar by bar, notes cut at bar lines and chord changes and tied,
    /// each chord symbol in quotes before the note it starts on. Accidentals are written
    /// wherever a reader could doubt them, so the tune reads the same whether a reader lets an
    /// accidental hold for the bar at one octave or at all octaves. [`super::import_str`]
    /// reads it back to the same notes and chords.
    pub fn to_abc(&self) -> Result<String, AbcError> {
        let invalid = |field: &str, reason: String| AbcError::Invalid {
            field: field.to_string(),
            reason,
        };
        self.validate()
            .map_err(|e| invalid("song", e.to_string()))?;
        let bars = measures(self).map_err(|r| invalid("song", r))?;
        let spq = self.steps_per_quarter;
        // L:1/8 when an eighth is a whole number of steps, else L:1/4.
        let (unit_name, unit_steps) = if spq.is_multiple_of(2) {
            ("1/8", (spq / 2, 1))
        } else {
            ("1/4", (spq, 1))
        };
        let mut out = String::new();
        out.push_str("X:1\n");
        if let Some(title) = &self.title {
            let title: String = title.chars().filter(|c| *c != '\n' && *c != '\r').collect();
            out.push_str(&format!("T:{title}\n"));
        }
        let (num, den) = self.time_signature;
        out.push_str(&format!("M:{num}/{den}\nL:{unit_name}\n"));
        let tempo = self.tempo_qpm;
        if tempo.fract() == 0.0 {
            out.push_str(&format!("Q:1/4={tempo:.0}\n"));
        } else {
            out.push_str(&format!("Q:1/4={tempo}\n"));
        }
        out.push_str(&format!("K:{}\n", key_name(self.key_signature)));
        let sharps = self.key_signature.map_or(0, |k| k.sharps);
        let key = signature_accidentals(sharps);
        for (b, bar) in bars.iter().enumerate() {
            // Letters that carried a written accidental earlier in this bar, at any octave.
            let mut marked = [false; 7];
            let mut tokens: Vec<String> = Vec::with_capacity(bar.len());
            for piece in bar {
                let mut token = String::new();
                if let Some(symbol) = &piece.chord {
                    token.push_str(&quoted(symbol));
                }
                let len = length(piece.steps, unit_steps);
                match piece.pitch {
                    None => token.push_str(&format!("z{len}")),
                    Some(pitch) => {
                        let (letter, alter, octave) = spell(pitch, sharps);
                        if alter != key[letter] || marked[letter] {
                            marked[letter] = true;
                            token.push_str(match alter {
                                2 => "^^",
                                1 => "^",
                                0 => "=",
                                -1 => "_",
                                _ => "__",
                            });
                        }
                        let name = LETTERS[letter];
                        if octave >= 5 {
                            token.push(name.to_ascii_lowercase());
                            for _ in 5..octave {
                                token.push('\'');
                            }
                        } else {
                            token.push(name);
                            for _ in octave..4 {
                                token.push(',');
                            }
                        }
                        token.push_str(&len);
                        if piece.tie_to_next {
                            token.push('-');
                        }
                    }
                }
                tokens.push(token);
            }
            out.push_str(&tokens.join(" "));
            let last = b + 1 == bars.len();
            if last {
                out.push_str(" |]\n");
            } else if (b + 1) % BARS_PER_LINE == 0 {
                out.push_str(" |\n");
            } else {
                out.push_str(" | ");
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Note;
    use crate::midi::{ChordSpan, ImportOptions};

    #[test]
    fn a_short_song_reads_as_expected_abc() {
        let n = |pitch, start, duration| Note {
            pitch,
            start,
            duration,
        };
        let song = MidiSong {
            title: Some("Two bars".into()),
            key_signature: Some(KeySignature {
                sharps: 1,
                minor: false,
            }),
            time_signature: (3, 4),
            chords: vec![ChordSpan {
                start: 0,
                duration: 12,
                pitches: vec![55, 59, 62],
                symbol: Some("G".into()),
            }],
            ..MidiSong::new(
                vec![
                    n(67, 0, 4),
                    n(66, 4, 2),
                    n(65, 6, 2),
                    n(65, 8, 2),
                    n(77, 10, 6),
                ],
                4,
            )
        };
        let abc = song.to_abc().unwrap();
        assert_eq!(
            abc,
            "X:1\nT:Two bars\nM:3/4\nL:1/8\nQ:1/4=120\nK:G\n\"G\"G2 F =F =F =f- | =f2 z4 |]\n"
        );
        let back = super::super::import_str(&abc, &ImportOptions::default());
        let melody = back[0].melody.as_ref().unwrap();
        assert_eq!(melody.notes, song.melody);
        assert_eq!(melody.harmony.len(), 1);
    }
}
