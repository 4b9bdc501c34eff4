//! The checksum of checkpoints and of adapted weights: env's FNV-1a 64, fast and enough to
//! notice a changed or corrupted file (not a defence against tampering).

pub(crate) use cadenza_env::hash::fnv1a64 as fnv1a;
