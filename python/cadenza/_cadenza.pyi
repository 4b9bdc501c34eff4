"""Type stubs of the native module ``cadenza._cadenza`` (see the Rust crate's docs)."""

from os import PathLike
from typing import Optional, Union

import numpy as np
import numpy.typing as npt

__version__: str

def task_names() -> list[str]: ...

class Env:
    """One composition environment; every call returns fresh arrays."""

    def __init__(
        self, task: str, config: Optional[str] = None, reward: Optional[str] = None
    ) -> None: ...
    def reset(
        self, seed: Optional[int] = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]: ...
    def step(
        self, action: int
    ) -> tuple[
        npt.NDArray[np.float32],
        float,
        bool,
        bool,
        npt.NDArray[np.bool_],
        npt.NDArray[np.float64],
    ]: ...
    def action_mask(self) -> npt.NDArray[np.bool_]: ...
    def melody(self) -> npt.NDArray[np.int64]: ...
    def rng_fingerprint(self) -> int: ...
    def close(self) -> None: ...
    @property
    def obs_low(self) -> npt.NDArray[np.float32]: ...
    @property
    def obs_high(self) -> npt.NDArray[np.float32]: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def num_actions(self) -> int: ...
    @property
    def term_names(self) -> list[str]: ...
    @property
    def elapsed_steps(self) -> int: ...
    @property
    def task_name(self) -> str: ...
    @property
    def length(self) -> int: ...
    @property
    def min_pitch(self) -> int: ...
    @property
    def key_name(self) -> str: ...

class VecEnv:
    """N environments stepped together into caller-owned arrays."""

    def __init__(
        self,
        num_envs: int,
        task: str,
        config: Optional[str] = None,
        reward: Optional[str] = None,
    ) -> None: ...
    def reset(
        self,
        observations: npt.NDArray[np.float32],
        rewards: npt.NDArray[np.float64],
        terminated: npt.NDArray[np.bool_],
        truncated: npt.NDArray[np.bool_],
        masks: npt.NDArray[np.bool_],
        terms: npt.NDArray[np.float64],
        steps: npt.NDArray[np.int64],
        seeds: Optional[list[Optional[int]]] = None,
        which: Optional[npt.NDArray[np.bool_]] = None,
    ) -> None: ...
    def step(
        self,
        actions: npt.NDArray[np.int64],
        observations: npt.NDArray[np.float32],
        rewards: npt.NDArray[np.float64],
        terminated: npt.NDArray[np.bool_],
        truncated: npt.NDArray[np.bool_],
        masks: npt.NDArray[np.bool_],
        terms: npt.NDArray[np.float64],
        steps: npt.NDArray[np.int64],
    ) -> None: ...
    def rng_fingerprints(self) -> list[int]: ...
    def close(self) -> None: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def num_actions(self) -> int: ...
    @property
    def term_names(self) -> list[str]: ...

def score(
    melodies: npt.NDArray[np.int64],
    reward: Optional[str] = None,
    task: str = "rl-tuner",
    config: Optional[str] = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[str]]: ...
def to_midi(
    events: npt.NDArray[np.int64],
    path: Union[str, PathLike[str]],
    task: str = "rl-tuner",
    config: Optional[str] = None,
    title: Optional[str] = None,
    tempo: Optional[float] = None,
    program: Optional[int] = None,
    chords: bool = True,
) -> None: ...
def write_song(
    events: npt.NDArray[np.int64],
    path: Union[str, PathLike[str]],
    task: str = "rl-tuner",
    config: Optional[str] = None,
    title: Optional[str] = None,
    tempo: Optional[float] = None,
    chords: bool = True,
    format: Optional[str] = None,
) -> None: ...
def from_midi(
    path: Union[str, PathLike[str]],
    task: str = "rl-tuner",
    config: Optional[str] = None,
    track: Optional[int] = None,
    fold_octaves: bool = False,
) -> npt.NDArray[np.int64]: ...
