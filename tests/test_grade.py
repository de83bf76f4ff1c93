"""grader/grade.py: the pipeline of one submission on the parent's side: the hidden probe points, the
report assembled from a trace (a tampered run counts nothing), a file that cannot be run never reaches
a runner, and the parent never imports torch."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from pathlib import Path

import pytest
from builders import LINEAR, QUADRATIC, perfect, report_for

from grader.grade import draw_probes, grade
from grader.load import Submission
from grader.run import Runner
from grader.trace import TAMPERED, UNREADABLE, Outcome


def test_the_grader_side_never_imports_torch() -> None:
    """Only the child process may import torch: the parent's modules stay light and safe."""
    code = (
        "import sys, grader.cli, grader.check, grader.reference, grader.grade, grader.report, grader.run;"
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("spec", [LINEAR, QUADRATIC], ids=lambda s: s.name)
def test_probe_points_lie_on_the_grid_within_the_ranges(spec) -> None:
    ps = spec.probes
    points = draw_probes(spec, random.Random(7)).points
    assert [p.kind for p in points] == ["forward"] * ps.count + ["loss"] * ps.count
    for point in points:
        assert set(point.params) == set(spec.param_names)
        values = list(point.params.values()) + [point.x] + ([point.y] if point.kind == "loss" else [])
        assert all(v / ps.grid == int(v / ps.grid) for v in values)  # exactly representable
        assert all(ps.parameter_range[0] <= v <= ps.parameter_range[1] for v in point.params.values())
        assert ps.x_range[0] <= point.x <= ps.x_range[1] and abs(point.x) >= 0.5  # every gradient informative
        if point.kind == "loss":
            assert ps.y_range[0] <= point.y <= ps.y_range[1]
        else:
            assert point.y is None


def test_probe_points_follow_the_seed() -> None:
    assert draw_probes(LINEAR, random.Random(1)) == draw_probes(LINEAR, random.Random(1))
    draws = [draw_probes(LINEAR, random.Random(seed)) for seed in range(5)]
    assert any(draw != draws[0] for draw in draws[1:])


def test_a_tampered_run_scores_nothing() -> None:
    trace = dataclasses.replace(perfect(LINEAR), outcome=Outcome(TAMPERED, "2 lines the grader did not write"))
    report = report_for(LINEAR, trace)
    assert report.score == 0 and not report.full_marks
    assert {c.status for c in report.checks} == {"fail"}
    assert all(c.message == "Not counted: the program wrote into the grader's private channel." for c in report.checks)
    assert "wrote into the grader's private channel (2 lines the grader did not write)" in report.error


def test_notes_of_loading_and_running_are_said_once() -> None:
    trace = dataclasses.replace(perfect(LINEAR), notes=("from the run", "shared"))
    submission = Submission(Path("hw.py"), "hw.py", "", LINEAR.name, notes=("shared", "from loading"))
    report = grade_trace(submission, trace)
    assert report.notes == ("shared", "from loading", "from the run")


class Recorder(Runner):
    """A runner that returns a prepared trace and remembers what it was asked."""

    def __init__(self, trace=None) -> None:
        self.trace, self.calls = trace, []

    def run(self, submission, spec, probes, limits):
        self.calls.append((submission, spec, probes, limits))
        return self.trace


def grade_trace(submission, trace, **options):
    return grade(submission, LINEAR, Recorder(trace), **options)


def test_grade_runs_with_the_specs_time_limit_unless_told() -> None:
    submission = Submission(Path("hw.py"), "hw.py", "", LINEAR.name)
    runner = Recorder(perfect(LINEAR))
    report = grade(submission, LINEAR, runner, seed=3)
    assert report.full_marks
    grade(submission, LINEAR, runner, time_limit=2.5, seed=3)
    (_, spec, probes, limits), (_, _, probes_again, limits_again) = runner.calls
    assert spec is LINEAR and limits.time_limit == LINEAR.time_limit == 10 and limits_again.time_limit == 2.5
    assert probes == probes_again == draw_probes(LINEAR, random.Random(3))


def test_a_file_that_cannot_be_run_never_reaches_the_runner() -> None:
    submission = Submission(Path("hw.ipynb"), "hw.ipynb", "", LINEAR.name, problem="the notebook is not valid JSON")
    runner = Recorder()
    report = grade(submission, LINEAR, runner)
    assert runner.calls == []
    assert report.trace.outcome == Outcome(UNREADABLE, "the notebook is not valid JSON")
    assert report.score == 0 and report.error == "Your file could not be graded: the notebook is not valid JSON."
