"""``CadenzaEnv``: one composition environment as a ``gymnasium.Env``."""

from __future__ import annotations

import operator
from typing import Any, Optional, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import _cadenza
from ._config import ConfigLike, reward_spec, to_toml

_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def event_name(event: int, min_pitch: int) -> str:
    """A readable name of an event: ``r`` (rest), ``-`` (hold) or a pitch such as ``C4``."""
    if event == 0:
        return "r"
    if event == 1:
        return "-"
    pitch = min_pitch + event - 2
    return f"{_NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def as_action(action: Any, num_actions: int) -> int:
    """``action`` as a Python int in ``0..num_actions``, or a ``ValueError`` saying why not."""
    if isinstance(action, (bool, np.bool_)):
        raise ValueError(f"action must be an integer, got a bool ({action!r})")
    if isinstance(action, np.ndarray) and action.shape != ():
        raise ValueError(
            f"action must be a scalar integer, got an array of shape {action.shape}"
        )
    try:
        a = operator.index(action)
    except TypeError:
        raise ValueError(
            f"action must be an integer in 0..{num_actions}, got {type(action).__name__} {action!r}"
        ) from None
    if not 0 <= a < num_actions:
        raise ValueError(
            f"action {a} is outside the action space (valid: 0..{num_actions})"
        )
    return a


def as_seed(seed: Any, what: str = "seed") -> Optional[int]:
    """``seed`` as an int in ``0..2**64``, None kept."""
    if seed is None:
        return None
    try:
        s = operator.index(seed)
    except TypeError:
        raise ValueError(f"{what} must be an int or None, got {type(seed).__name__}") from None
    if not 0 <= s < 2**64:
        raise ValueError(f"{what} must lie in 0..2**64, got {s}")
    return s


class CadenzaEnv(gym.Env):
    """A melody composed step by step: Cadenza's composition environment.

    On each step the agent picks one event (0 = rest, 1 = hold, then one event per pitch);
    the episode terminates when the melody has the task's length. The reward of a step is
    the sum of named terms; ``info`` carries every term by name, the ``action_mask`` for the
    next step (a bool array) and the ``step`` count.

    Args:
        task: ``"rl-tuner"`` (Magenta RL Tuner's setting) or ``"improv"`` (over chords).
        config: the configuration of a configurable task, as TOML text or a flat dict.
        reward: a reward preset (``"rl-tuner"``, ``"improv"``, ``"in-scale"``, ``"zero"``) or
            the path of a ``.toml`` reward definition; default: the task's own reward.
        render_mode: ``None`` or ``"ansi"`` (the melody so far as text).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 8}

    def __init__(
        self,
        task: str = "rl-tuner",
        config: ConfigLike = None,
        reward: Any = None,
        render_mode: Optional[str] = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self._env = _cadenza.Env(task, to_toml(config), reward_spec(reward))
        self.task = task
        self.term_names: tuple[str, ...] = tuple(self._env.term_names)
        reserved = {"step", "action_mask"} & set(self.term_names)
        if reserved:
            raise ValueError(
                f"reward terms {sorted(reserved)} clash with info keys of the same name; rename them"
            )
        self.num_actions: int = self._env.num_actions
        self.action_space = spaces.Discrete(self.num_actions)
        self.observation_space = spaces.Box(
            low=self._env.obs_low, high=self._env.obs_high, dtype=np.float32
        )
        self._min_pitch = self._env.min_pitch
        self._started = False

    def _info(self, mask: np.ndarray, terms: Optional[np.ndarray]) -> dict[str, Any]:
        info: dict[str, Any] = {"step": self._env.elapsed_steps, "action_mask": mask}
        if terms is None:
            for name in self.term_names:
                info[name] = 0.0
        else:
            for name, value in zip(self.term_names, terms.tolist()):
                info[name] = value
        return info

    def reset(
        self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts a melody. ``seed`` reseeds the env (and ``np_random``); no options are used."""
        seed = as_seed(seed)
        super().reset(seed=seed)
        observation, mask = self._env.reset(seed)
        self._started = True
        return observation, self._info(mask, None)

    def step(
        self, action: Any
    ) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Appends one event to the melody."""
        if not self._started:
            raise RuntimeError("step called before reset: call reset(seed=...) first")
        a = as_action(action, self.num_actions)
        observation, reward, terminated, truncated, mask, terms = self._env.step(a)
        return observation, reward, terminated, truncated, self._info(mask, terms)

    def action_masks(self) -> np.ndarray:
        """The current action mask (the method name sb3-contrib's MaskablePPO looks for)."""
        return self._env.action_mask()

    @property
    def melody(self) -> np.ndarray:
        """The events chosen so far in this episode."""
        return self._env.melody()

    def render(self) -> Optional[str]:
        """With ``render_mode="ansi"``: the melody so far as text, e.g. ``C4 - - r E4``."""
        if self.render_mode != "ansi":
            return None
        events = self._env.melody().tolist()
        return " ".join(event_name(e, self._min_pitch) for e in events)

    def close(self) -> None:
        """Releases resources; may be called more than once."""
        self._env.close()
