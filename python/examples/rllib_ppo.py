"""Ray RLlib PPO on a Cadenza task, sampled by several env runners on a Ray cluster.

Each env runner is a Ray actor that holds one native Cadenza vector env
(``gym_env_vectorize_mode="vector_entry_point"``: RLlib asks :func:`cadenza.rllib.env_creator`
for a ``gymnasium.vector.VectorEnv`` and gets :class:`cadenza.CadenzaVectorEnv`, whose
next-step autoreset RLlib's env runners expect). The learner runs in the driver. ``ray.init()`` starts
a local cluster on this machine; on a multi-node cluster the same script runs unchanged from
any node (``--address auto``), with the runners spread over the nodes, each of which needs the
``cadenza`` wheel installed.

Needs ``ray[rllib]`` and torch (``bash scripts/rllib-bench.sh --setup-only`` installs both
into ``.venv-ray/``)::

    .venv-ray/bin/python python/examples/rllib_ppo.py --env-runners 2 --iterations 10
    .venv-ray/bin/python python/examples/rllib_ppo.py --address auto --env-runners 32
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, Optional

import ray
import torch
from ray.rllib.algorithms.ppo import PPO, PPOConfig

import cadenza.rllib


def ppo_config(
    env_runners: int,
    envs_per_runner: int = 8,
    task: str = "rl-tuner",
    train_batch: int = 4096,
    seed: Optional[int] = 0,
) -> PPOConfig:
    """PPO with ``env_runners`` remote env runners of ``envs_per_runner`` native sub-envs."""
    return (
        PPOConfig()
        .environment(cadenza.rllib.ENV_NAME, env_config={"task": task})
        .env_runners(
            num_env_runners=env_runners,
            num_envs_per_env_runner=envs_per_runner,
            gym_env_vectorize_mode="vector_entry_point",
            # Whole episodes of 32 steps per fragment; the batch is split over the runners.
            rollout_fragment_length="auto",
        )
        .training(
            train_batch_size_per_learner=train_batch,
            minibatch_size=256,
            num_epochs=5,
            lr=3e-4,
        )
        .debugging(seed=seed)
    )


def train(algo: PPO, iterations: int) -> dict[str, Any]:
    """``iterations`` of sampling and learning; env steps per second over them."""
    first = algo.train()  # the first iteration also warms up the runners
    steps0 = first["env_runners"]["num_env_steps_sampled_lifetime"]
    start = time.perf_counter()
    result = first
    for _ in range(iterations):
        result = algo.train()
    wall = time.perf_counter() - start
    steps = result["env_runners"]["num_env_steps_sampled_lifetime"] - steps0
    return {
        "iterations": iterations,
        "env_steps": int(steps),
        "wall_s": wall,
        "env_steps_per_s": steps / wall,
        "episode_return_mean": result["env_runners"].get("episode_return_mean"),
        "first_episode_return_mean": first["env_runners"].get("episode_return_mean"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=None, help="a Ray cluster's address, or 'auto'")
    parser.add_argument("--task", default="rl-tuner")
    parser.add_argument("--env-runners", type=int, default=2)
    parser.add_argument("--envs-per-runner", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads of the learner in this process (more than free cores stall)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)

    ray.init(address=args.address)
    cadenza.rllib.register()
    algo = ppo_config(args.env_runners, args.envs_per_runner, args.task).build_algo()
    load_before = os.getloadavg()[0]
    result = train(algo, args.iterations)
    algo.stop()
    result.update(
        env_runners=args.env_runners,
        envs_per_runner=args.envs_per_runner,
        cluster_cpus=ray.cluster_resources().get("CPU"),
        loadavg_1min_before_after=[load_before, os.getloadavg()[0]],
    )
    print(json.dumps(result))
    ray.shutdown()


if __name__ == "__main__":
    main()
