"""Stable-Baselines3 on the native vector env: the adapter's semantics, and PPO learning."""

import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3", reason="scripts/python-test.sh installs SB3")
torch = pytest.importorskip("torch")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import VecMonitor  # noqa: E402

import cadenza  # noqa: E402
from cadenza.sb3 import VecEnvAdapter  # noqa: E402


def test_adapter_resets_finished_sub_envs_in_the_same_step():
    n, seed = 3, 7
    adapter = VecEnvAdapter.make("rl-tuner", num_envs=n)
    reference = cadenza.make_vec("rl-tuner", num_envs=n)
    adapter.seed(seed)
    obs = adapter.reset()
    ref_obs, _ = reference.reset(seed=seed)
    np.testing.assert_array_equal(obs, ref_obs)
    rng = np.random.default_rng(0)
    length = 32
    for t in range(2 * length):
        actions = rng.integers(0, 38, size=n)
        obs, rewards, dones, infos = adapter.step(actions)
        ref_obs, ref_rewards, terminated, truncated, _ = reference.step(actions)
        np.testing.assert_array_equal(rewards, ref_rewards.astype(np.float32))
        np.testing.assert_array_equal(dones, terminated | truncated)
        assert rewards.dtype == np.float32 and dones.dtype == np.bool_
        if (t + 1) % length:
            assert not dones.any()
            np.testing.assert_array_equal(obs, ref_obs)
            assert infos == [{}] * n
            continue
        # Episode end: the terminal observation in infos, the next episode's first one returned.
        assert dones.all()
        for i in range(n):
            np.testing.assert_array_equal(infos[i]["terminal_observation"], ref_obs[i])
            assert infos[i]["TimeLimit.truncated"] is False
        ref_obs, _ = reference.reset(options={"reset_mask": dones})
        np.testing.assert_array_equal(obs, ref_obs)
    adapter.close()


def test_adapter_seeding_is_deterministic_and_per_sub_env():
    a, b = VecEnvAdapter.make(num_envs=4), VecEnvAdapter.make(num_envs=4)
    a.seed(3)
    b.seed(3)
    np.testing.assert_array_equal(a.reset(), b.reset())
    assert a.envs.rng_fingerprints() == b.envs.rng_fingerprints()
    assert len(set(a.envs.rng_fingerprints())) == 4


def test_adapter_serves_action_masks_and_attributes():
    config = 'key = "F major"\nlength = 16\nmask_out_of_scale = true\n'
    adapter = VecEnvAdapter.make("improv", num_envs=2, config=config)
    adapter.reset()
    masks = adapter.env_method("action_masks")
    assert len(masks) == 2 and masks[0].dtype == np.bool_ and not masks[0].all()
    actions = np.array([int(np.flatnonzero(m)[-1]) for m in masks])
    adapter.step(actions)
    assert adapter.env_method("action_masks", indices=[1])[0].shape == masks[1].shape
    assert adapter.get_attr("render_mode") == [None, None]
    assert adapter.env_is_wrapped(VecMonitor) == [False, False]
    with pytest.raises(AttributeError, match="action_masks"):
        adapter.env_method("render")
    with pytest.raises(ValueError, match="all at once"):
        adapter.set_attr("task", "improv", indices=[0])
    with pytest.raises(TypeError):
        VecEnvAdapter(cadenza.make("rl-tuner"))


def test_monitor_returns_match_the_reward_of_the_played_melodies():
    n = 4
    env = VecMonitor(VecEnvAdapter.make("rl-tuner", num_envs=n))
    env.seed(0)
    env.reset()
    rng = np.random.default_rng(1)
    played = np.zeros((n, 32), dtype=np.int64)
    for t in range(32):
        played[:, t] = rng.integers(0, 38, size=n)
        _, _, dones, infos = env.step(played[:, t])
    assert dones.all()
    returns = np.array([info["episode"]["r"] for info in infos])
    expected = cadenza.score(played, reward="rl-tuner").totals
    np.testing.assert_allclose(returns, expected, rtol=1e-5, atol=1e-4)


def sampled_return(model: PPO, episodes: int, seed: int) -> float:
    envs = cadenza.make_vec("rl-tuner", num_envs=episodes)
    obs, _ = envs.reset(seed=seed)
    total = np.zeros(episodes)
    for _ in range(32):
        actions, _ = model.predict(obs, deterministic=False)
        obs, rewards, _, _, _ = envs.step(actions.astype(np.int64))
        total += rewards
    return float(total.mean())


def test_ppo_learns_on_the_native_vector_env():
    # Twelve thousand steps of PPO lift the sampled return of RL Tuner's reward from an
    # untrained policy's (about -17, a uniform random player's) to about +20: over seeds 0-5
    # the gain ran from 34 to 45, so a margin of 20 holds with room. Sized for seconds on two
    # cores: 8 sub-envs x 128 steps per rollout, 4 epochs, a large step size.
    torch.set_num_threads(1)
    seed = 0
    env = VecEnvAdapter.make("rl-tuner", num_envs=8)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=128,
        batch_size=128,
        n_epochs=4,
        learning_rate=3e-3,
        seed=seed,
        device="cpu",
    )
    before = sampled_return(model, 256, seed=1000 + seed)
    model.learn(total_timesteps=8 * 128 * 12)
    after = sampled_return(model, 256, seed=2000 + seed)
    assert model.num_timesteps == 8 * 128 * 12
    assert after > before + 20, (before, after)
