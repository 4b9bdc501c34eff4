//! Music model (in progress).

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
