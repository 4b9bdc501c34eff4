//! What a person hears first is a varied set: with default settings, the first ten phrases of
//! a session play as music by every criterion of the musicianship report, the set-level ones
//! (distinct phrases, edit distance) included, while the listener model learns the taste.

use cadenza_session::sim::{run, SimListener};
use cadenza_session::{Session, SessionConfig};

#[test]
fn the_first_ten_phrases_play_as_a_varied_set_of_music() {
    for seed in [1, 3] {
        let config = SessionConfig {
            seed,
            ..SessionConfig::default()
        };
        let mut session = Session::new(config, None).unwrap();
        let listener = SimListener::by_name("sim:stepwise", seed).unwrap();
        let report = run(&mut session, &listener, 20, 0).unwrap();
        let first = &report.musicianship_first;
        assert_eq!(first.melodies, 10);
        assert!(
            first.failures.is_empty(),
            "seed {seed}: the first ten phrases are not music: {:?} (edit distance per note {:?})",
            first.failures,
            first.edit_distance_per_note
        );
    }
}
