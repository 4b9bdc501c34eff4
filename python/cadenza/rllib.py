"""Ray RLlib's env creator for Cadenza's environments.

RLlib builds environments from a creator function registered under a name, called with an
``env_config`` dict in every env runner (a Ray actor, on whichever node of the cluster it
lands). With ``gym_env_vectorize_mode="vector_entry_point"`` RLlib adds ``num_envs`` to that
dict and expects a ``gymnasium.vector.VectorEnv`` back: :func:`env_creator` then returns the
native :class:`cadenza.CadenzaVectorEnv`, whose next-step autoreset is what RLlib's env
runners expect, so a runner steps all its sub-envs in one native call::

    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    import cadenza.rllib

    ray.init()
    cadenza.rllib.register()                       # as "cadenza"
    config = (
        PPOConfig()
        .environment("cadenza", env_config={"task": "rl-tuner"})
        .env_runners(num_env_runners=2, num_envs_per_env_runner=8,
                     gym_env_vectorize_mode="vector_entry_point")
    )
    algo = config.build_algo()
    algo.train()

``env_config`` keys: ``task`` (default ``"rl-tuner"``), ``config`` and ``reward`` (as for
:func:`cadenza.make`), ``num_envs`` (set by RLlib). Needs ``ray[rllib]`` only for
:func:`register`; the rest of the package does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from .env import CadenzaEnv
from .vector import CadenzaVectorEnv

__all__ = ["ENV_NAME", "env_creator", "register"]

#: The name :func:`register` uses by default.
ENV_NAME = "cadenza"

_KEYS = {"task", "config", "reward", "num_envs"}


def env_creator(env_config: Mapping[str, Any]) -> Union[CadenzaEnv, CadenzaVectorEnv]:
    """A single env, or ``env_config["num_envs"]`` native sub-envs when RLlib asks for them."""
    # RLlib passes an EnvContext (a dict subclass with worker attributes); read it as a mapping.
    unknown = set(env_config) - _KEYS
    if unknown:
        raise ValueError(
            f"env_config: unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}"
        )
    task = env_config.get("task", "rl-tuner")
    config = env_config.get("config")
    reward = env_config.get("reward")
    if "num_envs" in env_config:
        return CadenzaVectorEnv(int(env_config["num_envs"]), task=task, config=config, reward=reward)
    return CadenzaEnv(task, config=config, reward=reward)


def register(name: str = ENV_NAME) -> None:
    """Registers :func:`env_creator` with Ray under ``name`` (call after ``ray.init()``)."""
    from ray.tune.registry import register_env

    register_env(name, env_creator)
