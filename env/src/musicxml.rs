//! MusicXML export: a song as a partwise MusicXML 4.0 score that notation programs
//! (MuseScore, Sibelius, Dorico, Finale) and music21 open.
//!
//! One part, one voice: the key (`<key>` with fifths and mode), the meter (`<time>`), the
//! tempo (a metronome mark and `<sound tempo>`), the chord symbols as `<harmony>` elements
//! (root, kind, bass) placed before the note they start on, and the melody bar by bar:
//! `<divisions>` is the song's steps per quarter, so every `<duration>` is a whole number of
//! steps; notes and rests are cut at bar lines and chord changes and written as plain or
//! dotted note values, tied (`<tie>` and `<tied>`) where a note goes on. On grids that are not
//! a power of two (3 or 6 steps per quarter) the notes carry a `<time-modification>`: triplets.
//!
//! ```
//! use cadenza_env::encoding::Note;
//! use cadenza_env::midi::MidiSong;
//! let song = MidiSong::new(vec![Note { pitch: 62, start: 0, duration: 6 }], 4);
//! let xml = song.to_musicxml()?;
//! assert!(xml.contains("<step>D</step>"));
//! assert!(xml.contains("<type>quarter</type>\n        <dot/>"));
//! # Ok::<(), cadenza_env::musicxml::MusicXmlError>(())
//! ```

use crate::midi::MidiSong;
use crate::music::{Chord, ChordQuality};
use crate::notation::{base_unit, measures, spell, values, LETTERS};
use std::fmt::Write as _;

/// Why a song cannot be written as MusicXML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write MusicXML: {field}: {reason}")]
#[non_exhaustive]
pub struct MusicXmlError {
    /// The field of the song.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// MusicXML's `<kind>` of a quality, and the degrees added to or altered in it.
fn kind(quality: ChordQuality) -> (&'static str, &'static [(u8, i8, &'static str)]) {
    use ChordQuality::*;
    match quality {
        Major => ("major", &[]),
        Minor => ("minor", &[]),
        Diminished => ("diminished", &[]),
        Augmented => ("augmented", &[]),
        Sus2 => ("suspended-second", &[]),
        Sus4 => ("suspended-fourth", &[]),
        Sixth => ("major-sixth", &[]),
        MinorSixth => ("minor-sixth", &[]),
        Dominant7 => ("dominant", &[]),
        Major7 => ("major-seventh", &[]),
        Minor7 => ("minor-seventh", &[]),
        MinorMajor7 => ("major-minor", &[]),
        Diminished7 => ("diminished-seventh", &[]),
        HalfDiminished7 => ("half-diminished", &[]),
        Dominant7Sus4 => ("suspended-fourth", &[(7, -1, "add")]),
        Dominant9 => ("dominant-ninth", &[]),
        Major9 => ("major-ninth", &[]),
        Minor9 => ("minor-ninth", &[]),
        Dominant11 => ("dominant-11th", &[]),
        Minor11 => ("minor-11th", &[]),
        Dominant13 => ("dominant-13th", &[(11, 0, "subtract")]),
        Dominant7Flat9 => ("dominant", &[(9, -1, "add")]),
        Dominant7Sharp9 => ("dominant", &[(9, 1, "add")]),
        Dominant7Sharp11 => ("dominant", &[(11, 1, "add")]),
        Dominant7Flat13 => ("dominant", &[(13, -1, "add")]),
        Altered => ("augmented-seventh", &[(9, 1, "add")]),
        Add9 => ("major", &[(9, 0, "add")]),
    }
}

/// `<step>` and `<alter>` of a chord root or bass as the symbol spells it (`Bb`, `F#`).
fn root_name(name: &str) -> (char, i8) {
    let mut chars = name.chars();
    let step = chars.next().unwrap_or('C');
    let alter = chars.fold(0i8, |a, c| match c {
        '#' => a + 1,
        'b' => a - 1,
        _ => a,
    });
    (step, alter)
}

fn harmony_xml(out: &mut String, symbol: &str) {
    let Ok(chord) = symbol.parse::<Chord>() else {
        // Not a chord the music model reads: written as text over the staff instead.
        let _ = write!(
            out,
            "      <direction placement=\"above\">\n        <direction-type>\n          <words>{}</words>\n        </direction-type>\n      </direction>\n",
            escape(symbol)
        );
        return;
    };
    let canonical = chord.symbol();
    let (root_part, bass_part) = match canonical.split_once('/') {
        Some((r, b)) => (r.to_string(), Some(b.to_string())),
        None => (canonical.clone(), None),
    };
    let suffix = chord.quality().suffix();
    let root = &root_part[..root_part.len() - suffix.len()];
    let (step, alter) = root_name(root);
    let (kind_name, degrees) = kind(chord.quality());
    out.push_str("      <harmony>\n        <root>\n");
    let _ = writeln!(out, "          <root-step>{step}</root-step>");
    if alter != 0 {
        let _ = writeln!(out, "          <root-alter>{alter}</root-alter>");
    }
    out.push_str("        </root>\n");
    let _ = writeln!(
        out,
        "        <kind text=\"{}\">{kind_name}</kind>",
        escape(suffix)
    );
    if let Some(bass) = bass_part {
        let (step, alter) = root_name(&bass);
        out.push_str("        <bass>\n");
        let _ = writeln!(out, "          <bass-step>{step}</bass-step>");
        if alter != 0 {
            let _ = writeln!(out, "          <bass-alter>{alter}</bass-alter>");
        }
        out.push_str("        </bass>\n");
    }
    for &(value, alter, kind) in degrees {
        let _ = write!(
            out,
            "        <degree>\n          <degree-value>{value}</degree-value>\n          <degree-alter>{alter}</degree-alter>\n          <degree-type>{kind}</degree-type>\n        </degree>\n"
        );
    }
    out.push_str("      </harmony>\n");
}

impl MidiSong {
    /// The song as a partwise MusicXML 4.0 document (see the [module docs](crate::musicxml)).
    pub fn to_musicxml(&self) -> Result<String, MusicXmlError> {
        let invalid = |field: &str, reason: String| MusicXmlError {
            field: field.to_string(),
            reason,
        };
        self.validate()
            .map_err(|e| invalid("song", e.to_string()))?;
        let spq = self.steps_per_quarter;
        if spq > 256 {
            return Err(invalid(
                "steps_per_quarter",
                format!("at most 256 steps per quarter can be written as note values, found {spq}"),
            ));
        }
        let bars = measures(self).map_err(|r| invalid("song", r))?;
        let sharps = self.key_signature.map_or(0, |k| k.sharps);
        let p = base_unit(spq);
        let tuplet = (spq != p).then(|| {
            let g = gcd(spq, p);
            (spq / g, p / g)
        });
        let mut out = String::new();
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
        out.push_str("<!DOCTYPE score-partwise PUBLIC \"-//Recordare//DTD MusicXML 4.0 Partwise//EN\" \"http://www.musicxml.org/dtds/partwise.dtd\">\n");
        out.push_str("<score-partwise version=\"4.0\">\n");
        if let Some(title) = &self.title {
            let _ = writeln!(
                out,
                "  <work>\n    <work-title>{}</work-title>\n  </work>",
                escape(title)
            );
        }
        out.push_str("  <identification>\n    <encoding>\n      <software>Cadenza</software>\n    </encoding>\n  </identification>\n");
        out.push_str("  <part-list>\n    <score-part id=\"P1\">\n      <part-name>Melody</part-name>\n    </score-part>\n  </part-list>\n");
        out.push_str("  <part id=\"P1\">\n");
        let (num, den) = self.time_signature;
        for (b, bar) in bars.iter().enumerate() {
            let _ = writeln!(out, "    <measure number=\"{}\">", b + 1);
            if b == 0 {
                out.push_str("      <attributes>\n");
                let _ = writeln!(out, "        <divisions>{spq}</divisions>");
                if let Some(key) = self.key_signature {
                    let _ = writeln!(
                        out,
                        "        <key>\n          <fifths>{}</fifths>\n          <mode>{}</mode>\n        </key>",
                        key.sharps,
                        if key.minor { "minor" } else { "major" }
                    );
                }
                let _ = writeln!(
                    out,
                    "        <time>\n          <beats>{num}</beats>\n          <beat-type>{den}</beat-type>\n        </time>"
                );
                out.push_str("        <clef>\n          <sign>G</sign>\n          <line>2</line>\n        </clef>\n");
                out.push_str("      </attributes>\n");
                let tempo = self.tempo_qpm;
                let _ = writeln!(
                    out,
                    "      <direction placement=\"above\">\n        <direction-type>\n          <metronome>\n            <beat-unit>quarter</beat-unit>\n            <per-minute>{}</per-minute>\n          </metronome>\n        </direction-type>\n        <sound tempo=\"{tempo}\"/>\n      </direction>",
                    tempo.round()
                );
            }
            for piece in bar {
                if let Some(symbol) = &piece.chord {
                    harmony_xml(&mut out, symbol);
                }
                let parts =
                    values(piece.steps, spq).map_err(|r| invalid("steps_per_quarter", r))?;
                for (k, value) in parts.iter().enumerate() {
                    let tie_stop = piece.pitch.is_some() && (k > 0 || piece.tie_from_previous);
                    let tie_start =
                        piece.pitch.is_some() && (k + 1 < parts.len() || piece.tie_to_next);
                    out.push_str("      <note>\n");
                    match piece.pitch {
                        None => out.push_str("        <rest/>\n"),
                        Some(pitch) => {
                            let (letter, alter, octave) = spell(pitch, sharps);
                            out.push_str("        <pitch>\n");
                            let _ = writeln!(out, "          <step>{}</step>", LETTERS[letter]);
                            if alter != 0 {
                                let _ = writeln!(out, "          <alter>{alter}</alter>");
                            }
                            let _ = writeln!(out, "          <octave>{octave}</octave>");
                            out.push_str("        </pitch>\n");
                        }
                    }
                    let _ = writeln!(out, "        <duration>{}</duration>", value.steps);
                    if tie_stop {
                        out.push_str("        <tie type=\"stop\"/>\n");
                    }
                    if tie_start {
                        out.push_str("        <tie type=\"start\"/>\n");
                    }
                    out.push_str("        <voice>1</voice>\n");
                    let _ = write!(out, "        <type>{}</type>", value.kind);
                    for _ in 0..value.dots {
                        out.push_str("\n        <dot/>");
                    }
                    out.push('\n');
                    if let Some((actual, normal)) = tuplet {
                        let _ = writeln!(
                            out,
                            "        <time-modification>\n          <actual-notes>{actual}</actual-notes>\n          <normal-notes>{normal}</normal-notes>\n        </time-modification>"
                        );
                    }
                    if tie_stop || tie_start {
                        out.push_str("        <notations>\n");
                        if tie_stop {
                            out.push_str("          <tied type=\"stop\"/>\n");
                        }
                        if tie_start {
                            out.push_str("          <tied type=\"start\"/>\n");
                        }
                        out.push_str("        </notations>\n");
                    }
                    out.push_str("      </note>\n");
                }
            }
            if b + 1 == bars.len() {
                out.push_str("      <barline location=\"right\">\n        <bar-style>light-heavy</bar-style>\n      </barline>\n");
            }
            out.push_str("    </measure>\n");
        }
        out.push_str("  </part>\n</score-partwise>\n");
        Ok(out)
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}
