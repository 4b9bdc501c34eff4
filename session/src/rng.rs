//! The streams of a session's random numbers: each round and purpose draws from its own
//! stream of the seed, so a resumed session proposes exactly what the killed one would have.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Pre-training the session's own agent.
pub(crate) const STREAM_PRETRAIN: u64 = 1;
/// The calibration phrases.
pub(crate) const STREAM_CALIBRATION: u64 = 2;
/// Held-out phrases.
pub(crate) const STREAM_HELD_OUT: u64 = 3;
/// Round `n` draws from stream `STREAM_ROUNDS + n`.
pub(crate) const STREAM_ROUNDS: u64 = 1 << 32;

/// The generator of `stream` of `seed`.
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}
