"""Bad input from Python raises a clear exception, never crashes the interpreter."""

import numpy as np
import pytest

import cadenza


@pytest.fixture
def env():
    return cadenza.make("rl-tuner")


@pytest.fixture
def envs():
    return cadenza.make_vec("rl-tuner", num_envs=4)


def test_step_before_reset(env, envs):
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)
    with pytest.raises(RuntimeError, match="before reset"):
        envs.step(np.zeros(4, dtype=np.int64))
    with pytest.raises(RuntimeError, match="before reset"):
        cadenza._cadenza.Env("rl-tuner").step(0)


def test_step_after_the_episode_ended(env):
    env.reset(seed=0)
    for _ in range(32):
        env.step(14)
    with pytest.raises(RuntimeError, match="episode ended"):
        env.step(14)


@pytest.mark.parametrize("action", [-1, 38, 10**30, 2**63])
def test_out_of_range_action(env, action):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(action)


@pytest.mark.parametrize("action", [1.5, 2.0, "3", None, np.array([1, 2]), True])
def test_wrong_action_type(env, action):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_vector_out_of_range_actions_change_nothing(envs):
    obs, _ = envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[2\] = 38 is outside"):
        envs.step(np.array([14, 14, 38, 14]))
    with pytest.raises(ValueError, match=r"actions\[0\] = -5"):
        envs.step(np.array([-5, 14, 14, 14]))
    _, _, _, _, infos = envs.step(np.array([14, 14, 14, 14]))
    assert list(infos["step"]) == [1, 1, 1, 1]


@pytest.mark.parametrize(
    "actions",
    [
        np.zeros(3, dtype=np.int64),
        np.zeros((4, 1), dtype=np.int64),
        np.zeros(4, dtype=np.float32),
        np.array(["a", "b", "c", "d"]),
        [[1, 2], [3]],
        np.zeros(4, dtype=np.bool_),
        np.zeros(8, dtype=np.int64)[::2],  # non-contiguous int64 is accepted after a copy
    ],
    ids=["short", "2d", "float", "str", "ragged", "bool", "strided"],
)
def test_vector_wrong_actions(envs, actions):
    envs.reset(seed=0)
    if isinstance(actions, np.ndarray) and actions.dtype == np.int64 and actions.shape == (4,):
        envs.step(actions)
        return
    with pytest.raises(ValueError):
        envs.step(actions)


def test_native_vector_checks_buffers_too():
    native = cadenza._cadenza.VecEnv(2, "rl-tuner")
    good = dict(
        observations=np.zeros((2, 184), np.float32),
        rewards=np.zeros(2),
        terminated=np.zeros(2, bool),
        truncated=np.zeros(2, bool),
        masks=np.zeros((2, 38), bool),
        terms=np.zeros((2, 9)),
        steps=np.zeros(2, np.int64),
    )
    native.reset(**good)
    with pytest.raises(ValueError, match="observations"):
        native.reset(**{**good, "observations": np.zeros((2, 183), np.float32)})
    with pytest.raises(TypeError):
        native.reset(**{**good, "rewards": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="actions"):
        native.step(np.zeros(3, np.int64), *good.values())


def test_masked_action_is_refused():
    env = cadenza.make("improv", config={"mask_out_of_scale": True})
    _, info = env.reset(seed=0)
    masked = int(np.flatnonzero(~info["action_mask"])[0])
    with pytest.raises(ValueError, match="masked"):
        env.step(masked)
    envs = cadenza.make_vec("improv", num_envs=2, config={"mask_out_of_scale": True})
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="sub-env 1.*masked"):
        envs.step(np.array([1, masked]))


def test_bad_tasks_configs_and_rewards():
    with pytest.raises(ValueError, match="unknown task 'rl-tunr'"):
        cadenza.make("rl-tunr")
    with pytest.raises(ValueError, match="length"):
        cadenza.make("improv", config={"length": 0})
    with pytest.raises(ValueError, match="lenght"):
        cadenza.make("improv", config={"lenght": 8})
    with pytest.raises(ValueError, match="takes no configuration"):
        cadenza.make("rl-tuner", config={"length": 8})
    with pytest.raises(ValueError, match="unknown reward preset"):
        cadenza.make("rl-tuner", reward="nope")
    with pytest.raises(OSError):
        cadenza.make("rl-tuner", reward="/nonexistent/reward.toml")
    with pytest.raises(ValueError, match="config"):
        cadenza.make("improv", config=42)
    with pytest.raises(ValueError):
        cadenza.make_vec("rl-tuner", num_envs=0)


def test_bad_seeds_and_options(env, envs):
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=-1)
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=1.5)
    with pytest.raises(ValueError, match="seeds given"):
        envs.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": np.array([1, 0, 1, 0])})
    with pytest.raises(ValueError, match="unknown keys"):
        envs.reset(options={"reset_maks": None})


def test_bad_melodies_and_midi(tmp_path):
    with pytest.raises(ValueError, match="outside the encoding"):
        cadenza.score(np.array([[14, 99]]))
    with pytest.raises(ValueError, match="integer"):
        cadenza.score(np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="different lengths"):
        cadenza.score([[1, 2], [3]])
    with pytest.raises(ValueError, match="steps per episode"):
        cadenza.score(np.full((1, 33), 14))
    with pytest.raises(ValueError):
        cadenza.to_midi([14, -1], tmp_path / "x.mid")
    with pytest.raises(OSError):
        cadenza.from_midi(tmp_path / "missing.mid")
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    with pytest.raises(ValueError, match="MIDI"):
        cadenza.from_midi(bad)
    with pytest.raises(OSError):
        cadenza.to_midi([14], tmp_path / "no" / "such" / "dir" / "x.mid")
