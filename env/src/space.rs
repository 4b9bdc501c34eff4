//! Action and observation spaces, as in Gymnasium's `spaces`.

use rand::Rng;

/// A finite set of actions `0..n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discrete {
    /// Number of actions.
    pub n: usize,
}

impl Discrete {
    /// Whether `action` is in the space.
    #[inline]
    pub fn contains(&self, action: usize) -> bool {
        action < self.n
    }

    /// A uniformly random action.
    pub fn sample<G: Rng + ?Sized>(&self, rng: &mut G) -> usize {
        rng.random_range(0..self.n)
    }

    /// A uniformly random action among those the mask allows; `None` if it allows none.
    pub fn sample_masked<G: Rng + ?Sized>(&self, rng: &mut G, mask: &[bool]) -> Option<usize> {
        let allowed = mask.iter().filter(|&&ok| ok).count();
        if allowed == 0 {
            return None;
        }
        let pick = rng.random_range(0..allowed);
        mask.iter()
            .enumerate()
            .filter(|(_, &ok)| ok)
            .nth(pick)
            .map(|(i, _)| i)
    }
}

/// A box of `f32` vectors with per-coordinate bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxSpace {
    /// Lower bounds, one per coordinate.
    pub low: Vec<f32>,
    /// Upper bounds, one per coordinate.
    pub high: Vec<f32>,
}

impl BoxSpace {
    /// A box with the same bounds on every coordinate.
    pub fn uniform(dim: usize, low: f32, high: f32) -> Self {
        Self {
            low: vec![low; dim],
            high: vec![high; dim],
        }
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.low.len()
    }

    /// Whether `x` has the right length and lies inside the bounds (NaN never does).
    pub fn contains(&self, x: &[f32]) -> bool {
        x.len() == self.dim()
            && x.iter()
                .zip(self.low.iter().zip(&self.high))
                .all(|(v, (lo, hi))| *v >= *lo && *v <= *hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn masked_sampling_respects_mask() {
        let space = Discrete { n: 5 };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mask = [false, true, false, true, false];
        for _ in 0..100 {
            let a = space.sample_masked(&mut rng, &mask).unwrap();
            assert!(mask[a]);
        }
        assert_eq!(space.sample_masked(&mut rng, &[false; 5]), None);
    }

    #[test]
    fn box_rejects_nan_and_wrong_length() {
        let b = BoxSpace::uniform(2, 0.0, 1.0);
        assert!(b.contains(&[0.0, 1.0]));
        assert!(!b.contains(&[0.0, f32::NAN]));
        assert!(!b.contains(&[0.0]));
        assert!(!b.contains(&[0.0, 1.5]));
    }
}
