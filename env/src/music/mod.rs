//! The music model: pitches, keys, chords, meters and progressions, parsed at the edge into
//! small validated values.
//!
//! Everything here parses from the text musicians write (`Bb3`, `F# harmonic minor`,
//! `G7b9`, `6/8`, `| Dm7 | G7 | Cmaj7 | % |`), displays back to canonical text, serialises
//! as that text, and fails with a [`MusicError`] that names the input and what was
//! expected. Sets of pitch classes are 12-bit masks (bit 0 = C), the form reward terms
//! test notes against on every step.
//!
//! A short tour: pitches and intervals,
//!
//! ```
//! use cadenza_env::music::{Interval, Pitch};
//! let (low, high): (Pitch, Pitch) = ("Bb3".parse()?, "F4".parse()?);
//! assert_eq!((low.midi(), high.to_string()), (58, "F4".to_string()));
//! assert_eq!(Interval::between(low, high).name(), "perfect fifth");
//! # Ok::<(), cadenza_env::music::MusicError>(())
//! ```
//!
//! keys and their scales,
//!
//! ```
//! use cadenza_env::music::{Key, PitchClass};
//! let key: Key = "D dorian".parse()?;
//! assert!(key.contains(PitchClass::B));
//! assert_eq!(key.degree_of(PitchClass::A), Some(4)); // 0-based: A is the fifth
//! assert_eq!(key.key_signature_sharps(), 0); // borrowed from C major
//! # Ok::<(), cadenza_env::music::MusicError>(())
//! ```
//!
//! chords, their chord-scales and a voicing for the accompaniment,
//!
//! ```
//! use cadenza_env::music::{Chord, PitchClass};
//! let chord: Chord = "G7b9".parse()?;
//! assert!(chord.contains("Ab".parse()?));
//! assert_eq!(chord.scale_mask().count_ones(), 8); // half-whole diminished
//! assert_eq!(chord.voicing(48), [55, 59, 62, 65, 68]);
//! assert!("Cxyz7".parse::<Chord>().unwrap_err().to_string().contains("expected"));
//! # Ok::<(), cadenza_env::music::MusicError>(())
//! ```
//!
//! and a progression laid over a grid of sixteenth notes, looping as a backing band would:
//!
//! ```
//! use cadenza_env::music::{Meter, Progression};
//! let changes = Progression::preset("ii-v-i")?.transpose(5); // in F
//! let meter: Meter = "4/4".parse()?;
//! let steps = changes.chords_per_step(meter, 4, 80)?;
//! assert_eq!(steps[16].1.to_string(), "C7");
//! assert_eq!(steps[64].0, 0); // bar 5 starts the loop again
//! assert!(meter.is_strong_step(8, 4)); // beat 3
//! # Ok::<(), cadenza_env::music::MusicError>(())
//! ```

mod chord;
mod error;
mod key;
mod meter;
mod pitch;
mod progression;

pub use chord::{Chord, ChordQuality};
pub use error::{MusicError, Result};
pub use key::{Key, Mode};
pub use meter::{Meter, Tempo};
pub use pitch::{Interval, Pitch, PitchClass};
pub use progression::{Progression, Segment};

/// Serde reads and writes the music types as their text form (`#[serde(try_from = "String",
/// into = "String")]`), parsed by `FromStr` and written by `Display`; these are the two
/// conversions that form asks for.
macro_rules! text_form {
    ($($t:ty),+) => {$(
        impl TryFrom<String> for $t {
            type Error = MusicError;
            fn try_from(s: String) -> Result<Self> {
                s.parse()
            }
        }

        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.to_string()
            }
        }
    )+};
}

text_form!(Chord, Key, Meter, Mode, PitchClass, Progression);
