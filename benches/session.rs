//! Rating-to-next-phrase latency of a session: one piece of feedback (model refit and
//! preference-table update) plus the next proposal (24 candidates sampled, steered, scored and
//! reranked, an A/B pair chosen), after 40 rounds of history.

use cadenza_session::sim::SimListener;
use cadenza_session::{Choice, Feedback, Session, SessionConfig};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let mut session = Session::new(
        SessionConfig {
            seed: 1,
            ..SessionConfig::default()
        },
        None,
    )
    .expect("a valid session");
    let listener = SimListener::by_name("sim:bluesy", 1).expect("a listener");
    cadenza_session::sim::run(&mut session, &listener, 40, 0).expect("warm-up rounds");
    let mut group = c.benchmark_group("session");
    group.sample_size(30);
    group.bench_function("feedback_to_next_phrase", |b| {
        b.iter(|| {
            let round = session.propose().expect("propose").clone();
            let rating = listener.rate(&session, round.played(), round.index);
            session
                .feedback(Feedback {
                    rating: Some(rating),
                    preference: round.pair.map(|_| Choice::A),
                })
                .expect("feedback");
            std::hint::black_box(session.propose().expect("next phrase").played);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
