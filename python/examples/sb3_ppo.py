"""Stable-Baselines3 PPO on Cadenza's native vector env (rl-tuner task).

SB3 keeps its own vector-env interface, with same-step autoreset (a finished sub-env's
final observation goes into ``info["terminal_observation"]`` and the returned observation
already starts the next episode). ``SB3Adapter`` below gives the native Gymnasium vector env
that interface by resetting finished sub-envs at once through ``reset_mask``.

Needs ``pip install stable-baselines3`` (pulls in torch). Not run by CI.

    python python/examples/sb3_ppo.py --steps 200000 --num-envs 8
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Optional, Sequence

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

import cadenza


class SB3Adapter(VecEnv):
    """A :class:`cadenza.CadenzaVectorEnv` behind SB3's ``VecEnv`` interface."""

    def __init__(self, envs: cadenza.CadenzaVectorEnv) -> None:
        self.envs = envs
        super().__init__(envs.num_envs, envs.single_observation_space, envs.single_action_space)
        self._actions = np.zeros(envs.num_envs, dtype=np.int64)

    def reset(self) -> np.ndarray:
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        obs, _ = self.envs.reset(seed=seeds)
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)

    def step_wait(self):
        obs, rewards, terminated, truncated, _ = self.envs.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            obs, _ = self.envs.reset(options={"reset_mask": dones})
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.envs.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.envs, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.envs, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        raise NotImplementedError("the native vector env has no per-sub-env methods")

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def get_images(self) -> Sequence[Optional[np.ndarray]]:
        return [None] * self.num_envs


def evaluate(model: PPO, episodes: int, seed: int) -> dict[str, float]:
    """Sampled (not greedy) episodes: mean return and how many distinct melodies."""
    envs = cadenza.make_vec("rl-tuner", num_envs=episodes)
    obs, _ = envs.reset(seed=seed)
    returns = np.zeros(episodes)
    melodies = np.zeros((episodes, 32), dtype=np.int64)
    for step in range(32):
        actions, _ = model.predict(obs, deterministic=False)
        melodies[:, step] = actions
        obs, rewards, _, _, _ = envs.step(actions.astype(np.int64))
        returns += rewards
    distinct = len({m.tobytes() for m in melodies})
    return {"mean_return": returns.mean(), "std_return": returns.std(), "distinct": distinct}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    env = VecMonitor(SB3Adapter(cadenza.make_vec("rl-tuner", num_envs=args.num_envs)))
    env.seed(args.seed)
    model = PPO("MlpPolicy", env, seed=args.seed, verbose=0)
    before = evaluate(model, 1000, seed=10_000)
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    wall = time.perf_counter() - start
    after = evaluate(model, 1000, seed=20_000)
    print(f"trained {model.num_timesteps} steps in {wall:.1f} s ({model.num_timesteps / wall:.0f} steps/s)")
    print(f"return before: {before['mean_return']:.1f} ± {before['std_return']:.1f}")
    print(
        f"return after:  {after['mean_return']:.1f} ± {after['std_return']:.1f} "
        f"({after['distinct']} distinct melodies of 1000)"
    )


if __name__ == "__main__":
    main()
