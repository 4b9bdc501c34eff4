//! ABC notation in and out: the text format of traditional music (The Session, the O'Neill's,
//! Ryan's Mammoth and Aird's Airs transcriptions, the Essen folksongs) and of many lead sheets.
//!
//! [`import_str`] reads every tune of a file into an [`AbcTune`] whose melody is the same
//! [`ImportedMelody`](crate::midi::ImportedMelody) that MIDI import gives: monophonic notes on a
//! step grid, with the title, meter, key and tempo, the chord symbols in quotes as the tune's
//! [`harmony`](crate::midi::ImportedMelody::harmony), and an
//! [`ImportReport`](crate::midi::ImportReport) that counts what was skipped. A tune that cannot
//! be read carries an [`AbcError`] naming the tune (`X:3 "The Kesh"`), the line, the column and
//! what was expected; the other tunes of the file are read all the same.
//! [`MidiSong::to_abc`](crate::midi::MidiSong::to_abc) writes a song as a tune.
//!
//! ```
//! use cadenza_env::abc::import_str;
//! use cadenza_env::midi::ImportOptions;
//!
//! let text = "X:1\nT:Scale\nM:2/4\nL:1/8\nK:D\n\"D\"DEFG | \"A7\"ABc2 :|\n";
//! let tunes = import_str(text, &ImportOptions::default());
//! let melody = tunes[0].melody.as_ref().unwrap();
//! // The repeat is played: 7 notes twice; F and c are sharp in D major.
//! assert_eq!(melody.notes.len(), 14);
//! assert_eq!(melody.notes[2].pitch, 66);
//! assert_eq!(melody.notes[6].pitch, 73);
//! let chords: Vec<String> = melody.harmony.iter().map(|(_, c)| c.to_string()).collect();
//! assert_eq!(chords, ["D", "A7", "D", "A7"]);
//!
//! // And back out: the song's ABC reads to the same notes.
//! let song = cadenza_env::midi::MidiSong::new(melody.notes.clone(), 4);
//! let again = import_str(&song.to_abc()?, &ImportOptions::default());
//! assert_eq!(again[0].melody.as_ref().unwrap().notes, melody.notes);
//! # Ok::<(), cadenza_env::abc::AbcError>(())
//! ```
//!
//! # What is read (ABC 2.1)
//!
//! - **Tunes.** A tune starts at `X:` and ends at a blank line or the next `X:`; lines before
//!   the first `X:` are the file header, whose `L:`, `M:`, `Q:` and `K:` are defaults. A text
//!   without `X:` is one tune.
//! - **Header fields.** `T:` (the first is the title), `M:` (`6/8`, `C`, `C|`, `2+3/8`,
//!   `none`), `L:` (default 1/16 under meters below 3/4, else 1/8), `Q:` (`1/4=120`,
//!   `3/8=80`, `"Allegro" 1/4=120`, or a bare number of unit notes), `K:` (tonic, mode of
//!   seven — `m`, `dor`, `mix`, ... — explicit accidentals, `exp`, `none`, `HP`/`Hp`;
//!   clef settings ignored). Fields in the body and inline (`[K:D]`, `[M:3/4]`, `[L:1/16]`)
//!   change what follows; changes of meter, key and tempo are counted, the first is reported.
//! - **Notes.** Letters `A-G` (octave of middle C) and `a-g`, octave marks `'` and `,`,
//!   accidentals `^ ^^ _ __ =` that hold to the end of the bar for that note at that octave,
//!   lengths (`2`, `/`, `//`, `3/2`, `/4`), broken rhythm (`>`, `<`, `>>`, ...), ties (`-`,
//!   joined into one note), tuplets (`(3`, `(p:q:r`), rests (`z`, `x`, and `Z`/`X` for whole
//!   bars). A chord `[CEG]` keeps its highest note, for the length of its first note (the
//!   others are counted as dropped).
//! - **Bars and repeats.** `|`, `||`, `|]`, `[|`, `|:`, `:|`, `::`, `:|:`; first, second and
//!   later endings (`|1`, `:|2`, `[1`, `[1,3`, `[1-2`) are played: the music between `|:` (or
//!   the start, or the last double bar) and `:|` twice, each ending on its pass.
//! - **Chord symbols.** `"G"`, `"D7"`, `"Em/B"` become the harmony at the onset where they
//!   stand; `"G(Em)"` keeps the first chord; annotations (`"^text"`, `"<text"`, ...) and
//!   symbols the music model does not read (`"N.C."`) are skipped and counted.
//! - **Skipped and counted:** decorations (`~`, `.`, `T`, `!trill!`, `+fermata+`), grace
//!   notes (`{g}`), lyrics (`w:`, `W:`), notes of voices other than the first (`V:`).
//!   Slurs, beaming, spacers and line breaks carry no timing and are ignored.
//! - **Refused** with [`AbcError::Unsupported`]: voice overlay (`&`).
//!
//! The exact timeline is quantised to the step grid as MIDI is (halves round up, a note
//! keeps at least one step, and a note that lands on the previous note's onset is dropped and
//! counted), so a triplet on a grid of sixteenths moves by at most half a step, reported in
//! the [`ImportReport`](crate::midi::ImportReport).

mod error;
mod export;
mod import;

pub use error::AbcError;
pub use import::{import_bytes, import_str, AbcTune, ABC_TICKS_PER_QUARTER};
