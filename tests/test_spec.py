"""grader/spec.py: the two specs of the lecture, malformed ones refused with a reason, a third assignment
added without code changes, and specs that use some of the checks or name their functions."""

from __future__ import annotations

import dataclasses

import pytest
from builders import perfect, report_for

from grader.check import CHECKS
from grader.errors import SpecError
from grader.grade import grade
from grader.load import load
from grader.reference import reference_trace
from grader.report import html, markdown
from grader.portable import PortableRunner
from grader.plan import attempts_for
from grader.spec import all_specs, get_spec, load_spec

AFFINE = """
name = "backprop_affine"
title = "A third assignment: y = w * x + b"
filename_hints = ["affine"]
model = "w * x + b"
loss = "(y_pred - y) ** 2"
time_limit = 10

[parameters]
w = 0.5
b = 0.0

[data]
x = [1.0, 2.0, 3.0]
y = [3.0, 5.0, 7.0]

[training]
learning_rate = 0.02
epochs = 40
probe_x = 4.0

[probes]
count = 2
parameter_range = [-2.0, 2.0]
x_range = [-3.0, 3.0]
y_range = [-6.0, 6.0]

[checks.forward]
points = 1
rtol = 1e-5
atol = 1e-6
[checks.loss]
points = 1
rtol = 1e-5
atol = 1e-6
[checks.first_epoch_grads]
points = 1
rtol = 1e-5
atol = 1e-6
[checks.training]
points = 1
rtol = 1e-3
atol = 1e-5
[checks.final_prediction]
points = 1
rtol = 1e-4
atol = 1e-4
[checks.runs]
points = 1
[checks.plot]
points = 1
"""

AFFINE_STUDENT = """
import matplotlib.pyplot as plt
import torch

w = torch.tensor([0.5], requires_grad=True)
b = torch.tensor([0.0], requires_grad=True)

def forward(x):
    return w * x + b

def loss(x, y):
    return (forward(x) - y) ** 2

costs = []
for epoch in range(40):
    total = 0
    for x, y in zip([1.0, 2.0, 3.0], [3.0, 5.0, 7.0]):
        l = loss(x, y)
        l.backward()
        with torch.no_grad():
            w -= 0.02 * w.grad
            b -= 0.02 * b.grad
        w.grad.zero_()
        b.grad.zero_()
        total += l.item()
    costs.append(total / 3)
plt.plot(costs)
"""


def test_the_lecture_specs() -> None:
    linear, quadratic = all_specs()
    assert (linear.name, linear.param_names, linear.initial) == ("backprop_linear", ("w",), {"w": 1.0})
    assert quadratic.param_names == ("w1", "w2", "b") and quadratic.initial == {"w1": 1.0, "w2": 1.0, "b": 1.0}
    for spec in (linear, quadratic):
        assert (spec.x, spec.y, spec.learning_rate, spec.epochs, spec.probe_x) == (
            (1.0, 2.0, 3.0), (2.0, 4.0, 6.0), 0.01, 100, 4.0)
        assert [c.id for c in spec.checks] == list(CHECKS)
        assert spec.check("plot").points == 0 and spec.max_score == 10
        assert spec.functions == {"forward": "forward", "loss": "loss"} and spec.regime == "per_sample"


def test_a_third_assignment_needs_only_a_spec_file(tmp_path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "backprop_affine.toml").write_text(AFFINE)
    specs = all_specs(folder)
    spec = get_spec("backprop_affine", folder)
    assert spec.max_score == 7
    ref = reference_trace(spec)
    assert ref.steps[0].grads == {"w": 2 * (0.5 - 3.0), "b": 2 * (0.5 - 3.0)}
    student = tmp_path / "affine_student.py"
    student.write_text(AFFINE_STUDENT)
    submission = load(student, specs)
    assert submission.assignment == "backprop_affine"
    report = grade(submission, spec, PortableRunner())
    assert report.score == 7, [c.message for c in report.checks]


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (("model = \"w * x + b\"", "model = \"w * x + c\""), "unknown names"),
        (("model = \"w * x + b\"", "model = \"abs(w * x)\""), "not allowed"),
        (("[checks.plot]\npoints = 1", "[checks.plot]\nrtol = 1e-3"), "missing key 'points'"),
        (("epochs = 40", "epochs = 0"), "at least 1"),
        (("name = \"backprop_affine\"", "name = \"other\""), "must match its file name"),
        (("[data]", "[data\n"), "cannot read"),
    ],
)
def test_malformed_specs_say_what_is_wrong(tmp_path, edit, fragment) -> None:
    path = tmp_path / "backprop_affine.toml"
    path.write_text(AFFINE.replace(*edit))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert fragment in info.value.message and info.value.exit_code == 3


def _spec(tmp_path, text: str):
    path = tmp_path / "backprop_affine.toml"
    path.write_text(text)
    return load_spec(path)


def _without(text: str, *check_ids: str) -> str:
    """The spec text with the [checks.<id>] tables of these checks left out."""
    kept = [block for block in text.split("[checks.") if block.split("]", 1)[0] not in check_ids]
    return "[checks.".join(kept)


def test_a_spec_grades_only_the_checks_it_lists(tmp_path) -> None:
    spec = _spec(tmp_path, _without(AFFINE, "loss", "first_epoch_grads", "plot"))
    assert [c.id for c in spec.checks] == ["forward", "training", "final_prediction", "runs"]
    report = report_for(spec, perfect(spec), "affine.py")
    assert [c.id for c in report.checks] == ["forward", "training", "final_prediction", "runs"]
    assert report.score == report.max_score == 4
    broken = perfect(spec)
    steps = list(broken.steps)
    steps[5] = dataclasses.replace(steps[5], grads={name: 0.0 for name in spec.param_names})
    report = report_for(spec, dataclasses.replace(broken, steps=tuple(steps)), "affine.py")
    assert report.score == 3 and [c.id for c in report.checks if c.status == "fail"] == ["training"]
    assert report.diagnoses  # the diagnoses and the writers cope without the checks left out
    assert "First-epoch gradients" in markdown.render(report) and "<table>" in html.render(report)


def test_the_order_of_the_check_tables_does_not_matter(tmp_path) -> None:
    runs_first = AFFINE.replace("[checks.runs]\npoints = 1\n", "").replace("[checks.forward]", "[checks.runs]\npoints = 1\n[checks.forward]")
    assert [c.id for c in _spec(tmp_path, runs_first).checks] == list(CHECKS)


@pytest.mark.parametrize(
    "text, fragments",
    [
        (AFFINE.replace("[checks.plot]", "[checks.speed]"), ["unknown checks ['speed']", "known: " + ", ".join(CHECKS)]),
        (_without(AFFINE, *CHECKS), ["uses no check", ", ".join(CHECKS)]),
        (AFFINE.replace("epochs = 40", "epochs = 40\nregime = \"mini_batch\""),
         ["regime 'mini_batch' is not supported", "per_sample"]),
        (AFFINE.replace("[data]", "[functions]\nbackward = \"f\"\n[data]"), ["unknown function roles ['backward']"]),
        (AFFINE.replace("[data]", "[functions]\nforward = \"2f\"\n[data]"), ["forward = '2f' is not a Python function name"]),
    ],
)
def test_unknown_checks_regimes_and_roles_are_refused(tmp_path, text, fragments) -> None:
    with pytest.raises(SpecError) as info:
        _spec(tmp_path, text)
    assert all(f in info.value.message for f in fragments), info.value.message
    assert info.value.exit_code == 3


def test_functions_are_read_and_named_in_messages(tmp_path) -> None:
    spec = _spec(tmp_path, AFFINE.replace("[data]", "[functions]\nforward = \"predict\"\n[data]"))
    assert spec.functions == {"forward": "predict", "loss": "loss"}
    assert _spec(tmp_path, AFFINE).functions == {"forward": "forward", "loss": "loss"}
    _attempts, why = attempts_for(spec, "forward", (), None, (), ())
    assert why.endswith("none is named predict")
    missing = dataclasses.replace(perfect(spec), probes=(), unprobed={"forward": why})
    forward = report_for(spec, missing, "affine.py").checks[0]
    assert forward.id == "forward" and forward.status == "pass" and "none is named predict" in forward.message


def test_the_functions_are_found_by_the_specs_names_or_by_what_the_training_calls(tmp_path, grading) -> None:
    """A spec that names the functions `predict` and `cost`: a program with those names gets full marks,
    and so does one that keeps `forward` and `loss`: its training calls them, and they are called alike."""
    folder = tmp_path / "specs"
    folder.mkdir()
    renamed = AFFINE.replace("[data]", '[functions]\nforward = "predict"\nloss = "cost"\n\n[data]')
    (folder / "backprop_affine.toml").write_text(renamed)
    spec = get_spec("backprop_affine", folder)
    student = tmp_path / "affine_student.py"
    student.write_text(AFFINE_STUDENT.replace("forward(", "predict(").replace("def loss(", "def cost(")
                       .replace("l = loss(", "l = cost("))
    report = grade(load(student, all_specs(folder)), spec, grading.server)
    assert report.score == 7, [c.message for c in report.checks]
    assert report.checks[0].message.startswith("predict gives the right value")
    student.write_text(AFFINE_STUDENT)
    report = grade(load(student, all_specs(folder)), spec, grading.server)
    assert report.score == 7, [c.message for c in report.checks]
    assert report.checks[0].message.startswith("forward gives the right value")
    assert report.checks[1].message.startswith("loss gives the right value")
