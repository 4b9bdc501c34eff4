//! The one list of improvisation terms, [`IMPROV_TERMS`]: the preset's order, the reward
//! registry's components and the reward bench's built-in terms all come from it.

use super::cadence::Cadence;
use super::chord_scale::ChordScaleMembership;
use super::chord_tone::ChordToneOnStrongBeat;
use super::contour::Contour;
use super::fast_runs::FastRuns;
use super::leap::LeapRecovery;
use super::motif::MotifDevelopment;
use super::phrase::PhraseBreath;
use super::pitch_variety::PitchVariety;
use super::range::RangeTessitura;
use super::resolution::NonChordToneResolution;
use super::rhythm::RhythmicVariety;
use super::term::ImprovTerm;
use cadenza_env::Reward;
use serde::de::DeserializeOwned;
use std::fmt;

/// Number of improvisation terms (and of terms in the `improv` preset).
pub const IMPROV_TERM_COUNT: usize = 12;

/// Every improvisation term, in the order the `improv` preset reports them.
pub const IMPROV_TERMS: [TermEntry; IMPROV_TERM_COUNT] = [
    TermEntry::of::<ChordToneOnStrongBeat>(),
    TermEntry::of::<ChordScaleMembership>(),
    TermEntry::of::<NonChordToneResolution>(),
    TermEntry::of::<LeapRecovery>(),
    TermEntry::of::<RangeTessitura>(),
    TermEntry::of::<Contour>(),
    TermEntry::of::<RhythmicVariety>(),
    TermEntry::of::<PhraseBreath>(),
    TermEntry::of::<MotifDevelopment>(),
    TermEntry::of::<Cadence>(),
    TermEntry::of::<PitchVariety>(),
    TermEntry::of::<FastRuns>(),
];

/// Names of the terms of [`IMPROV_TERMS`], in its order. They double as the section names
/// of [`ImprovWeights`](super::ImprovWeights).
pub const IMPROV_TERM_NAMES: [&str; IMPROV_TERM_COUNT] = {
    let mut names = [""; IMPROV_TERM_COUNT];
    let mut i = 0;
    while i < IMPROV_TERM_COUNT {
        names[i] = IMPROV_TERMS[i].name;
        i += 1;
    }
    names
};

/// One row of [`IMPROV_TERMS`]: a term's name and how to build it as a boxed [`Reward`].
#[derive(Clone, Copy)]
pub struct TermEntry {
    /// The term's name ([`ImprovTerm::NAME`]).
    pub name: &'static str,
    with_defaults: fn() -> Box<dyn Reward>,
    with_params: fn(toml::Table) -> Result<Box<dyn Reward>, String>,
}

impl fmt::Debug for TermEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TermEntry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TermEntry {
    pub(crate) const fn of<T: ImprovTerm + 'static>() -> Self {
        Self {
            name: T::NAME,
            with_defaults: boxed_default::<T>,
            with_params: boxed_with_params::<T>,
        }
    }

    /// The entry of the improvisation term called `name` (the answer terms are found by
    /// [`crate::duet::find_term`]).
    pub fn find(name: &str) -> Option<&'static TermEntry> {
        IMPROV_TERMS.iter().find(|entry| entry.name == name)
    }

    /// The term with its default parameters.
    pub fn with_defaults(&self) -> Box<dyn Reward> {
        (self.with_defaults)()
    }

    /// The term with parameters read from a TOML table (missing fields take their defaults);
    /// the error names the unknown, mistyped or out-of-range field.
    pub(crate) fn with_params(&self, section: toml::Table) -> Result<Box<dyn Reward>, String> {
        (self.with_params)(section)
    }
}

fn boxed_default<T: ImprovTerm + 'static>() -> Box<dyn Reward> {
    Box::new(T::default())
}

fn boxed_with_params<T: ImprovTerm + 'static>(
    section: toml::Table,
) -> Result<Box<dyn Reward>, String> {
    let params: T::Params = params_from_toml(section)?;
    Ok(Box::new(T::new(params).map_err(|e| e.to_string())?))
}

/// Reads a TOML section into a parameter struct; the error is the bare message (naming the
/// field), for the caller to place.
pub(crate) fn params_from_toml<P: DeserializeOwned>(section: toml::Table) -> Result<P, String> {
    toml::Value::Table(section)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())
}
