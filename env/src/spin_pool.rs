//! A tiny pool of spinning worker threads for fork-join work that takes microseconds.
//!
//! Stepping 64 cheap environments takes a few microseconds; a general-purpose pool that puts
//! its threads to sleep between calls spends about that long waking them. These workers spin
//! on an atomic generation counter for a short while after each job (yielding after that), so
//! a fork-join costs well under a microsecond while the vector env is being stepped in a
//! loop, and nothing when it is idle for long.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A job: called once per part index.
type Job = dyn Fn(usize) + Sync;

struct Shared {
    generation: AtomicUsize,
    done: AtomicUsize,
    stop: AtomicBool,
    /// The current job, valid while a `run` call is in progress.
    job: std::sync::Mutex<Option<&'static Job>>,
}

/// Worker threads that run parts `1..parts` of a job while the caller runs part 0.
pub(crate) struct SpinPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

/// How long an idle worker spins before it starts yielding its core.
const SPIN_FOR: Duration = Duration::from_micros(200);

impl SpinPool {
    /// A pool for jobs of `parts` parts (`parts - 1` worker threads).
    pub(crate) fn new(parts: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            job: std::sync::Mutex::new(None),
        });
        let mut workers = Vec::new();
        for part in 1..parts {
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("cadenza-vecenv-{part}"))
                .spawn(move || worker(&shared, part))?;
            workers.push(handle);
        }
        Ok(Self { shared, workers })
    }

    /// Runs `job(0)` here and `job(1..parts)` on the workers; returns when all are done.
    pub(crate) fn run<'a>(&self, job: &'a (dyn Fn(usize) + Sync + 'a)) {
        // SAFETY: the reference is published only until every worker has reported done,
        // which this function waits for before returning (also while unwinding, through the
        // guard), so no worker can use it after the borrow ends.
        let job_static: &'static Job =
            unsafe { std::mem::transmute::<&'a (dyn Fn(usize) + Sync + 'a), &'static Job>(job) };
        *self.shared.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(job_static);
        self.shared.done.store(0, Ordering::SeqCst);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        struct WaitGuard<'a>(&'a Shared, usize);
        impl Drop for WaitGuard<'_> {
            fn drop(&mut self) {
                let start = Instant::now();
                while self.0.done.load(Ordering::Acquire) < self.1 {
                    if start.elapsed() < SPIN_FOR {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                *self.0.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
        let _guard = WaitGuard(&self.shared, self.workers.len());
        job(0);
    }
}

fn worker(shared: &Shared, part: usize) {
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
                std::thread::sleep(Duration::from_micros(50));
            } else {
                std::hint::spin_loop();
            }
        }
        let job = *shared.job.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = job {
            // A panicking part must still report done, or the caller would wait forever;
            // the job itself records failures where the caller can see them.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(part)));
        }
        shared.done.fetch_add(1, Ordering::Release);
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
