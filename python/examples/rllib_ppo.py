"""Ray RLlib PPO on a Cadenza task with several env runners, and their throughput.

Each env runner is a Ray actor holding a native Cadenza vector env; ``ray.init()`` starts a
local cluster on this machine, and the same script runs unchanged on a multi-node cluster
(``ray.init(address="auto")`` on a node of it).

Needs ``pip install "ray[rllib]" torch``. Not run by CI.

    python python/examples/rllib_ppo.py --env-runners 1 2 --iterations 5
"""

from __future__ import annotations

import argparse
import json
import time

import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.tune.registry import register_env


def make_env(env_config: dict):
    import cadenza  # imported inside the worker process

    return cadenza.make(env_config.get("task", "rl-tuner"), config=env_config.get("config"))


def run(env_runners: int, iterations: int, envs_per_runner: int) -> dict:
    config = (
        PPOConfig()
        .environment("cadenza", env_config={"task": "rl-tuner"})
        .env_runners(num_env_runners=env_runners, num_envs_per_env_runner=envs_per_runner)
        .training(train_batch_size_per_learner=4000, minibatch_size=256, num_epochs=5)
    )
    algo = config.build_algo()
    start = time.perf_counter()
    result = {}
    for _ in range(iterations):
        result = algo.train()
    wall = time.perf_counter() - start
    steps = result["env_runners"]["num_env_steps_sampled_lifetime"]
    algo.stop()
    return {
        "env_runners": env_runners,
        "env_steps": steps,
        "wall_s": wall,
        "env_steps_per_s": steps / wall,
        "episode_return_mean": result["env_runners"].get("episode_return_mean"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-runners", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--envs-per-runner", type=int, default=8)
    args = parser.parse_args()
    ray.init()
    register_env("cadenza", make_env)
    for n in args.env_runners:
        print(json.dumps(run(n, args.iterations, args.envs_per_runner)))
    ray.shutdown()


if __name__ == "__main__":
    main()
