//! Degenerate optima: the drone, the trill, the wall of sixteenths and the zig-zag between
//! registers an optimizer falls into when a reward pays for something a musician would not
//! play.
//!
//! The group scores say *that* a set of melodies is not music; these measures say *which*
//! known exploit it is. Each is a share in [0, 1] (0 is best), measured per melody and
//! averaged over a set; [`DEGENERATE`] holds the ceilings above which a set's mean is flagged.

use super::line::LEAP;
use super::notes::{self, share, Played};
use super::variety::{period_shares, MAX_PERIOD};
use cadenza_env::{Event, Setting};
use serde::Serialize;

/// How degenerate one melody (or, averaged, a set) is. Each share is in [0, 1], 0 is best.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Degeneracy {
    /// Share of notes that repeat the previous note's pitch; 1 with fewer than two notes (a
    /// held note, or silence, is a drone too).
    pub repeated: f64,
    /// Share of notes that return to the note two before after leaving it
    /// ([`Variety::alternation`](super::Variety::alternation)); 0 with fewer than three notes.
    pub alternation: f64,
    /// The largest share, over periods of 2 to [`MAX_PERIOD`] notes, of notes equal to the
    /// note one period before: 1 for a looped two-, three- or four-note figure; 0 with fewer
    /// than three notes.
    pub looped: f64,
    /// Share of notes one step long, the grid's shortest value; 0 without notes.
    pub shortest: f64,
    /// Share of intervals that are leaps (at least [`LEAP`] semitones) coming one or two
    /// intervals after another leap: leap, step back, leap again, the zig-zag between registers
    /// in which every leap is recovered (so the line group passes it); 0 with fewer than two
    /// intervals.
    pub zigzag: f64,
}

impl Degeneracy {
    /// Measures one melody under `setting`.
    pub fn measure(setting: &Setting, melody: &[Event]) -> Self {
        let (played, _) = notes::read(setting, melody);
        Self::of_notes(&played)
    }

    fn of_notes(played: &[Played]) -> Self {
        let pitches: Vec<u8> = played.iter().map(|n| n.pitch).collect();
        let shares = period_shares(&pitches);
        let alternations = pitches
            .windows(3)
            .filter(|w| w[2] == w[0] && w[1] != w[0])
            .count();
        let leaps: Vec<bool> = pitches
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs() >= LEAP)
            .collect();
        let close_leaps = (1..leaps.len())
            .filter(|&k| leaps[k] && leaps[k.saturating_sub(2)..k].iter().any(|&l| l))
            .count();
        Self {
            repeated: shares[0].unwrap_or(1.0),
            alternation: share(alternations, pitches.len().saturating_sub(2), 0.0),
            looped: shares[1..MAX_PERIOD]
                .iter()
                .flatten()
                .fold(0.0, |a, &b| f64::max(a, b)),
            shortest: share(
                played.iter().filter(|n| n.duration == 1).count(),
                played.len(),
                0.0,
            ),
            zigzag: if leaps.len() < 2 {
                0.0
            } else {
                share(close_leaps, leaps.len(), 0.0)
            },
        }
    }

    /// The mean of each share over `melodies`, each measured under `setting_of(i)` (all 0
    /// for an empty set).
    pub fn mean_of<'a>(melodies: &[Vec<Event>], setting_of: impl Fn(usize) -> &'a Setting) -> Self {
        let all: Vec<Self> = melodies
            .iter()
            .enumerate()
            .map(|(i, m)| Self::measure(setting_of(i), m))
            .collect();
        let mean = |f: fn(&Self) -> f64| notes::mean(&all.iter().map(f).collect::<Vec<f64>>());
        Self {
            repeated: mean(|d| d.repeated),
            alternation: mean(|d| d.alternation),
            looped: mean(|d| d.looped),
            shortest: mean(|d| d.shortest),
            zigzag: mean(|d| d.zigzag),
        }
    }
}

/// A known degenerate optimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Flag {
    /// One pitch struck or held over and over (or silence).
    Drone,
    /// Two to four notes looped: a trill or a short ostinato figure.
    Trill,
    /// Nearly every note the grid's shortest value.
    Wall,
    /// Leap after leap, each stepped back from: a line zig-zagging between registers.
    ZigZag,
}

impl Flag {
    /// The flag's name, as serialised.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Drone => "drone",
            Flag::Trill => "trill",
            Flag::Wall => "wall",
            Flag::ZigZag => "zigzag",
        }
    }
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Ceilings on a set's mean [`Degeneracy`]; a mean at or above one is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ceilings {
    /// [`Flag::Drone`] when the mean [`Degeneracy::repeated`] reaches this.
    pub repeated: f64,
    /// [`Flag::Trill`] (unless a drone) when the mean [`Degeneracy::alternation`] reaches this.
    pub alternation: f64,
    /// [`Flag::Trill`] (unless a drone) when the mean [`Degeneracy::looped`] reaches this.
    pub looped: f64,
    /// [`Flag::Wall`] when the mean [`Degeneracy::shortest`] reaches this.
    pub shortest: f64,
    /// [`Flag::ZigZag`] when the mean [`Degeneracy::zigzag`] reaches this.
    pub zigzag: f64,
}

/// The calibrated ceilings (figures in `docs/musicianship.md`): each lies above every tune
/// of the O'Neill's tuning set and below the degenerate melody it names.
pub const DEGENERATE: Ceilings = Ceilings {
    repeated: 0.5,
    alternation: 0.5,
    looped: 0.6,
    shortest: 0.9,
    zigzag: 0.25,
};

impl Ceilings {
    /// The flags a set's mean degeneracy raises, in the order drone, trill, wall, zig-zag.
    pub fn flags(&self, mean: &Degeneracy) -> Vec<Flag> {
        let drone = mean.repeated >= self.repeated;
        let trill = !drone && (mean.alternation >= self.alternation || mean.looped >= self.looped);
        [
            (Flag::Drone, drone),
            (Flag::Trill, trill),
            (Flag::Wall, mean.shortest >= self.shortest),
            (Flag::ZigZag, mean.zigzag >= self.zigzag),
        ]
        .into_iter()
        .filter(|&(_, raised)| raised)
        .map(|(flag, _)| flag)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::{HOLD, REST};

    // rl-tuner-38: event = MIDI pitch - 46 (C4 = 14, C5 = 26).
    const C5: Event = 26;
    const B4: Event = 25;
    const D5: Event = 28;

    fn flags_of(melody: &[Event]) -> Vec<Flag> {
        let setting = Setting::rl_tuner();
        DEGENERATE.flags(&Degeneracy::mean_of(&[melody.to_vec()], |_| &setting))
    }

    #[test]
    fn shares_by_hand() {
        // C5 B4 C5 D5 in sixteenths: every note one step, period 4 repeats exactly.
        let trill: Vec<Event> = [C5, B4, C5, D5].iter().cycle().take(32).copied().collect();
        let d = Degeneracy::measure(&Setting::rl_tuner(), &trill);
        assert_eq!((d.repeated, d.looped, d.shortest), (0.0, 1.0, 1.0));
        assert!((d.alternation - 15.0 / 30.0).abs() < 1e-12);
        // One note held, then silence: a drone with no alternation or loop.
        let held = [C5, HOLD, HOLD, HOLD, REST, REST];
        let d = Degeneracy::measure(&Setting::rl_tuner(), &held);
        assert_eq!(
            (d.repeated, d.alternation, d.looped, d.shortest),
            (1.0, 0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn each_exploit_raises_its_flag_and_a_tune_none() {
        let sixteenth_trill: Vec<Event> = [C5, D5].iter().cycle().take(64).copied().collect();
        assert_eq!(flags_of(&sixteenth_trill), [Flag::Trill, Flag::Wall]);
        let eighth_trill: Vec<Event> = [C5, HOLD, B4, HOLD, C5, HOLD, D5, HOLD]
            .iter()
            .cycle()
            .take(64)
            .copied()
            .collect();
        assert_eq!(flags_of(&eighth_trill), [Flag::Trill]);
        let drone: Vec<Event> = [C5, HOLD].iter().cycle().take(64).copied().collect();
        assert_eq!(flags_of(&drone), [Flag::Drone]);
        assert_eq!(flags_of(&[REST; 64]), [Flag::Drone]);
        // A C major scale up and down in sixteenths: a wall, neither drone nor trill.
        let scale: Vec<Event> = [14u8, 16, 18, 19, 21, 23, 25, 26, 25, 23, 21, 19, 18, 16]
            .iter()
            .cycle()
            .take(64)
            .copied()
            .collect();
        assert_eq!(flags_of(&scale), [Flag::Wall]);
        // "Twinkle, twinkle" in quarters and halves: repeated notes, but no exploit.
        let tune: Vec<Event> = [14u8, 14, 21, 21, 23, 23]
            .iter()
            .flat_map(|&e| [e, HOLD, HOLD, HOLD])
            .chain([21, HOLD, HOLD, HOLD, HOLD, HOLD, HOLD, HOLD])
            .chain(
                [19u8, 19, 18, 18, 16, 16]
                    .iter()
                    .flat_map(|&e| [e, HOLD, HOLD, HOLD]),
            )
            .chain([14, HOLD, HOLD, HOLD, HOLD, HOLD, HOLD, HOLD])
            .collect();
        assert_eq!(flags_of(&tune), []);
    }
}
