//! FNV-1a, 64 bits: the checksum of checkpoints and of agents' weights.
//!
//! Not a cryptographic hash: it detects a changed or corrupted file, cheaply and the same on
//! every platform, which is all a checkpoint checksum must do. The constants are those of
//! the reference (Fowler, Noll and Vo; IETF draft `draft-eastlake-fnv`).
//!
//! ```
//! use cadenza_env::hash::{fnv1a64, Fnv1a64};
//! assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
//! assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
//! // Streaming gives the same value as hashing the concatenation.
//! let mut hasher = Fnv1a64::new();
//! hasher.update(b"head");
//! hasher.update(b"er");
//! assert_eq!(hasher.finish(), fnv1a64(b"header"));
//! ```

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv1a64::new();
    hasher.update(bytes);
    hasher.finish()
}

/// FNV-1a 64 over bytes given piece by piece, for data that is not one slice (a header and
/// weights in two files, weights tensor by tensor) and need not be copied into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a64 {
    state: u64,
}

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv1a64 {
    /// A hasher that has seen nothing yet.
    pub const fn new() -> Self {
        Self {
            state: OFFSET_BASIS,
        }
    }

    /// Takes in the next bytes.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = (self.state ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }

    /// The hash of everything taken in so far.
    pub const fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a64(b"chongo was here!\n"), 0x4681_0940_eff5_f915);
    }
}
