"""Scoring and MIDI from Python."""

import numpy as np
import pytest

import cadenza


def play(task, config, melody):
    env = cadenza.make(task, config=config)
    env.reset(seed=0)
    rewards, terms = [], []
    for event in melody:
        _, reward, _, _, info = env.step(int(event))
        rewards.append(reward)
        terms.append([info[n] for n in env.term_names])
    return np.array(rewards), np.array(terms), env.term_names


@pytest.mark.parametrize("task,config", [("rl-tuner", None), ("improv", {"length": 32})])
def test_score_matches_the_env(task, config):
    rng = np.random.default_rng(1)
    num_actions = cadenza.make(task, config=config).action_space.n
    melodies = rng.integers(0, num_actions, size=(3, 32))
    scores = cadenza.score(melodies, task=task, config=config)
    assert scores.rewards.shape == (3, 32)
    assert scores.terms.shape == (3, 32, len(scores.term_names))
    for m, melody in enumerate(melodies):
        rewards, terms, names = play(task, config, melody)
        np.testing.assert_array_equal(scores.rewards[m], rewards)
        np.testing.assert_array_equal(scores.terms[m], terms)
        assert scores.term_names == names
    np.testing.assert_allclose(scores.totals, scores.rewards.sum(axis=1))


def test_score_one_melody_and_named_terms():
    scores = cadenza.score([14, 1, 16, 1, 18], reward="rl-tuner")
    assert scores.rewards.shape == (5,)
    assert scores.term("tonic").shape == (5,)
    with pytest.raises(KeyError):
        scores.term("nope")


def test_midi_round_trip(tmp_path):
    melody = np.array([14, 1, 1, 16, 0, 18, 1, 21, 0, 1, 14, 1])
    path = tmp_path / "melody.mid"
    cadenza.to_midi(melody, path, title="test", tempo=90)
    assert path.read_bytes()[:4] == b"MThd"
    back = cadenza.from_midi(path)
    np.testing.assert_array_equal(back, melody)


def test_midi_round_trip_with_chords(tmp_path):
    config = {"key": "F major", "length": 16}
    env = cadenza.make("improv", config=config)
    env.reset(seed=0)
    for _ in range(16):
        env.step(14)
    path = tmp_path / "improv.mid"
    cadenza.to_midi(env.melody, path, task="improv", config=config)
    back = cadenza.from_midi(path, task="improv", config=config, track=1)
    np.testing.assert_array_equal(back, env.melody)
