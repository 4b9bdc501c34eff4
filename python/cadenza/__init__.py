"""Cadenza: reinforcement-learning agents that compose melodies, in Gymnasium.

The environments, rewards and MIDI code are Rust (the ``cadenza._cadenza`` extension);
this package gives them Gymnasium's interfaces::

    import cadenza, gymnasium as gym

    env = cadenza.make("rl-tuner")                  # or gym.make("cadenza/RLTuner-v0")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(14)  # C4
    info["action_mask"], info["notes_not_in_key"]

    envs = cadenza.make_vec("rl-tuner", num_envs=64)  # stepped natively, GIL released
    obs, infos = envs.reset(seed=0)

    scores = cadenza.score(melodies, reward="rl-tuner")  # per-step rewards and terms
    cadenza.to_midi(melody, "melody.mid")
    melody = cadenza.from_midi("melody.mid")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from . import _cadenza
from ._config import ConfigLike, reward_spec, to_toml
from .env import CadenzaEnv, event_name
from .registration import ENV_IDS, register_envs
from .vector import CadenzaVectorEnv

__version__: str = _cadenza.__version__

#: Names of the built-in tasks.
TASK_NAMES: tuple[str, ...] = tuple(_cadenza.task_names())

__all__ = [
    "CadenzaEnv",
    "CadenzaVectorEnv",
    "ENV_IDS",
    "Scores",
    "TASK_NAMES",
    "duet_to_midi",
    "event_name",
    "from_midi",
    "make",
    "make_vec",
    "score",
    "to_midi",
    "write_song",
]


def make(
    task: str = "rl-tuner",
    config: ConfigLike = None,
    reward: Any = None,
    render_mode: Optional[str] = None,
) -> CadenzaEnv:
    """A composition environment for ``task`` (see :class:`CadenzaEnv`)."""
    return CadenzaEnv(task, config=config, reward=reward, render_mode=render_mode)


def make_vec(
    task: str = "rl-tuner",
    num_envs: int = 1,
    config: ConfigLike = None,
    reward: Any = None,
    copy: bool = True,
) -> CadenzaVectorEnv:
    """``num_envs`` environments stepped natively (see :class:`CadenzaVectorEnv`)."""
    return CadenzaVectorEnv(num_envs, task=task, config=config, reward=reward, copy=copy)


@dataclass(frozen=True)
class Scores:
    """Per-step rewards of melodies, as :func:`score` returns them."""

    #: Total reward per step, ``(m, length)``.
    rewards: np.ndarray
    #: Value of every term per step, ``(m, length, len(term_names))``.
    terms: np.ndarray
    #: Names of the terms, in the order of the last axis of ``terms``.
    term_names: tuple[str, ...]

    @property
    def totals(self) -> np.ndarray:
        """The return of each melody, ``(m,)``."""
        return self.rewards.sum(axis=-1)

    def term(self, name: str) -> np.ndarray:
        """The values of one term, ``(m, length)``."""
        try:
            j = self.term_names.index(name)
        except ValueError:
            raise KeyError(f"no term {name!r}; terms: {', '.join(self.term_names)}") from None
        return self.terms[..., j]


def _events(events: Any, what: str, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(events)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{what}: {e}") from None
    if array.dtype == object:
        raise ValueError(f"{what}: melodies of different lengths; pad or score them apart")
    if array.size == 0 and array.dtype.kind == "f":
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise ValueError(f"{what} must hold integer events, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise ValueError(f"{what} must have {ndim} dimension(s), got shape {array.shape}")
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{what}: event too large")
    return np.ascontiguousarray(array, dtype=np.int64)


def score(
    melodies: Any,
    reward: Any = None,
    task: str = "rl-tuner",
    config: ConfigLike = None,
) -> Scores:
    """Scores melodies step by step, each from a fresh episode.

    ``melodies``: one melody (a 1-D sequence of events) or several of equal length (2-D).
    ``reward``: a preset name or a ``.toml`` path (default: the task's reward). With a 1-D
    input the batch axis is dropped from the result.
    """
    try:
        array = np.asarray(melodies)
    except ValueError:
        raise ValueError(
            "melodies: melodies of different lengths; pad or score them apart"
        ) from None
    single = array.ndim == 1
    batch = _events(array[None, :] if single else array, "melodies", 2)
    rewards, terms, names = _cadenza.score(batch, reward_spec(reward), task, to_toml(config))
    if single:
        rewards, terms = rewards[0], terms[0]
    return Scores(rewards=rewards, terms=terms, term_names=tuple(names))


def to_midi(
    events: Any,
    path: Union[str, os.PathLike],
    task: str = "rl-tuner",
    config: ConfigLike = None,
    title: Optional[str] = None,
    tempo: Optional[float] = None,
    program: Optional[int] = None,
    chords: bool = True,
) -> None:
    """Writes a melody (events of ``task``) as a Standard MIDI File, with the task's tempo,
    meter and key, and its backing chords when it has some and ``chords`` is true."""
    if program is not None and not 0 <= int(program) <= 127:
        raise ValueError(f"program must lie in 0..=127, got {program}")
    _cadenza.to_midi(
        _events(events, "events", 1),
        os.fspath(path),
        task,
        to_toml(config),
        title,
        None if tempo is None else float(tempo),
        None if program is None else int(program),
        bool(chords),
    )


def duet_to_midi(
    phrases: Any,
    path: Union[str, os.PathLike],
    config: ConfigLike = None,
) -> None:
    """Writes a duet's exchange as one Standard MIDI File: ``phrases`` is a sequence of
    ``(events, is_call, player)``, each phrase played over the backing chords of the call's
    bars (``is_call``) or the answer's, one after another."""
    parts = []
    for k, phrase in enumerate(phrases):
        try:
            events, is_call, player = phrase
        except (TypeError, ValueError):
            raise ValueError(
                f"phrases[{k}]: expected (events, is_call, player), got {phrase!r}"
            ) from None
        parts.append(([int(e) for e in _events(events, f"phrases[{k}]", 1)], bool(is_call), str(player)))
    _cadenza.duet_to_midi(parts, os.fspath(path), to_toml(config))


def write_song(
    events: Any,
    path: Union[str, os.PathLike],
    task: str = "rl-tuner",
    config: ConfigLike = None,
    title: Optional[str] = None,
    tempo: Optional[float] = None,
    chords: bool = True,
    format: Optional[str] = None,
) -> None:
    """Writes a melody (events of ``task``) as MIDI, ABC or MusicXML: ``format`` (``"midi"``,
    ``"abc"``, ``"musicxml"``) or the one the extension of ``path`` names (``.mid``,
    ``.abc``, ``.musicxml``). The task's tempo, meter and key come along, and its backing
    chords, as chord symbols in ABC and MusicXML, when ``chords`` is true."""
    _cadenza.write_song(
        _events(events, "events", 1),
        os.fspath(path),
        task,
        to_toml(config),
        title,
        None if tempo is None else float(tempo),
        bool(chords),
        format,
    )


def from_midi(
    path: Union[str, os.PathLike],
    task: str = "rl-tuner",
    config: ConfigLike = None,
    track: Optional[int] = None,
    fold_octaves: bool = False,
) -> np.ndarray:
    """Reads the melody of a MIDI file as events of ``task`` (one per step of its grid).

    ``track`` picks a track (default: the one with the most notes, chord tracks aside);
    ``fold_octaves`` moves notes outside the task's range by octaves instead of raising
    ``ValueError``.
    """
    if track is not None and int(track) < 0:
        raise ValueError(f"track must be >= 0, got {track}")
    return _cadenza.from_midi(
        os.fspath(path), task, to_toml(config), None if track is None else int(track), bool(fold_octaves)
    )


register_envs()
