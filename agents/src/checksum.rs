//! The checksum of checkpoints and of adapted weights.

/// FNV-1a 64 of `bytes`: fast, and enough to notice a changed or corrupted file (not a
/// defence against tampering).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
