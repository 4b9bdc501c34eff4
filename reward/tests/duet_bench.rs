//! The reward bench's duet case on the in-repository corpus: real call/response pairs of
//! held-out tunes against shuffled pairs.

use cadenza_env::duet::partner::{CorpusCalls, Split};
use cadenza_env::TaskSpec;
use cadenza_reward::bench::duet::real_vs_shuffled;
use std::path::Path;

#[test]
fn answer_terms_prefer_real_responses_to_shuffled_ones() {
    let task = TaskSpec::by_name("duet", None).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/corpus/oneills-dev");
    let pairs = CorpusCalls::load(&dir, Split::HeldOut, &task).unwrap();
    let mut reward = cadenza_reward::registry::preset("duet").unwrap();
    let report = real_vs_shuffled(&task.setting, pairs.pairs(), reward.as_mut(), 200, 0).unwrap();
    for row in &report.terms {
        println!(
            "{:>40} auc {:.3} ci {:?} real {:+.4} shuffled {:+.4}",
            row.name,
            row.auc.unwrap_or(f64::NAN),
            row.ci,
            row.real_mean,
            row.shuffled_mean
        );
    }
    for name in ["call_motif", "call_rhythm"] {
        let row = report.term(name).unwrap();
        let (low, _) = row.ci.unwrap();
        assert!(low > 0.5, "{name}: {row:?}");
    }
    // Same seed, same report.
    let again = real_vs_shuffled(&task.setting, pairs.pairs(), reward.as_mut(), 200, 0).unwrap();
    assert_eq!(again, report);
}
