//! Corpus models (in progress).
