"""Assignment specs: the two of the lecture, malformed ones, and a third added without code changes."""

from __future__ import annotations

import pytest

from grader.errors import SpecError
from grader.grade import grade
from grader.load import load
from grader.reference import reference_trace
from grader.run import SubprocessRunner
from grader.spec import CHECK_IDS, all_specs, get_spec, load_spec

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
        assert [c.id for c in spec.checks] == list(CHECK_IDS)
        assert spec.check("plot").points == 0 and spec.max_score == 10


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
    report = grade(submission, spec, SubprocessRunner())
    assert report.score == 7, [c.message for c in report.checks]


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (("model = \"w * x + b\"", "model = \"w * x + c\""), "unknown names"),
        (("model = \"w * x + b\"", "model = \"abs(w * x)\""), "not allowed"),
        (("[checks.plot]\npoints = 1", ""), "missing key 'plot'"),
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
