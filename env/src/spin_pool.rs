//! A tiny pool of spinning worker threads for fork-join work that takes microseconds.
//!
//! Stepping 64 cheap environments takes a few microseconds; a general-purpose pool that puts
//! its threads to sleep between calls spends about that long waking them. Here a job is cut
//! into parts that the caller and the workers *claim* one at a time: workers spin on a
//! generation counter for a short while after each job (then sleep in short naps), and the
//! caller works through unclaimed parts itself. So a worker that is asleep or descheduled
//! (on a busy machine) never makes the caller wait: it waits only for parts a worker has
//! actually started.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A job: called once per part index.
type Job = dyn Fn(usize) + Sync;

/// The current job and how far its parts have been handed out.
struct Claims {
    job: Option<&'static Job>,
    next: usize,
    parts: usize,
}

struct Shared {
    generation: AtomicUsize,
    done: AtomicUsize,
    stop: AtomicBool,
    claims: Mutex<Claims>,
}

impl Shared {
    /// Hands out the next unclaimed part of the current job, if any.
    fn claim(&self) -> Option<(&'static Job, usize)> {
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        let job = claims.job?;
        if claims.next >= claims.parts {
            return None;
        }
        let part = claims.next;
        claims.next += 1;
        Some((job, part))
    }
}

/// Worker threads that help the caller run the parts of a job.
pub(crate) struct SpinPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

/// How long an idle worker spins before it starts napping.
const SPIN_FOR: Duration = Duration::from_micros(200);
/// How long one nap of an idle worker lasts.
const NAP: Duration = Duration::from_micros(50);

impl SpinPool {
    /// A pool with `threads - 1` workers (the caller is the other thread).
    pub(crate) fn new(threads: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            claims: Mutex::new(Claims {
                job: None,
                next: 0,
                parts: 0,
            }),
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

    /// Runs `job(0..parts)` on this thread and the workers; returns when all parts are done.
    pub(crate) fn run<'a>(&self, parts: usize, job: &'a (dyn Fn(usize) + Sync + 'a)) {
        // SAFETY: the reference is handed out only under the claims lock while `job` is
        // set, and it is unset (below, also while unwinding) only after every claimed part
        // has finished, so no worker can call it after this borrow ends.
        let job_static: &'static Job =
            unsafe { std::mem::transmute::<&'a (dyn Fn(usize) + Sync + 'a), &'static Job>(job) };
        self.shared.done.store(0, Ordering::SeqCst);
        {
            let mut claims = self.shared.claims.lock().unwrap_or_else(|e| e.into_inner());
            *claims = Claims {
                job: Some(job_static),
                next: 0,
                parts,
            };
        }
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        /// Waits for the parts the workers claimed, also while unwinding.
        struct Finish<'s> {
            shared: &'s Shared,
            parts: usize,
            mine: std::cell::Cell<usize>,
        }
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                // Close the claims, so that nothing more is handed out, and count what was.
                let claimed = {
                    let mut claims = self.shared.claims.lock().unwrap_or_else(|e| e.into_inner());
                    let claimed = claims.next.min(self.parts);
                    claims.next = usize::MAX;
                    claimed
                };
                let theirs = claimed - self.mine.get();
                let start = Instant::now();
                while self.shared.done.load(Ordering::Acquire) < theirs {
                    if start.elapsed() < SPIN_FOR {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                self.shared
                    .claims
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .job = None;
            }
        }
        let finish = Finish {
            shared: &self.shared,
            parts,
            mine: std::cell::Cell::new(0),
        };
        while let Some((job, part)) = self.shared.claim() {
            finish.mine.set(finish.mine.get() + 1);
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
                // Idle for a while: stop burning the core, but keep latency low.
                std::thread::sleep(NAP);
            } else {
                std::hint::spin_loop();
            }
        }
        while let Some((job, part)) = shared.claim() {
            // A panicking part must still report done, or the caller would wait forever;
            // the job itself records failures where the caller can see them.
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
