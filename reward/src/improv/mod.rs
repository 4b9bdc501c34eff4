//! Harmony-aware improvisation terms (in progress).
