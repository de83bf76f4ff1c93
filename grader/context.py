"""What every detector of grader/diagnose.py reads: the ``Context`` of one graded run (the spec, the trace,
the check results, the submission, and what they say once computed: the student's data, the model their
code writes, the value of a parameter they hold constant), the ``Diagnosis`` a detector returns, and where in
the student's code a message points (``locate``, ``as_written``, ``code_at``).  Pure functions; no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Sequence

from grader import static
from grader.check import PASS, CheckResult, at_line
from grader.evidence import complete, samples_per_epoch
from grader.i18n import _
from grader.load import Submission, readable_name
from grader.protocol import visible
from grader.reference import loss_and_grads, model_and_grads
from grader.spec import Spec, Tolerance
from grader.trace import Step, Trace

MOST_MODELS = 4  # forward functions read from the code, at most (a notebook may define a few)
LOCAL = Tolerance(rtol=1e-3, atol=1e-5)  # one step recomputed at the student's own parameters
EPOCHS_TO_READ = 3  # the detectors look at the first epochs; mistakes show there


@dataclass(frozen=True)
class Diagnosis:
    id: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Context:
    """What every detector reads.  ``checks`` holds only the checks the spec grades, so a detector asks
    ``passed`` or ``failed``: both are False for a check the spec leaves out."""

    spec: Spec
    trace: Trace
    checks: dict[str, CheckResult]
    submission: Submission

    def passed(self, check_id: str) -> bool:
        check = self.checks.get(check_id)
        return check is not None and check.status == PASS

    def failed(self, check_id: str) -> bool:
        """The check was graded and did not pass."""
        check = self.checks.get(check_id)
        return check is not None and check.status != PASS

    def steps(self, epochs: int = EPOCHS_TO_READ) -> tuple[Step, ...]:
        """The first epochs' steps, a parameter no slot of the student's plays at the value their model holds
        it (see ``unplayed``): the spec's model with it there is theirs."""
        return tuple(self.filled(step) for step in self.trace.steps[: epochs * self.samples])

    def filled(self, step: Step) -> Step:
        if not self.unplayed:
            return step
        return replace(step, params={**step.params, **self.unplayed})

    @cached_property
    def unplayed(self) -> dict[str, float]:
        """Each parameter no slot of the student's plays, at the value their model holds it: the constant
        forward's answers show (``bias = torch.tensor([1.0])``, never trained), else 0 (a term they lack)."""
        if not self.trace.roles:
            return {}
        probes = [p for p in self.trace.probes if p.kind == "forward" and p.error is None and p.value is not None]
        names = [n for n in self.spec.param_names if self.trace.slot_of(n) is None]
        return {n: held_constant(self, probes, n) or 0.0 for n in names}

    @cached_property
    def trees(self):
        """The code's syntax trees (grader/static.py), parsed once for every detector; None if it does not
        parse."""
        return static.parse(code_units(self.submission))

    @cached_property
    def passes_per_epoch(self) -> int | None:
        """samples_per_epoch of the student's passes, read once for every detector (it searches each pass's
        sample)."""
        return samples_per_epoch(self.spec, self.trace.steps)

    @cached_property
    def code_models(self) -> list[static.Model]:
        """What the code's forward functions return, as written (grader/static.py); only ever taken as the
        student's model where the backward passes confirm it.  A few at most: each is tried against every
        pair of the code's lists."""
        if self.trees is None:
            return []
        graded = self.trace.functions.get("forward", "").rsplit(".", 1)[-1]
        names = dict.fromkeys(n for n in (graded, self.spec.functions.get("forward", "forward")) if n)
        return [model for name in names for model in static.forward_models(self.trees, name)][:MOST_MODELS]

    def code_name(self, name: str) -> str:
        """What the code calls a parameter: the tensor of the slot that plays it (``w_1``, ``w`` for
        ``w[0]``, ``self.w1``), else the spec's name."""
        slot = self.trace.slot_of(name)
        return slot.split("[", 1)[0] if slot else name

    def model_line(self) -> tuple[str | None, int | None, str | None]:
        """Where the student's model is written: the return of the forward that was graded, or the first
        return in the code."""
        if self.code_models:
            return as_written(self.submission, self.code_models[0])
        return locate(self.submission, r"^\s*return\b")

    @cached_property
    def code_constants(self) -> dict[str, float]:
        return static.constants(self.trees) if self.trees is not None else {}

    @cached_property
    def data(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The samples the student trained on: the assignment's, unless the passes show others that the
        code lists (two literal lists of one length whose samples, taken in order, give every pass's loss
        at the student's parameters over two epochs, through the assignment's model or, where the student's
        has other terms, the one their forward returns).  Never taken from the code alone."""
        spec = self.spec
        own = (tuple(spec.x), tuple(spec.y))
        if self._fits(*own) or self.trees is None:
            return own
        lists = static.number_lists(self.trees)
        for model in (None, *self.code_models):
            for xs in lists:
                for ys in lists:
                    if xs is not ys and len(xs) == len(ys) and self._fits(xs, ys, model):
                        return xs, ys
        return own

    def _fits(self, xs: Sequence[float], ys: Sequence[float], model: static.Model | None = None) -> bool:
        n, checked = len(xs), 0
        for k, step in enumerate(self.trace.steps[: 2 * n]):
            loss = self.loss_at(self.filled(step), xs[k % n], ys[k % n], model)
            if step.loss is None or loss is None:
                continue
            if not LOCAL.close(step.loss, loss):
                return False
            checked += 1
        return checked >= n + 1

    def loss_at(self, step: Step, x: float, y: float, model: static.Model | None) -> float | None:
        """One sample's loss at the step's parameters, through the spec's model or the code's."""
        if model is None:
            if not complete(step, self.spec.param_names):
                return None
            return loss_and_grads(self.spec, step.params, x, y)[0]
        pred = model.value(x, {**self.code_constants, **step.slots})
        if pred is None:
            return None
        try:
            return float(self.spec.loss.value({"y_pred": pred, "y": y}))
        except (ArithmeticError, ValueError):
            return None

    @property
    def samples(self) -> int:
        """How many samples an epoch of the student's training has (see ``data``)."""
        return len(self.data[0])

    def sample(self, index: int) -> tuple[float, float]:
        """The sample of the student's pass ``index`` (see ``data``)."""
        xs, ys = self.data
        return xs[index % len(xs)], ys[index % len(ys)]


def numbers_text(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def code_units(submission: Submission) -> list[tuple[str, str]]:
    """The code as units the way messages name them: the script, or each notebook cell that runs."""
    filename = readable_name(submission.path.name)
    if submission.cells is not None:
        return [(f"{filename}, cell {c.number}", c.source) for c in submission.cells if c.run]
    return [(filename, submission.source)]


def as_written(submission: Submission, read: "static.Read | static.Model") -> tuple[str, int, str]:
    """(unit, line, text) of something read from the code, the text being the student's line as they wrote
    it (the syntax tree's own rendering where that line cannot be found)."""
    for name, text in code_units(submission):
        lines = text.splitlines()
        if name == read.unit and 0 < read.line <= len(lines) and lines[read.line - 1].strip():
            return read.unit, read.line, visible(lines[read.line - 1].strip(), 300)
    return read.unit, read.line, read.text


def locate(submission: Submission, pattern: str) -> tuple[str | None, int | None, str | None]:
    """The first line of the student's code matching a regular expression: (file, line, text)."""
    regex = re.compile(pattern)
    for name, text in code_units(submission):
        for number, line in enumerate(text.splitlines(), start=1):
            code = line.split("#", 1)[0] if "#" in line and "'" not in line and '"' not in line else line
            if regex.search(code) and code.strip():
                return name, number, visible(code.strip(), 300)  # the student's text, made safe to show
    return None, None, None


def locate_any(submission: Submission, *patterns: str) -> tuple[str | None, int | None, str | None]:
    for pattern in patterns:
        found = locate(submission, pattern)
        if found[1] is not None:
            return found
    return None, None, None


def code_at(file: str | None, line: int | None, text: str | None = None) -> str:
    if not line:
        return ""
    place = at_line(line, file)
    return _("{where}: {code}").format(where=place, code=f"`{text}`") if text else place



def held_constant(ctx: Context, probes, name: str) -> float | None:
    """The value a parameter with no gradient is held at in the student's model, when the answers of forward
    at the hidden points are the assignment's model with that parameter at one constant (``b = 1.0``, a plain
    number); None when they are not, or when the constant is 0 (the term is missing)."""
    values = []
    for p in probes:
        at_zero, grads = model_and_grads(ctx.spec, {**p.params, name: 0.0}, p.x)
        if abs(grads[name]) < 1e-6:
            continue
        values.append((p.value - at_zero) / grads[name])
    if len(values) < 3 or abs(values[0]) < 1e-6:
        return None
    if all(abs(v - values[0]) <= 1e-4 * max(1.0, abs(values[0])) for v in values):
        return float(round(values[0], 6))
    return None
