"""Env steps per second of the native vector env, from Python, on one core.

``rl-tuner`` with its full reward (Magenta's nine music-theory terms), random actions drawn
before the clock starts, next-step autoreset included. Prints one JSON line per setting.

    python python/bench/vec_env_speed.py [--num-envs 64] [--seconds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import cadenza


def measure(num_envs: int, seconds: float, copy: bool, task: str, reward: str | None) -> dict:
    envs = cadenza.make_vec(task, num_envs=num_envs, reward=reward, copy=copy)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    batches = 1024
    actions = rng.integers(0, envs.single_action_space.n, size=(batches, num_envs), dtype=np.int64)
    for i in range(batches):  # warm-up
        envs.step(actions[i])
    steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for i in range(batches):
            envs.step(actions[i])
        steps += batches
        now = time.perf_counter()
        if now >= deadline:
            break
    elapsed = now - start
    envs.close()
    return {
        "task": task,
        "reward": reward or "task default",
        "num_envs": num_envs,
        "copy": copy,
        "env_steps_per_s": steps * num_envs / elapsed,
        "us_per_batch": elapsed / steps * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--task", default="rl-tuner")
    parser.add_argument("--reward", default=None)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    for copy in (False, True):
        print(json.dumps(measure(args.num_envs, args.seconds, copy, args.task, args.reward)))


if __name__ == "__main__":
    main()
