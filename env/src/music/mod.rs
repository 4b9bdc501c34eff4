//! Music model (in progress).
