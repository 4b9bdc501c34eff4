"""Registers Cadenza's tasks with Gymnasium (done by ``import cadenza``)."""

from __future__ import annotations

import gymnasium as gym

#: Gymnasium ids and the task each runs.
ENV_IDS = {
    "cadenza/RLTuner-v0": "rl-tuner",
    "cadenza/Improv-v0": "improv",
    "cadenza/Duet-v0": "duet",
}


def register_envs() -> None:
    """Registers every task under ``cadenza/``, with the native vector env as its vector
    entry point (``gymnasium.make_vec(id, num_envs=...)``)."""
    for env_id, task in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="cadenza.env:CadenzaEnv",
            vector_entry_point="cadenza.vector:CadenzaVectorEnv",
            kwargs={"task": task},
            disable_env_checker=False,
        )
