"""Stable-Baselines3 PPO on Cadenza's native vector env, against the pure-Python baseline.

SB3's default PPO (MlpPolicy 64x64, n_steps 2048, 10 epochs, minibatch 64) on ``num_envs``
native sub-envs of the ``rl-tuner`` task, through :class:`cadenza.sb3.VecEnvAdapter`. Then
1000 *sampled* episodes (the policy's own distribution, not its argmax: a greedy policy plays
one melody forever) give the mean return and the diversity of the melodies: how many are
distinct and their mean pairwise Hamming distance.

Needs ``stable-baselines3`` and torch (``bash scripts/python-test.sh`` installs both into
``.venv-py/``)::

    .venv-py/bin/python python/examples/sb3_ppo.py --steps 200000 --num-envs 8 [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

import cadenza
from cadenza.sb3 import VecEnvAdapter


def evaluate(model: PPO, task: str, episodes: int, seed: int) -> dict[str, float]:
    """Mean return and diversity of ``episodes`` melodies sampled from the policy."""
    envs = cadenza.make_vec(task, num_envs=episodes)
    obs, _ = envs.reset(seed=seed)
    returns = np.zeros(episodes)
    melodies = []
    done = np.zeros(episodes, dtype=bool)
    while not done.all():
        actions, _ = model.predict(obs, deterministic=False)
        actions = actions.astype(np.int64)
        melodies.append(actions)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        returns += np.where(done, 0.0, rewards)
        done |= terminated | truncated
    envs.close()
    events = np.stack(melodies, axis=1)  # (episodes, length)
    distinct = len({m.tobytes() for m in events})
    # Mean Hamming distance over all pairs, column by column: sum over steps of the number of
    # unequal pairs, from the counts of each event at that step.
    pairs = episodes * (episodes - 1) / 2
    unequal = 0.0
    for column in events.T:
        counts = np.unique(column, return_counts=True)[1]
        unequal += pairs - (counts * (counts - 1) / 2).sum()
    return {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "distinct": distinct,
        "mean_pairwise_distance": float(unequal / pairs),
        "length": int(events.shape[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="rl-tuner")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=1000, help="sampled for evaluation")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch's intra-op threads; more than the free cores stalls (OpenMP spins)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line instead of text")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)

    env = VecMonitor(VecEnvAdapter.make(args.task, num_envs=args.num_envs))
    model = PPO("MlpPolicy", env, seed=args.seed, device="cpu", verbose=0)
    before = evaluate(model, args.task, args.episodes, seed=10_000)
    load_before = os.getloadavg()
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    wall = time.perf_counter() - start
    load_after = os.getloadavg()
    after = evaluate(model, args.task, args.episodes, seed=20_000)
    result = {
        "task": args.task,
        "num_envs": args.num_envs,
        "seed": args.seed,
        "steps": model.num_timesteps,
        "wall_s": wall,
        "steps_per_s": model.num_timesteps / wall,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "loadavg_1min_before_after": [load_before[0], load_after[0]],
        "before": before,
        "after": after,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"trained {result['steps']} steps in {wall:.1f} s ({result['steps_per_s']:.0f} steps/s, "
        f"{result['torch_threads']} torch threads, load {load_before[0]:.2f} -> {load_after[0]:.2f})"
    )
    for name, r in (("before", before), ("after", after)):
        print(
            f"return {name:6}: {r['mean_return']:6.1f} ± {r['std_return']:.1f} over "
            f"{args.episodes} sampled episodes; {r['distinct']} distinct melodies, mean "
            f"pairwise distance {r['mean_pairwise_distance']:.1f} of {r['length']} steps"
        )


if __name__ == "__main__":
    main()
