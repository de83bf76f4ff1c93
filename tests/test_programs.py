"""The solutions print exactly the lecture's output; the skeletons run as given and stop at once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cases import LECTURE, ROOT
from conftest import require_lecture


def run(path, timeout=120):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=path.parent, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", ["linear", "quadratic"])
def test_solution_prints_the_lecture_output(name) -> None:
    require_lecture()
    done = run(ROOT / "solutions" / f"backprop_{name}.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (LECTURE / f"lecture_output_{name}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["linear", "quadratic"])
def test_skeleton_runs_and_says_what_to_write(name) -> None:
    done = run(ROOT / "assignments" / f"backprop_{name}.py", timeout=60)
    assert done.returncode == 1
    assert "NotImplementedError: TODO 1: write the body of forward(x)" in done.stderr
