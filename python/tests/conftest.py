"""Shared fixtures: the tasks every conformance test runs on."""

import pytest

#: (task, config) pairs covering every built-in task and the masked variant of improv.
TASKS = [
    ("rl-tuner", None),
    ("improv", None),
    ("improv", {"key": "A minor", "length": 32, "progression": "| Am7 | Dm7 | E7 | Am7 |"}),
    ("improv", 'key = "F major"\nlength = 16\nmask_out_of_scale = true\n'),
    ("duet", None),
]


@pytest.fixture(params=TASKS, ids=lambda t: f"{t[0]}-{'default' if t[1] is None else 'config'}")
def task(request):
    return request.param
