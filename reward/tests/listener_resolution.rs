//! The listener features' resolution (`FEATURE_RESOLUTION`): half the spread of each feature
//! over real tunes, measured on the tuning half of the held-out corpus. Run with
//! `--nocapture` to print the measured spreads.

use cadenza_reward::listener::{FeatureExtractor, FEATURE_NAMES, FEATURE_RESOLUTION, NUM_FEATURES};

mod common;
use common::{held_out, tune};

#[test]
fn resolution_is_half_the_corpus_spread_of_each_feature() {
    let (tuning, _) = held_out();
    let mut extractor = FeatureExtractor::new();
    let rows: Vec<Vec<f64>> = tuning
        .iter()
        .map(|path| {
            let (setting, melody) = tune(path, 64);
            extractor.extract(&setting, &melody).expect("features")
        })
        .collect();
    let n = rows.len() as f64;
    let mut wrong = Vec::new();
    for j in 0..NUM_FEATURES {
        let mean = rows.iter().map(|r| r[j]).sum::<f64>() / n;
        let std = (rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n).sqrt();
        println!(
            "{:>28} std {std:.4} half {:.4} resolution {:.4}",
            FEATURE_NAMES[j],
            std / 2.0,
            FEATURE_RESOLUTION[j]
        );
        let half = std / 2.0;
        let resolution = FEATURE_RESOLUTION[j];
        // Where the corpus does not vary, any small positive resolution will do.
        let expected = if half < 1e-6 {
            resolution > 0.0 && resolution <= 0.1
        } else {
            resolution >= half / 1.2 && resolution <= half * 1.2
        };
        if !expected {
            wrong.push(format!(
                "{}: resolution {} against half the corpus spread {half:.4}",
                FEATURE_NAMES[j], FEATURE_RESOLUTION[j]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
