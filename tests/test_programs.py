"""The solutions print the lecture's numbers (and, where the lecture folder exists, exactly its output);
the skeletons run as given and stop at once."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache

import pytest
from builders import require_lecture
from cases import LECTURE, ROOT

sys.path.insert(0, str(ROOT / "tests" / "data"))
import extract_lecture_numbers as numbers  # noqa: E402


def run(path, timeout=120):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=path.parent, stdin=subprocess.DEVNULL)


@lru_cache(maxsize=None)
def solution_stdout(name: str) -> str:
    """What solutions/backprop_<name>.py prints; each solution is run once for the tests below."""
    done = run(ROOT / "solutions" / f"backprop_{name}.py")
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", ["linear", "quadratic"])
def test_solution_prints_the_lecture_numbers(name) -> None:
    """Every grad: and progress: value and the final prediction, against tests/data/lecture_numbers.json."""
    assignment = f"backprop_{name}"
    published = numbers.load()[assignment]
    printed = numbers.parse_output(solution_stdout(name), tuple(published["params"]))
    assert printed["grad"] == published["grad"]
    assert printed["progress"] == published["progress"]
    assert printed["prediction"] == published["prediction"]


@pytest.mark.parametrize("name", ["linear", "quadratic"])
def test_solution_prints_the_lecture_output(name) -> None:
    """Byte for byte, the text included: needs the lecture folder."""
    require_lecture()
    assert solution_stdout(name) == (LECTURE / f"lecture_output_{name}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["linear", "quadratic"])
def test_skeleton_runs_and_says_what_to_write(name) -> None:
    done = run(ROOT / "assignments" / f"backprop_{name}.py", timeout=60)
    assert done.returncode == 1
    assert "NotImplementedError: TODO 1: write the body of forward(x)" in done.stderr
