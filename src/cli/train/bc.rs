//! `cadenza train --agent bc` (a behaviour-cloned prior from a corpus) and `--prior DIR`
//! (KL-controlled fine-tuning from it), kept beside `train` because they share its run
//! directory layout.
//!
//! A BC run directory holds what a `train` run does, so `generate` and `--prior` read it:
//! `run.json` (agent `bc`), `checkpoint/`, `metrics.jsonl` (one line per epoch: training and
//! validation NLL per event, validation accuracy), `summary.json` and `samples/*.mid`.

//! The work is in `bc/libtorch.rs`; a build without the `tch` feature compiles
//! `bc/unavailable.rs` instead, whose functions answer with one error that says how to build
//! with libtorch.

#[cfg_attr(feature = "tch", path = "bc/libtorch.rs")]
#[cfg_attr(not(feature = "tch"), path = "bc/unavailable.rs")]
mod imp;

pub use imp::{ppo_from_prior, run};
