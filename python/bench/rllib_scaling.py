"""Ray RLlib env steps per second against the number of env runners (Cadenza, PPO).

For each runner count: an RLlib PPO algorithm whose remote env runners each hold one native
vector env of ``--envs-per-runner`` sub-envs (see python/examples/rllib_ppo.py), then

- ``sample``: every runner samples ``--sample-steps`` env steps with the policy (exploration
  on), all runners at once, only the step counts sent back: the throughput of the runners;
- ``train``: ``--iterations`` PPO iterations (sampling by the runners, then the update in the
  driver's learner): the end-to-end throughput.

Each figure follows one warm-up round. Prints one JSON line per runner count, with the CPUs
Ray sees and the load average. On a machine with fewer cores than runners + 1, the runners
and the learner share cores and the figures say so.

    bash scripts/rllib-bench.sh                                   # runners 1 and 2
    bash scripts/rllib-bench.sh python/bench/rllib_scaling.py --env-runners 1 2 4 --num-cpus 4
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import ray
import torch
from ray.rllib.algorithms.ppo import PPOConfig

import cadenza.rllib


def build(env_runners: int, envs_per_runner: int, train_batch: int, seed: int):
    config = (
        PPOConfig()
        .environment(cadenza.rllib.ENV_NAME, env_config={"task": "rl-tuner"})
        .env_runners(
            num_env_runners=env_runners,
            num_envs_per_env_runner=envs_per_runner,
            gym_env_vectorize_mode="vector_entry_point",
            rollout_fragment_length="auto",
        )
        .training(train_batch_size_per_learner=train_batch, minibatch_size=256, num_epochs=5)
        .debugging(seed=seed)
    )
    return config.build_algo()


def sample_rate(algo, steps: int, rounds: int) -> dict[str, Any]:
    def sample(runner) -> int:
        episodes = runner.sample(num_timesteps=steps, explore=True)
        return sum(len(e) for e in episodes)

    group = algo.env_runner_group
    group.foreach_env_runner(sample, local_env_runner=False)  # warm-up
    total = 0
    start = time.perf_counter()
    for _ in range(rounds):
        total += sum(group.foreach_env_runner(sample, local_env_runner=False))
    wall = time.perf_counter() - start
    return {"env_steps": total, "wall_s": wall, "env_steps_per_s": total / wall}


def train_rate(algo, iterations: int) -> dict[str, Any]:
    key = "num_env_steps_sampled_lifetime"
    first = algo.train()  # warm-up
    start = time.perf_counter()
    result = first
    for _ in range(iterations):
        result = algo.train()
    wall = time.perf_counter() - start
    steps = result["env_runners"][key] - first["env_runners"][key]
    return {
        "iterations": iterations,
        "env_steps": int(steps),
        "wall_s": wall,
        "env_steps_per_s": steps / wall,
        "episode_return_mean": result["env_runners"].get("episode_return_mean"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-runners", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--envs-per-runner", type=int, default=8)
    parser.add_argument("--sample-steps", type=int, default=4096, help="per runner and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--train-batch", type=int, default=4096)
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs the local Ray cluster offers")
    parser.add_argument("--address", default=None, help="an existing Ray cluster, or 'auto'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads of the learner in this process (more than free cores stall)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)

    ray.init(address=args.address, num_cpus=args.num_cpus)
    cadenza.rllib.register()
    for n in args.env_runners:
        load = os.getloadavg()[0]
        algo = build(n, args.envs_per_runner, args.train_batch, args.seed)
        runner_threads = algo.env_runner_group.foreach_env_runner(
            lambda runner: torch.get_num_threads(), local_env_runner=False
        )
        sampled = sample_rate(algo, args.sample_steps, args.rounds)
        trained = train_rate(algo, args.iterations)
        algo.stop()
        print(
            json.dumps(
                {
                    "env_runners": n,
                    "envs_per_runner": args.envs_per_runner,
                    "cluster_cpus": ray.cluster_resources().get("CPU"),
                    "machine_cpus": os.cpu_count(),
                    "loadavg_1min_before_after": [load, os.getloadavg()[0]],
                    "torch_threads": {"learner": torch.get_num_threads(), "runners": runner_threads},
                    "sample": sampled,
                    "train": trained,
                }
            ),
            flush=True,
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
