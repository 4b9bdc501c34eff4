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
//! The parts are dealt into one contiguous *lane* per thread, and each thread claims from its
//! own lane first and from the others only when its own is empty. So from one job to the next
//! the same thread runs the same parts: an environment's state stays in the cache of the core
//! that stepped it last. Claiming from one shared counter instead would move every env between
//! cores from step to step, and fetching its cache lines from the other core costs more than
//! the step itself.
//!
//! Everything on the per-job path is a lock-free atomic: one counter per lane hands out its
//! parts (a `fetch_add`), one counts the parts workers finished. A lock there costs more than the
//! parts themselves once two cores contend for it.
//!
//! The protocol, for one job:
//! 1. The caller stores the job, then opens the claims by storing `CLOSED - len` into each
//!    lane's `next` (release), then bumps `generation` to wake the workers.
//! 2. Anyone claims a part of lane `l` by `next[l].fetch_add(1)`: a value `v < CLOSED` is
//!    part `start(l) + CLOSED - 1 - v` of the open job (so a claim needs no other shared
//!    state to be checked); `v >= CLOSED` means nothing is left there. Only *after* a
//!    successful claim does a worker read the job, so it always reads the job its claim
//!    belongs to (the claim synchronises with the store that opened it).
//! 3. When the caller finds no part left in any lane, it closes the claims
//!    (`next[l].swap(CLOSED)` for each lane): the values it swaps out say how many parts were
//!    claimed in all, so it knows how many the workers hold, and it waits until `done`
//!    reaches that many before returning, after which the job (a borrow of the caller's
//!    stack) is never touched again.

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

/// A lane's claim counter, alone in its cache line: the threads claim from their own lanes
/// without writing to each other's lines.
#[repr(align(128))]
struct Lane {
    /// `CLOSED - 1 - next` is the next part of the lane to hand out; `CLOSED` or more: none.
    next: AtomicUsize,
}

/// A value alone in its cache line (128 bytes: adjacent-line prefetchers fetch pairs).
#[repr(align(128))]
struct Padded<T>(T);

/// What is written once per job and read by every claim, in one line of its own.
struct JobSlot {
    /// The current job: written by the caller only while the claims are closed and no worker
    /// holds a claim; read by a worker only while it holds one.
    job: UnsafeCell<Option<&'static Job>>,
    /// The current job's parts per lane (the last lanes may hold one fewer) and in all.
    lane_len: AtomicUsize,
    parts: AtomicUsize,
}

/// Every field that one thread writes while another reads it sits in a cache line of its
/// own: with a line shared, each write would move it between the cores, and a job of a
/// few microseconds has no time for that.
struct Shared {
    /// Bumped once per job; workers watch it.
    generation: Padded<AtomicUsize>,
    stop: AtomicBool,
    /// One lane per thread; lane 0 is the caller's.
    lanes: Box<[Lane]>,
    slot: Padded<JobSlot>,
    /// Parts finished by workers in the current job (each worker adds its count once, when
    /// it finds nothing left to claim).
    done: Padded<AtomicUsize>,
}

// SAFETY: `job` is written and read only as the protocol in the module docs allows: writes
// happen-before the release store that opens the claims, and reads happen after a successful
// claim, which the caller waits for before it writes again.
unsafe impl Sync for Shared {}

impl Shared {
    /// The first part of lane `lane` and its number of parts, for `parts` parts in all.
    fn lane_range(&self, lane: usize, parts: usize, lane_len: usize) -> (usize, usize) {
        let start = (lane * lane_len).min(parts);
        (start, (parts - start).min(lane_len))
    }

    /// Claims one part of the open job from lane `lane`, if any is left there.
    fn claim_in(&self, lane: usize) -> Option<(&'static Job, usize)> {
        let next = &self.lanes[lane].next;
        // A look before the claim: an empty lane stays in the other core's cache unwritten.
        if next.load(Ordering::Relaxed) >= CLOSED {
            return None;
        }
        let value = next.fetch_add(1, Ordering::AcqRel);
        if value >= CLOSED {
            return None;
        }
        // SAFETY: a claim below CLOSED was handed out by the open job, whose stores into
        // `job`, `lane_len` and `parts` happened-before the store that opened the claims
        // (see the module docs).
        let job = unsafe { (*self.slot.0.job.get())? };
        let parts = self.slot.0.parts.load(Ordering::Relaxed);
        let lane_len = self.slot.0.lane_len.load(Ordering::Relaxed);
        let (start, _) = self.lane_range(lane, parts, lane_len);
        Some((job, start + CLOSED - 1 - value))
    }

    /// Claims one part, from lane `own` first and then from the others in turn.
    fn claim(&self, own: usize) -> Option<(&'static Job, usize)> {
        let lanes = self.lanes.len();
        (0..lanes).find_map(|offset| self.claim_in((own + offset) % lanes))
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
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            generation: Padded(AtomicUsize::new(0)),
            stop: AtomicBool::new(false),
            lanes: (0..threads)
                .map(|_| Lane {
                    next: AtomicUsize::new(CLOSED),
                })
                .collect(),
            slot: Padded(JobSlot {
                job: UnsafeCell::new(None),
                lane_len: AtomicUsize::new(0),
                parts: AtomicUsize::new(0),
            }),
            done: Padded(AtomicUsize::new(0)),
        });
        let mut workers = Vec::new();
        for index in 1..threads {
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("cadenza-vecenv-{index}"))
                .spawn(move || worker(&shared, index))?;
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
        shared.done.0.store(0, Ordering::Relaxed);
        // SAFETY: claims are closed and every claimed part of the previous job is done, so
        // no worker reads `job` now.
        unsafe { *shared.slot.0.job.get() = Some(job_static) };
        let parts = parts.min(CLOSED);
        let lane_len = parts.div_ceil(shared.lanes.len());
        shared.slot.0.parts.store(parts, Ordering::Relaxed);
        shared.slot.0.lane_len.store(lane_len, Ordering::Relaxed);
        for (lane, slot) in shared.lanes.iter().enumerate() {
            let (_, len) = shared.lane_range(lane, parts, lane_len);
            slot.next.store(CLOSED - len, Ordering::Release);
        }
        shared.generation.0.fetch_add(1, Ordering::Release);

        /// Closes the claims and waits for the workers' parts, also when a part of the
        /// caller's panics.
        struct Finish<'s> {
            shared: &'s Shared,
            parts: usize,
            mine: usize,
        }
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                let shared = self.shared;
                let lane_len = self.parts.div_ceil(shared.lanes.len());
                let handed_out: usize = (0..shared.lanes.len())
                    .map(|lane| {
                        let left = shared.lanes[lane].next.swap(CLOSED, Ordering::AcqRel);
                        let (_, len) = shared.lane_range(lane, self.parts, lane_len);
                        left.min(CLOSED) - (CLOSED - len)
                    })
                    .sum();
                let theirs = handed_out - self.mine;
                let start = Instant::now();
                while self.shared.done.0.load(Ordering::Acquire) < theirs {
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
        while let Some((job, part)) = shared.claim(0) {
            finish.mine += 1;
            job(part);
        }
        drop(finish);
    }
}

/// Worker `lane` (1-based: lane 0 is the caller's).
fn worker(shared: &Shared, lane: usize) {
    let mut seen = 0usize;
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            let generation = shared.generation.0.load(Ordering::Acquire);
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
        let mut finished = 0;
        while let Some((job, part)) = shared.claim(lane) {
            // A panicking part must still count as done, or the caller would wait forever.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(part)));
            finished += 1;
        }
        if finished > 0 {
            shared.done.0.fetch_add(finished, Ordering::Release);
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
