//! A tiny pool of spinning worker threads for fork-join work that takes microseconds.
//!
//! Stepping 64 cheap environments takes a few microseconds; a general-purpose pool that puts
//! its threads to sleep between calls spends about that long waking them. Here a job is cut
//! into parts that the caller and the workers *claim* one at a time: workers spin on a
//! generation counter for a short while after each job (then sleep in short naps), and the
//! caller works through unclaimed parts itself. So a worker that is asleep or descheduled
//! (on a busy machine) never makes the caller wait: it waits only for parts a worker has
//! actually started.
//!
//! Everything on the per-job path is a lock-free atomic: one counter hands out parts (a
//! `fetch_add`), one counts the parts workers finished. A lock there costs more than the
//! parts themselves once two cores contend for it.
//!
//! The protocol, for one job:
//! 1. The caller stores the job, then opens the claims by storing `CLOSED - parts` into
//!    `next` (release), then bumps `generation` to wake the workers.
//! 2. Anyone claims a part by `next.fetch_add(1)`: a value `v < CLOSED` is part
//!    `CLOSED - 1 - v` of the open job (so a claim needs no other shared state to be
//!    checked); `v >= CLOSED` means nothing is left. Only *after* a successful claim does a
//!    worker read the job, so it always reads the job its claim belongs to (the claim
//!    synchronises with the store that opened it).
//! 3. When the caller finds no part left, it closes the claims (`next.swap(CLOSED)`): the
//!    value it swaps out says how many parts were claimed in all, so it knows how many the
//!    workers hold, and it waits until `done` reaches that many before returning, after which
//!    the job (a borrow of the caller's stack) is never touched again.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A job: called once per part index.
type Job = dyn Fn(usize) + Sync;

/// `next` while no job is open; far enough from `usize::MAX` that late `fetch_add`s by
/// workers never wrap around.
const CLOSED: usize = usize::MAX / 2;

struct Shared {
    /// Bumped once per job; workers watch it.
    generation: AtomicUsize,
    /// `CLOSED - 1 - next` is the next part to hand out; `CLOSED` or more: none.
    next: AtomicUsize,
    /// Parts finished by workers in the current job.
    done: AtomicUsize,
    stop: AtomicBool,
    /// The current job: written by the caller only while the claims are closed and no worker
    /// holds a claim; read by a worker only while it holds one.
    job: UnsafeCell<Option<&'static Job>>,
}

// SAFETY: `job` is written and read only as the protocol in the module docs allows: writes
// happen-before the release store that opens the claims, and reads happen after a successful
// claim, which the caller waits for before it writes again.
unsafe impl Sync for Shared {}

impl Shared {
    /// Claims one part of the open job, if any is left.
    fn claim(&self) -> Option<(&'static Job, usize)> {
        let value = self.next.fetch_add(1, Ordering::AcqRel);
        if value >= CLOSED {
            return None;
        }
        // SAFETY: a claim below CLOSED was handed out by the open job, whose store into
        // `job` happened-before the store that opened the claims (see the module docs).
        let job = unsafe { (*self.job.get())? };
        Some((job, CLOSED - 1 - value))
    }
}

/// The pool. `threads - 1` workers; the caller of [`SpinPool::run`] is the last thread.
pub(crate) struct SpinPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

/// How long an idle worker spins before it starts napping.
const SPIN_FOR: Duration = Duration::from_micros(200);
/// One nap of an idle worker.
const NAP: Duration = Duration::from_micros(50);

impl SpinPool {
    /// A pool for `threads` threads in all (the caller included).
    pub(crate) fn new(threads: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            next: AtomicUsize::new(CLOSED),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            job: UnsafeCell::new(None),
        });
        let mut workers = Vec::new();
        for index in 1..threads {
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("cadenza-vecenv-{index}"))
                .spawn(move || worker(&shared))?;
            workers.push(handle);
        }
        Ok(Self { shared, workers })
    }

    /// Runs `job(0)`, ..., `job(parts - 1)`, each exactly once, spread over the pool and the
    /// calling thread; returns when all are done. A part that panics in a worker is lost
    /// (the caller's own parts propagate their panic after the workers finished).
    pub(crate) fn run<'a>(&self, parts: usize, job: &'a (dyn Fn(usize) + Sync + 'a)) {
        // SAFETY: the job is reachable by workers only between the opening of the claims
        // below and the end of `Finish::drop`, which waits for every claimed part; `run` does
        // not return (nor unwind) before that, so the borrow outlives every use.
        let job_static: &'static Job =
            unsafe { std::mem::transmute::<&'a (dyn Fn(usize) + Sync + 'a), &'static Job>(job) };
        let shared = &*self.shared;
        shared.done.store(0, Ordering::Relaxed);
        // SAFETY: claims are closed and every claimed part of the previous job is done, so
        // no worker reads `job` now.
        unsafe { *shared.job.get() = Some(job_static) };
        let parts = parts.min(CLOSED);
        shared.next.store(CLOSED - parts, Ordering::Release);
        shared.generation.fetch_add(1, Ordering::Release);

        /// Closes the claims and waits for the workers' parts, also when a part of the
        /// caller's panics.
        struct Finish<'s> {
            shared: &'s Shared,
            parts: usize,
            mine: usize,
        }
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                let left = self.shared.next.swap(CLOSED, Ordering::AcqRel);
                let handed_out = left.min(CLOSED) - (CLOSED - self.parts);
                let theirs = handed_out - self.mine;
                let start = Instant::now();
                while self.shared.done.load(Ordering::Acquire) < theirs {
                    if start.elapsed() < SPIN_FOR {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
        let mut finish = Finish {
            shared,
            parts,
            mine: 0,
        };
        while let Some((job, part)) = shared.claim() {
            finish.mine += 1;
            job(part);
        }
        drop(finish);
    }
}

fn worker(shared: &Shared) {
    let mut seen = 0usize;
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            let generation = shared.generation.load(Ordering::Acquire);
            if generation != seen {
                seen = generation;
                break;
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > SPIN_FOR {
                std::thread::sleep(NAP);
            } else {
                std::hint::spin_loop();
            }
        }
        while let Some((job, part)) = shared.claim() {
            // A panicking part must still count as done, or the caller would wait forever.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(part)));
            shared.done.fetch_add(1, Ordering::Release);
        }
    }
}

impl Drop for SpinPool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_exactly_once() {
        for threads in [1, 2, 3] {
            let pool = SpinPool::new(threads).unwrap();
            for parts in [0usize, 1, 2, 7, 64] {
                for _ in 0..200 {
                    let counts: Vec<AtomicUsize> =
                        (0..parts).map(|_| AtomicUsize::new(0)).collect();
                    pool.run(parts, &|part| {
                        counts[part].fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(
                        counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                        "{threads} threads, {parts} parts"
                    );
                }
            }
        }
    }

    #[test]
    fn a_panicking_part_of_the_caller_still_waits_for_the_workers() {
        let pool = SpinPool::new(2).unwrap();
        let done = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run(16, &|part| {
                if part == 15 {
                    panic!("part 15");
                }
                done.fetch_add(1, Ordering::Relaxed);
            })
        }));
        assert!(result.is_err() || done.load(Ordering::Relaxed) == 15);
        // The pool still works afterwards.
        let again = AtomicUsize::new(0);
        pool.run(8, &|_| {
            again.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(again.load(Ordering::Relaxed), 8);
    }
}
