"""The reference trace reproduces the lecture's float32 numbers; no torch is imported."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from cases import LECTURE
from conftest import require_lecture

from grader.formula import Formula, FormulaError
from grader.reference import loss_and_grads, model_and_grads, reference_trace
from grader.spec import get_spec


def test_linear_headline_figures() -> None:
    ref = reference_trace(get_spec("backprop_linear"))
    assert [s.grads["w"] for s in ref.steps[:3]] == [-2.0, -7.840000152587891, -16.228801727294922]
    assert ref.prediction == 7.999998569488525
    assert len(ref.steps) == 300


def test_quadratic_headline_figures() -> None:
    ref = reference_trace(get_spec("backprop_quadratic"))
    grads = [tuple(s.grads[k] for k in ("w1", "w2", "b")) for s in ref.steps[:3]]
    assert grads == [
        (2.0, 2.0, 2.0),
        (22.880001068115234, 11.440000534057617, 5.720000267028809),
        (77.04720306396484, 25.682401657104492, 8.560800552368164),
    ]
    assert ref.prediction == 8.544171333312988


@pytest.mark.parametrize("name", ["linear", "quadratic"])
def test_every_published_number(name: str) -> None:
    """Each grad: and progress: line of the lecture's full output, to the last digit."""
    require_lecture()
    lines = (LECTURE / f"lecture_output_{name}.txt").read_text().splitlines()
    ref = reference_trace(get_spec(f"backprop_{name}"))
    params = ref.steps[0].grads.keys()
    grads = [tuple(map(float, line.split()[3:])) for line in lines if line.strip().startswith("grad:")]
    assert grads == [tuple(s.grads[k] for k in params) for s in ref.steps]
    progress = [float(line.split()[2]) for line in lines if line.startswith("progress:")]
    assert progress == [ref.steps[3 * e + 2].loss for e in range(100)]
    final = float(re.search(r"after training\) 4 (\S+)", lines[-1]).group(1))
    assert final == ref.prediction


def test_probe_expectations_follow_the_formula() -> None:
    spec = get_spec("backprop_quadratic")
    value, grads = model_and_grads(spec, {"w1": 0.5, "w2": -1.0, "b": 2.0}, 3.0)
    assert value == 0.5 * 9 - 3 + 2
    assert grads == {"w1": 9.0, "w2": 3.0, "b": 1.0}
    loss, grads = loss_and_grads(spec, {"w1": 0.5, "w2": -1.0, "b": 2.0}, 3.0, 1.0)
    assert loss == (3.5 - 1.0) ** 2
    assert grads == {"w1": 2 * 2.5 * 9, "w2": 2 * 2.5 * 3, "b": 2 * 2.5}


@pytest.mark.parametrize("text", ["x ** w", "abs(x)", "x if w else 1", "w.data", "'a' * w", "x +"])
def test_formula_rejects_what_it_cannot_differentiate(text: str) -> None:
    with pytest.raises(FormulaError):
        Formula.parse(text)


def test_formula_gradients_of_division_and_negation() -> None:
    value, grads = Formula.parse("-w / x + b * b").evaluate({"w": 2.0, "x": 4.0, "b": 3.0}, wrt=("w", "b"))
    assert value == pytest.approx(-0.5 + 9.0)
    assert grads["w"] == pytest.approx(-0.25)
    assert grads["b"] == pytest.approx(6.0)


def test_the_grader_side_never_imports_torch() -> None:
    """Only the child process may import torch: the parent's modules stay light and safe."""
    code = (
        "import sys, grader.cli, grader.check, grader.reference, grader.grade, grader.report, grader.run;"
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
