"""``CadenzaVectorEnv``: N composition environments stepped in Rust in one call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _cadenza
from ._config import ConfigLike, reward_spec, to_toml
from .env import as_seed


class CadenzaVectorEnv(VectorEnv):
    """``num_envs`` composition environments, stepped together in native code.

    ``step`` hands the whole batch of actions to Rust, which steps every sub-env with the
    GIL released and writes observations, rewards, flags, action masks and reward terms
    straight into numpy arrays: no Python object is made per sub-env.

    Semantics are Gymnasium's: next-step autoreset (the step after a sub-env's episode ends
    resets it, ignores its action and reports reward 0 with both flags false), sub-env ``i``
    seeded with ``seed + i``, and ``reset(options={"reset_mask": mask})`` resets only the
    chosen sub-envs. ``infos`` holds ``action_mask`` ``(n, num_actions)``, ``step`` ``(n,)``
    and one ``(n,)`` array per reward term, each with its ``_name`` flag array.

    Args:
        num_envs: number of sub-envs.
        task, config, reward: as for :class:`cadenza.CadenzaEnv`.
        copy: return fresh arrays on every call (the default, as Gymnasium's vector envs
            do). With ``copy=False`` every call returns the same arrays, overwritten by the
            next call: faster, for loops that consume each batch before the next step.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        task: str = "rl-tuner",
        config: ConfigLike = None,
        reward: Any = None,
        copy: bool = True,
        render_mode: Optional[str] = None,
        max_episode_steps: Optional[int] = None,
    ) -> None:
        if render_mode is not None:
            raise ValueError("the native vector env does not render; use render_mode=None")
        if max_episode_steps is not None:
            raise ValueError(
                "episodes end when the melody is complete; set the length in the task config instead of max_episode_steps"
            )
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        self._env = _cadenza.VecEnv(int(num_envs), task, to_toml(config), reward_spec(reward))
        self.task = task
        self.num_envs = int(num_envs)
        self.copy = copy
        self.render_mode = None
        n, dim, na = self.num_envs, self._env.obs_dim, self._env.num_actions
        self.term_names: tuple[str, ...] = tuple(self._env.term_names)
        probe = _cadenza.Env(task, to_toml(config), reward_spec(reward))
        self.single_observation_space = spaces.Box(
            low=probe.obs_low, high=probe.obs_high, dtype=np.float32
        )
        self.single_action_space = spaces.Discrete(na)
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)

        self._observations = np.zeros((n, dim), dtype=np.float32)
        self._rewards = np.zeros(n, dtype=np.float64)
        self._terminated = np.zeros(n, dtype=np.bool_)
        self._truncated = np.zeros(n, dtype=np.bool_)
        self._masks = np.ones((n, na), dtype=np.bool_)
        self._terms = np.zeros((n, len(self.term_names)), dtype=np.float64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._buffers = (
            self._observations,
            self._rewards,
            self._terminated,
            self._truncated,
            self._masks,
            self._terms,
            self._steps,
        )
        present = np.ones(n, dtype=np.bool_)
        present.flags.writeable = False
        self._info_flags = {"_step": present, "_action_mask": present}
        self._info_flags.update(("_" + name, present) for name in self.term_names)
        # With copy=False the infos dict is built once: its arrays are views of the buffers.
        self._shared_infos = self._make_infos(self._masks, self._steps, self._terms.T)

    def _make_infos(self, masks: np.ndarray, steps: np.ndarray, term_columns: Any) -> dict[str, Any]:
        infos = dict(self._info_flags)
        infos["step"] = steps
        infos["action_mask"] = masks
        infos.update(zip(self.term_names, term_columns))
        return infos

    def _outputs(self) -> tuple[np.ndarray, dict[str, Any]]:
        if not self.copy:
            return self._observations, self._shared_infos
        # Transposed, each term's values are one contiguous row: iterating yields them.
        infos = self._make_infos(self._masks.copy(), self._steps.copy(), self._terms.T.copy())
        return self._observations.copy(), infos

    def _seeds(self, seed: Union[int, Sequence[Optional[int]], None]) -> Optional[list]:
        if seed is None:
            return None
        if isinstance(seed, (Sequence, np.ndarray)) and not isinstance(seed, str):
            if len(seed) != self.num_envs:
                raise ValueError(
                    f"seed: {len(seed)} seeds given for {self.num_envs} sub-envs"
                )
            return [as_seed(s, f"seed[{i}]") for i, s in enumerate(seed)]
        base = as_seed(seed)
        assert base is not None
        return [(base + i) % 2**64 for i in range(self.num_envs)]

    def reset(
        self,
        *,
        seed: Union[int, Sequence[Optional[int]], None] = None,
        options: Optional[dict[str, Any]] = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets the sub-envs (all, or those of ``options["reset_mask"]``).

        ``seed``: an int (sub-env ``i`` gets ``seed + i``), one seed or None per sub-env, or
        None (each sub-env continues its generator).
        """
        seeds = self._seeds(seed)
        if seed is not None:
            first = seed if isinstance(seed, (int, np.integer)) else seeds[0]
            super().reset(seed=None if first is None else int(first))
        which = None
        if options:
            unknown = set(options) - {"reset_mask"}
            if unknown:
                raise ValueError(
                    f"options: unknown keys {sorted(unknown)}; the only option is 'reset_mask'"
                )
            mask = options.get("reset_mask")
            if mask is not None:
                which = np.asarray(mask)
                if which.dtype != np.bool_ or which.shape != (self.num_envs,):
                    raise ValueError(
                        f"reset_mask must be a bool array of shape ({self.num_envs},), got dtype {which.dtype} and shape {which.shape}"
                    )
                which = np.ascontiguousarray(which)
        self._env.reset(*self._buffers, seeds, which)
        return self._outputs()

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Steps every sub-env; ``actions`` is an integer array of shape ``(num_envs,)``."""
        if type(actions) is not np.ndarray or actions.dtype != np.int64 or actions.ndim != 1:
            actions = self._as_actions(actions)
        self._env.step(actions, *self._buffers)
        if not self.copy:
            return (
                self._observations,
                self._rewards,
                self._terminated,
                self._truncated,
                self._shared_infos,
            )
        observations, infos = self._outputs()
        return (
            observations,
            self._rewards.copy(),
            self._terminated.copy(),
            self._truncated.copy(),
            infos,
        )

    def _as_actions(self, actions: Any) -> np.ndarray:
        array = np.asarray(actions)
        if array.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be integers, got dtype {array.dtype} (shape {array.shape})"
            )
        if array.shape != (self.num_envs,):
            raise ValueError(
                f"actions must have shape ({self.num_envs},), got {array.shape}"
            )
        if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
            raise ValueError("actions: value too large for the action space")
        return np.ascontiguousarray(array, dtype=np.int64)

    def rng_fingerprints(self) -> list[int]:
        """The generator fingerprint of every sub-env (for determinism checks)."""
        return self._env.rng_fingerprints()

    def close_extras(self, **kwargs: Any) -> None:
        self._env.close()
