"""Stable-Baselines3's vector-env interface for Cadenza's native vector env.

SB3 trains on its own ``VecEnv`` interface, not Gymnasium's: ``step`` returns
``(obs, rewards, dones, infos)`` with one info dict per sub-env, and a sub-env whose episode
ends is reset *in the same step* (its last observation goes to
``infos[i]["terminal_observation"]``, the returned one already starts the next episode).
:class:`VecEnvAdapter` gives :class:`cadenza.CadenzaVectorEnv` that interface: every step is
still one native call for all sub-envs, and the finished ones are reset with a second one
through ``reset_mask``. No Python object is made per sub-env except the info dicts SB3 asks
for::

    from stable_baselines3 import PPO
    from cadenza.sb3 import VecEnvAdapter

    env = VecEnvAdapter.make("rl-tuner", num_envs=8)
    model = PPO("MlpPolicy", env, seed=0).learn(200_000)

Needs ``stable-baselines3`` (``pip install "cadenza[sb3]"``); the rest of the package does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from ._config import ConfigLike
from .vector import CadenzaVectorEnv

__all__ = ["VecEnvAdapter"]


class VecEnvAdapter(VecEnv):
    """A :class:`cadenza.CadenzaVectorEnv` behind SB3's ``VecEnv`` interface.

    Seeding follows SB3: ``seed(s)`` makes the next ``reset`` seed sub-env ``i`` with
    ``s + i`` (as the native env does for ``reset(seed=s)``). ``env_method("action_masks")``
    returns the current action mask of every sub-env, which is what sb3-contrib's
    ``MaskablePPO`` asks for on tasks that mask actions.

    Args:
        envs: the native vector env; the adapter owns it from then on (``close`` closes it).
    """

    def __init__(self, envs: CadenzaVectorEnv) -> None:
        if not isinstance(envs, CadenzaVectorEnv):
            raise TypeError(f"envs must be a cadenza.CadenzaVectorEnv, got {type(envs).__name__}")
        self.envs = envs
        self._actions = np.zeros(envs.num_envs, dtype=np.int64)
        self._masks = np.ones((envs.num_envs, envs.single_action_space.n), dtype=np.bool_)
        super().__init__(envs.num_envs, envs.single_observation_space, envs.single_action_space)

    @classmethod
    def make(
        cls,
        task: str = "rl-tuner",
        num_envs: int = 8,
        config: ConfigLike = None,
        reward: Any = None,
    ) -> VecEnvAdapter:
        """``num_envs`` native sub-envs of ``task`` behind SB3's interface."""
        return cls(CadenzaVectorEnv(num_envs, task=task, config=config, reward=reward))

    def reset(self) -> np.ndarray:
        seeds: Optional[list] = None
        if any(s is not None for s in self._seeds):
            seeds = list(self._seeds)
        obs, infos = self.envs.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        self._masks = np.array(infos["action_mask"], dtype=np.bool_, copy=True)
        return np.array(obs, copy=True)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs).astype(np.int64, copy=False)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, terminated, truncated, infos = self.envs.step(self._actions)
        obs = np.array(obs, copy=True)
        dones = terminated | truncated
        rewards = rewards.astype(np.float32)
        masks = infos["action_mask"]
        step_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            finished = np.flatnonzero(dones)
            for i in finished:
                step_infos[i]["terminal_observation"] = obs[i].copy()
                step_infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            # Same-step autoreset: one native call resets just the finished sub-envs.
            reset_obs, reset_infos = self.envs.reset(options={"reset_mask": dones})
            obs[finished] = reset_obs[finished]
            masks = reset_infos["action_mask"]
        self._masks = np.array(masks, dtype=np.bool_, copy=True)
        return obs, rewards, dones, step_infos

    def close(self) -> None:
        self.envs.close()

    def _indices(self, indices: Any) -> list[int]:
        return list(self._get_indices(indices))

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        # The sub-envs share one configuration, held by the vector env.
        return [getattr(self.envs, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        if len(set(self._indices(indices))) != self.num_envs:
            raise ValueError("the native sub-envs share their attributes: set them on all at once")
        setattr(self.envs, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        if method_name == "action_masks" and not method_args and not method_kwargs:
            return [self._masks[i].copy() for i in self._indices(indices)]
        raise AttributeError(
            f"the native vector env has no per-sub-env method {method_name!r}; "
            "only 'action_masks' is served"
        )

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def get_images(self) -> Sequence[Optional[np.ndarray]]:
        return [None] * self.num_envs
