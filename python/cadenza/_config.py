"""Task configurations: TOML text, or a flat dict turned into TOML text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional, Union

ConfigLike = Union[str, Mapping[str, Any], None]


def _toml_value(key: str, value: Any) -> str:
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string.
        return json.dumps(value)
    raise ValueError(
        f"config field '{key}': expected a string, number or bool, got {type(value).__name__}"
    )


def to_toml(config: ConfigLike) -> Optional[str]:
    """The TOML text of ``config`` (None stays None)."""
    if config is None or isinstance(config, str):
        return config
    if isinstance(config, Mapping):
        return "".join(f"{k} = {_toml_value(str(k), v)}\n" for k, v in config.items())
    raise ValueError(
        f"config must be TOML text or a dict, got {type(config).__name__}"
    )


def reward_spec(reward: Any) -> Optional[str]:
    """A reward preset name or the path of a ``.toml`` definition, as a string."""
    if reward is None:
        return None
    try:
        import os

        return os.fspath(reward)
    except TypeError:
        raise ValueError(
            f"reward must be a preset name or a path to a .toml file, got {type(reward).__name__}"
        ) from None
