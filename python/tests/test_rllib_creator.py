"""``cadenza.rllib.env_creator``: what RLlib's env runners get (needs no Ray)."""

import pytest

import cadenza
from cadenza.rllib import env_creator


def test_creator_gives_a_native_vector_env_when_asked_for_num_envs():
    envs = env_creator({"task": "rl-tuner", "num_envs": 4})
    assert isinstance(envs, cadenza.CadenzaVectorEnv) and envs.num_envs == 4
    obs, infos = envs.reset(seed=0)
    assert obs.shape == (4, 184) and infos["action_mask"].shape == (4, 38)
    env = env_creator({"task": "improv", "config": {"key": "F major", "length": 16}})
    assert isinstance(env, cadenza.CadenzaEnv)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_creator_accepts_env_context_like_mappings_and_refuses_unknown_keys():
    class EnvContext(dict):  # RLlib's EnvContext is a dict subclass
        worker_index = 1

    assert env_creator(EnvContext(num_envs=2)).num_envs == 2
    with pytest.raises(ValueError, match="unknown keys"):
        env_creator({"tsak": "rl-tuner"})
    default = env_creator({})
    assert isinstance(default, cadenza.CadenzaEnv) and default.action_space.n == 38
