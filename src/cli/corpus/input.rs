//! Where a corpus command's melodies come from and how they become events.

use crate::cli::melodies::{self, MelodySet, ReadOptions, Transpose};
use anyhow::{bail, Result};
use cadenza_env::encoding::EventEncoding;
use cadenza_env::midi::ImportOptions;
use clap::Args;
use std::path::{Path, PathBuf};

/// Where melodies come from and how they become events.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Melodies: a directory of .mid and .abc files, a .mid or .abc file, or a JSON file of events.
    #[arg(long = "in", value_name = "DIR|FILE")]
    pub(super) input: PathBuf,
    /// Event encoding of MIDI input: rl-tuner-38 or range-LOW-HIGH (e.g. range-55-88).
    #[arg(long, default_value = "rl-tuner-38", value_parser = melodies::parse_encoding)]
    pub(super) encoding: EventEncoding,
    /// Transposition of MIDI input before encoding.
    #[arg(long, value_enum, default_value_t = Transpose::Auto)]
    pub(super) transpose: Transpose,
    /// Steps per quarter note of the grid MIDI is quantised to.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(super) steps_per_quarter: u32,
}

impl InputArgs {
    pub(super) fn read(&self) -> Result<MelodySet> {
        read(
            &self.input,
            self.encoding,
            self.transpose,
            self.steps_per_quarter,
        )
    }
}

pub(super) fn read(
    input: &Path,
    encoding: EventEncoding,
    transpose: Transpose,
    steps_per_quarter: u32,
) -> Result<MelodySet> {
    if steps_per_quarter == 0 {
        bail!("--steps-per-quarter must be at least 1");
    }
    let options = ReadOptions {
        encoding: Some(encoding),
        transpose,
        import: ImportOptions {
            steps_per_quarter,
            ..ImportOptions::default()
        },
    };
    let set = melodies::read_melodies(input, &options)?;
    set.warn_skipped();
    Ok(set)
}
