"""The native vector env agrees, step for step, with N single envs under the same seeds."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import cadenza


def sample_masked(rng, mask):
    return int(rng.choice(np.flatnonzero(mask)))


@pytest.mark.parametrize("copy", [True, False])
def test_vector_env_agrees_with_single_envs(task, copy):
    name, config = task
    n, seed = 5, 42
    envs = cadenza.make_vec(name, num_envs=n, config=config, copy=copy)
    singles = [cadenza.make(name, config=config) for _ in range(n)]
    obs, infos = envs.reset(seed=seed)
    done = [False] * n
    for i, env in enumerate(singles):
        o, info = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs[i], o)
        np.testing.assert_array_equal(infos["action_mask"][i], info["action_mask"])
    rng = np.random.default_rng(0)
    masks = infos["action_mask"].copy()
    length = singles[0]._env.length
    episodes_ended = 0
    for _ in range(2 * length + 7):
        actions = np.array([sample_masked(rng, m) for m in masks], dtype=np.int64)
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        for i, env in enumerate(singles):
            if done[i]:
                o, info = env.reset()
                r, te, tr = 0.0, False, False
            else:
                o, r, te, tr, info = env.step(actions[i])
            done[i] = te or tr
            episodes_ended += te
            np.testing.assert_array_equal(obs[i], o)
            assert rewards[i] == r
            assert terminated[i] == te and truncated[i] == tr
            np.testing.assert_array_equal(infos["action_mask"][i], info["action_mask"])
            assert infos["step"][i] == info["step"]
            for term in env.term_names:
                assert infos[term][i] == info[term], term
        masks = infos["action_mask"].copy()
    assert episodes_ended >= n  # autoreset was exercised


def test_metadata_and_spaces():
    envs = cadenza.make_vec("rl-tuner", num_envs=3)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.observation_space.shape == (3, 184)
    assert envs.action_space.shape == (3,)
    obs, _ = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    assert envs.action_space.contains(envs.action_space.sample())


def test_make_vec_uses_the_native_vector_env():
    envs = gym.make_vec("cadenza/RLTuner-v0", num_envs=4)
    assert isinstance(envs.unwrapped, cadenza.CadenzaVectorEnv)
    envs = gym.make_vec("cadenza/Improv-v0", num_envs=2, config={"length": 8})
    obs, _ = envs.reset(seed=0)
    assert obs.shape[0] == 2


def test_sub_env_i_is_seeded_with_seed_plus_i():
    envs = cadenza.make_vec("improv", num_envs=3)
    envs.reset(seed=100)
    expected = []
    for i in range(3):
        env = cadenza.make("improv")
        env.reset(seed=100 + i)
        expected.append(env._env.rng_fingerprint())
    assert envs.rng_fingerprints() == expected
    envs.reset(seed=[7, None, 9])
    assert envs.rng_fingerprints()[1] != envs.rng_fingerprints()[0]


def test_reset_mask_resets_only_the_chosen_sub_envs():
    envs = cadenza.make_vec("rl-tuner", num_envs=3)
    first, _ = envs.reset(seed=0)
    for _ in range(5):
        obs, _, _, _, infos = envs.step(np.array([14, 16, 18]))
    before = obs.copy()
    obs, infos = envs.reset(options={"reset_mask": np.array([False, True, False])})
    np.testing.assert_array_equal(obs[0], before[0])
    np.testing.assert_array_equal(obs[2], before[2])
    np.testing.assert_array_equal(obs[1], first[1])
    assert list(infos["step"]) == [5, 0, 5]


def test_autoreset_ignores_the_action_and_reports_zero():
    envs = cadenza.make_vec("improv", num_envs=2, config={"length": 4})
    envs.reset(seed=0)
    for _ in range(4):
        _, _, terminated, _, _ = envs.step(np.array([1, 1]))
    assert terminated.all()
    # An out-of-range action is ignored on the autoreset step.
    obs, rewards, terminated, truncated, infos = envs.step(np.array([10_000, 10_000]))
    assert (rewards == 0).all() and not terminated.any() and not truncated.any()
    assert list(infos["step"]) == [0, 0]


def test_copy_true_returns_fresh_arrays():
    envs = cadenza.make_vec("rl-tuner", num_envs=2)
    obs0, info0 = envs.reset(seed=0)
    obs1, r1, _, _, info1 = envs.step(np.array([14, 14]))
    obs2, r2, _, _, info2 = envs.step(np.array([16, 16]))
    assert not np.shares_memory(obs1, obs2)
    assert not np.shares_memory(r1, r2)
    assert not np.shares_memory(info1["action_mask"], info2["action_mask"])
    assert not np.shares_memory(obs0, obs1)


def test_step_accepts_other_integer_dtypes_and_lists():
    envs = cadenza.make_vec("rl-tuner", num_envs=2)
    envs.reset(seed=0)
    envs.step([14, 15])
    envs.step(np.array([14, 15], dtype=np.int32))
    envs.step(np.array([14, 15], dtype=np.uint8))
