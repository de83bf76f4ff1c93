"""grader/reference.py: the reference trace reproduces the lecture's float32 numbers; no torch is imported.

The lecture's numbers are kept in tests/data/lecture_numbers.json, so these tests run on any machine;
only re-extracting that file needs the lecture folder.
"""

from __future__ import annotations

import sys

import pytest
from builders import require_lecture
from cases import LECTURE, ROOT

sys.path.insert(0, str(ROOT / "tests" / "data"))
import extract_lecture_numbers as numbers  # noqa: E402

from grader.reference import loss_and_grads, model_and_grads, reference_trace  # noqa: E402
from grader.spec import get_spec  # noqa: E402

PUBLISHED = numbers.load()


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


@pytest.mark.parametrize("name", ["backprop_linear", "backprop_quadratic"])
def test_every_published_number(name: str) -> None:
    """Each grad: and progress: line of the lecture's full output, to the last digit."""
    published = PUBLISHED[name]
    spec = get_spec(name)
    ref = reference_trace(spec)
    assert list(ref.steps[0].grads) == published["params"]
    samples = [(x, y) for _ in range(spec.epochs) for x, y in zip(spec.x, spec.y)]
    assert [(g["x"], g["y"]) for g in published["grad"]] == samples
    assert [g["grads"] for g in published["grad"]] == [[s.grads[k] for k in published["params"]] for s in ref.steps]
    # the lecture prints the loss of each epoch's last sample
    last = spec.samples
    assert published["progress"] == [{"epoch": e, "loss": ref.steps[last * (e + 1) - 1].loss} for e in range(spec.epochs)]
    assert published["prediction"] == {"x": spec.probe_x, "value": ref.prediction}


def test_published_numbers_agree_with_the_lectures_headline_figures() -> None:
    """An independent check of the data file: the few figures the lecture's README quotes, typed in here."""
    linear, quadratic = PUBLISHED["backprop_linear"], PUBLISHED["backprop_quadratic"]
    assert linear["params"] == ["w"]
    assert [g["grads"] for g in linear["grad"][:3]] == [[-2.0], [-7.840000152587891], [-16.228801727294922]]
    assert linear["prediction"] == {"x": 4, "value": 7.999998569488525}
    assert quadratic["params"] == ["w1", "w2", "b"]
    assert [g["grads"] for g in quadratic["grad"][:3]] == [
        [2.0, 2.0, 2.0],
        [22.880001068115234, 11.440000534057617, 5.720000267028809],
        [77.04720306396484, 25.682401657104492, 8.560800552368164],
    ]
    assert quadratic["prediction"] == {"x": 4, "value": 8.544171333312988}
    for program in (linear, quadratic):
        assert [(g["x"], g["y"]) for g in program["grad"][:3]] == [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]
        assert len(program["grad"]) == 300
        assert [p["epoch"] for p in program["progress"]] == list(range(100))


def test_published_numbers_are_what_the_lecture_printed() -> None:
    """Re-extracting the lecture's output gives the committed data file, byte for byte."""
    require_lecture()
    assert numbers.render(numbers.extract(LECTURE)) == numbers.TARGET.read_text(encoding="utf-8")


def test_probe_expectations_follow_the_formula() -> None:
    spec = get_spec("backprop_quadratic")
    value, grads = model_and_grads(spec, {"w1": 0.5, "w2": -1.0, "b": 2.0}, 3.0)
    assert value == 0.5 * 9 - 3 + 2
    assert grads == {"w1": 9.0, "w2": 3.0, "b": 1.0}
    loss, grads = loss_and_grads(spec, {"w1": 0.5, "w2": -1.0, "b": 2.0}, 3.0, 1.0)
    assert loss == (3.5 - 1.0) ** 2
    assert grads == {"w1": 2 * 2.5 * 9, "w2": 2 * 2.5 * 3, "b": 2 * 2.5}
