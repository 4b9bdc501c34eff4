//! The hot path allocates nothing: stepping an env (and a vector env) after reset performs
//! zero heap allocations, counted by a global allocator.

use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, Environment, InScaleReward, TaskSpec, ZeroReward};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;
thread_local! {
    // Per thread, so that tests running in parallel (and the harness) do not count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn env_step_allocates_nothing() {
    let mut env = ComposeEnv::new(TaskSpec::rl_tuner(), InScaleReward);
    let mut obs = vec![0.0f32; 184];
    env.reset_into(Some(0), &mut obs).unwrap();
    let n = allocations_during(|| {
        for episode in 0..10 {
            for t in 0..32 {
                env.step_into((t * 5 + episode) % 38, &mut obs).unwrap();
            }
            env.reset_into(None, &mut obs).unwrap();
        }
    });
    assert_eq!(n, 0, "allocations while stepping");
}

#[test]
fn vector_env_step_allocates_nothing_single_threaded() {
    let envs = (0..8)
        .map(|_| ComposeEnv::new(TaskSpec::rl_tuner(), ZeroReward))
        .collect();
    let mut venv = VecEnv::new(envs, 1).unwrap();
    venv.reset(Some(0)).unwrap();
    let actions = vec![14usize; 8];
    let n = allocations_during(|| {
        for _ in 0..100 {
            venv.step(&actions).unwrap();
        }
    });
    assert_eq!(n, 0, "allocations while stepping the vector env");
}
