"""The pipeline for one submission: load -> run -> check -> Report.  No output is written here."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace

from grader import __version__
from grader.check import CheckResult, run_checks, why_stopped
from grader.diagnose import Diagnosis, diagnose, explains_error, title
from grader.i18n import _
from grader.load import Submission
from grader.plan import Point
from grader.reference import Reference, reference_trace
from grader.run import Limits, Probes, Runner
from grader.spec import Spec
from grader.trace import FINISHED, TAMPERED, UNREADABLE, Outcome, Trace


@dataclass(frozen=True)
class Report:
    assignment: str
    title: str
    submission: str
    score: float
    max_score: float
    error: str | None  # how the run failed, in plain words; None when the program ran to its end
    checks: tuple[CheckResult, ...]
    trace: Trace
    reference: Reference
    spec: Spec
    notes: tuple[str, ...] = ()  # what loading and running noticed, for the student
    diagnoses: tuple[Diagnosis, ...] = ()
    notebook: str | None = None  # the submitted notebook, when it was one (for graded.ipynb)
    saved: float | None = None  # when the graded file was last saved (seconds since the epoch)
    kit_version: str = __version__

    @property
    def full_marks(self) -> bool:
        return self.error is None and self.score >= self.max_score


def _grid_value(rng: random.Random, low: float, high: float, grid: float, avoid_zero: bool = False) -> float:
    steps = int((high - low) / grid)
    while True:
        value = low + grid * rng.randint(0, steps)
        if not avoid_zero or abs(value) >= 0.5:
            return value


def draw_probes(spec: Spec, rng: random.Random) -> Probes:
    """Random points for the hidden calls of forward and loss: parameters and inputs on a grid of exactly
    representable numbers, inputs kept away from 0 so that every gradient is informative."""
    ps = spec.probes
    points = []
    for kind in ("forward", "loss"):
        for _count in range(ps.count):
            params = {name: _grid_value(rng, *ps.parameter_range, ps.grid) for name in spec.param_names}
            x = _grid_value(rng, *ps.x_range, ps.grid, avoid_zero=True)
            y = _grid_value(rng, *ps.y_range, ps.grid) if kind == "loss" else None
            points.append(Point(kind, params, x, y))
    return Probes(tuple(points))


def assemble(spec: Spec, submission: Submission, trace: Trace) -> Report:
    """Check a trace against the reference and total the points (pure)."""
    reference = reference_trace(spec)
    checks = run_checks(spec, reference, trace)
    if trace.outcome.status == TAMPERED:  # signed events may be genuine, but the run as a whole is not
        why = _("Not counted: the program wrote into the grader's private channel.")
        checks = tuple(replace(c, status="fail", points=0.0, message=why) for c in checks)
    error = None
    if trace.outcome.status != FINISHED:
        error = why_stopped(trace)
    notes = submission.notes + trace.notes
    if trace.isolation and not any(w in trace.isolation for w in ("filesystem", "landlock")):
        notes += (_("This run had no file isolation (neither Landlock nor a jail): right for checking your own "
                    "work, not for grading a class."),)
    diagnoses = diagnose(spec, trace, checks, submission)
    cause = next((d for d in diagnoses if explains_error(d, trace)), None)
    if error and cause is not None:  # the stop is the consequence; the mistake is the cause
        error = _("{error} This follows from the mistake under What went wrong: {title}.").format(
            error=error, title=title(cause.id))
    return Report(
        assignment=spec.name,
        title=spec.title_in(),
        submission=submission.display_name,
        score=sum(c.points for c in checks),
        max_score=spec.max_score,
        error=error,
        checks=checks,
        trace=trace,
        reference=reference,
        spec=spec,
        notes=tuple(dict.fromkeys(notes)),
        diagnoses=diagnoses,
        notebook=submission.notebook,
        saved=submission.saved,
    )


def grade(
    submission: Submission,
    spec: Spec,
    runner: Runner,
    *,
    time_limit: float | None = None,
    seed: int | None = None,
) -> Report:
    if submission.problem:
        return assemble(spec, submission, Trace(outcome=Outcome(UNREADABLE, submission.problem)))
    # Fresh points for every run unless seeded: a generator seeded from the system's entropy (drawing each
    # number from the system, as SystemRandom does, costs a call to the kernel per number).
    rng = random.Random(seed if seed is not None else os.urandom(32))
    probes = draw_probes(spec, rng)
    trace = runner.run(submission, spec, probes, Limits(time_limit=time_limit or spec.time_limit))
    return assemble(spec, submission, trace)

