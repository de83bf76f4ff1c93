"""What a run observed, as frozen values, folded from the child's events (grader/protocol.py).

Nothing the child sends is trusted: the protocol has already refused malformed events, and here every value
is taken only for the spec's parameter names and bounded, so a submission that scribbles on the channel can
only lose information, never invent a well-formed result.  Sentences the child sent as English templates
are translated here, in the parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from grader import protocol as p
from grader.i18n import _, translate_template
from grader.protocol import (  # noqa: F401 - the statuses are part of this module's vocabulary
    CRASHED,
    ENDINGS,
    EXCEPTION,
    EXITED,
    FINISHED,
    ISOLATION_LAYERS,
    OVER_DISK,
    SYNTAX_ERROR,
    TAMPERED,
    TIMEOUT,
    UNREADABLE,
    encode_number,
    number,
)

# What a notebook cell produced, and a figure the program drew: kept as the child sent them.
CellRun = p.Cell
Figure = p.Figure
PlotLine = p.PlotLine


@dataclass(frozen=True)
class Step:
    """One backward pass: the loss it started from, each parameter's gradient after it, and the
    parameter values it was computed at (``None`` where a parameter or its gradient was missing)."""

    loss: float | None
    grads: Mapping[str, float | None]
    params: Mapping[str, float | None]
    line: int | None = None  # where backward() was called in the student's code
    file: str | None = None


@dataclass(frozen=True)
class Probe:
    """A hidden call of the student's ``forward(x)`` or ``loss(x, y)`` at parameters the grader chose."""

    kind: str
    params: Mapping[str, float]
    x: float
    y: float | None
    value: float | None
    grads: Mapping[str, float | None]
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """How the student's program ended, in plain words, with the line of its own file where that applies."""

    status: str
    message: str | None = None
    exc_type: str | None = None
    line: int | None = None
    traceback: str | None = None
    seconds: float | None = None  # how long the student's program ran
    file: str | None = None  # the student's file name, for "line N of FILE"
    denied: str | None = None  # what the sandbox refused, translated, when that is how it ended


@dataclass(frozen=True)
class Trace:
    steps: tuple[Step, ...] = ()
    extra_steps: int = 0  # backward passes beyond the recording cap
    final_params: Mapping[str, float | None] = field(default_factory=dict)
    final_leaf: Mapping[str, bool] = field(default_factory=dict)  # is the name still bound to a leaf tensor?
    prediction: float | None = None
    prediction_error: str | None = None
    probes: tuple[Probe, ...] = ()
    figures: tuple[Figure, ...] = ()
    functions: frozenset[str] = frozenset()  # the roles (forward, loss) the program defined a function for
    outcome: Outcome = Outcome(CRASHED)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    cells: tuple[CellRun, ...] = ()
    isolation: tuple[str, ...] = ()  # the sandbox layers the child had in place (grader/child/sandbox.py)

    @property
    def backward_count(self) -> int:
        return len(self.steps) + self.extra_steps


def translated(sentence: p.Sentence | None, limit: int = 2000) -> str | None:
    """A sentence the child sent, in the language of the report (a catalog phrase among its arguments,
    such as what the sandbox refused, is translated too)."""
    if sentence is None:
        return None
    args = {name: (_(value) if isinstance(value, str) else value) for name, value in sentence.args}
    return translate_template(sentence.template, args)[:limit]


# -- the fold: one small function per event kind ------------------------------------------------------


class _Fold:
    """What the events have said so far."""

    def __init__(self, names: tuple[str, ...], max_steps: int, notes: Iterable[str], asked) -> None:
        self.names, self.max_steps = names, max_steps
        self.asked = None if asked is None else list(asked)  # the probe points not answered yet
        self.steps: list[Step] = []
        self.extra = 0
        self.probes: list[Probe] = []
        self.figures: list[Figure] = []
        self.cells: list[CellRun] = []
        self.final: p.Final | None = None
        self.ended: Outcome | None = None
        self.isolation: tuple[str, ...] = ()
        self.notes = list(notes)

    def numbers(self, values: Mapping[str, float | None]) -> dict[str, float | None]:
        return {name: values.get(name) for name in self.names}


def _ready(fold: _Fold, event: p.Ready) -> None:
    fold.isolation = event.isolation


def _steps(fold: _Fold, event: p.Steps) -> None:
    where = {name: index for index, name in enumerate(event.names)}
    columns = [(name, where.get(name)) for name in fold.names]  # the spec's names only, in its order
    for loss, line, file, grads, values in event.rows:
        if len(fold.steps) >= fold.max_steps:
            fold.extra += 1
            continue
        fold.steps.append(Step(loss=loss, line=line, file=file,
                               grads={name: None if i is None else grads[i] for name, i in columns},
                               params={name: None if i is None else values[i] for name, i in columns}))


def _extra_steps(fold: _Fold, event: p.ExtraSteps) -> None:
    fold.extra += event.count


def _note(fold: _Fold, event: p.Note) -> None:
    text = translated(event.text, 500)
    if text:
        fold.notes.append(text)


def _ended(fold: _Fold, event: p.Ended) -> None:
    message = event.message
    if event.status == TIMEOUT and event.limit is not None:
        message = _("the time limit is {limit:g} s").format(limit=event.limit)
    elif event.status == EXITED:
        message = _("the program called sys.exit({code})").format(code=event.exit_code or "?")
    fold.ended = Outcome(status=event.status, message=message, exc_type=event.exc_type, line=event.line,
                         traceback=event.traceback, seconds=event.seconds, file=event.file,
                         denied=translated(event.denied))


def _final(fold: _Fold, event: p.Final) -> None:
    fold.final = event


def _probe(fold: _Fold, event: p.ProbeResult) -> None:
    params = {k: v for k, v in fold.numbers(event.params).items() if v is not None}
    if fold.asked is not None:  # an answer counts only for a point the parent asked about, once
        asked = next((a for a in fold.asked if (a.kind, a.x, a.y, dict(a.params)) == (event.kind, event.x, event.y,
                                                                                      params)), None)
        if asked is None:
            fold.notes.append(_("A probe result the grader did not ask for was ignored."))
            return
        fold.asked.remove(asked)
    fold.probes.append(Probe(kind=event.kind, params=params, x=event.x, y=event.y, value=event.value,
                             grads=fold.numbers(event.grads), error=translated(event.error)))


def _figure(fold: _Fold, event: p.Figure) -> None:
    fold.figures.append(event)


def _cell(fold: _Fold, event: p.Cell) -> None:
    if len(fold.cells) < 10_000:
        fold.cells.append(event)


def _done(fold: _Fold, event: p.Done) -> None:
    pass


FOLD: dict[type, Callable[[_Fold, Any], None]] = {
    p.Ready: _ready, p.Steps: _steps, p.ExtraSteps: _extra_steps, p.Note: _note, p.Ended: _ended, p.Final: _final,
    p.ProbeResult: _probe, p.Figure: _figure, p.Cell: _cell, p.Done: _done,
}


def build_trace(
    events: Iterable[p.Event],
    names: tuple[str, ...],
    *,
    outcome: Outcome | None,
    stdout: str,
    stderr: str,
    seconds: float,
    notes: Iterable[str] = (),
    max_steps: int,
    asked: Iterable[p.ProbePoint] | None = None,
) -> Trace:
    """Fold the child's events into a Trace.  ``outcome``, when given (a timeout, a crash), overrides what
    the child said about how the program ended; ``asked``, when given, are the only probe points whose
    results count."""
    fold = _Fold(names, max_steps, notes, asked)
    for event in events:
        FOLD[type(event)](fold, event)
    final = fold.final
    ended = outcome or fold.ended or Outcome(CRASHED, _("the program stopped without reporting how it ended"))
    return Trace(
        steps=tuple(fold.steps),
        extra_steps=fold.extra,
        final_params=fold.numbers(final.params) if final else {name: None for name in names},
        final_leaf={n: final.leaf[n] for n in names if n in final.leaf} if final else {},
        prediction=final.prediction if final else None,
        prediction_error=translated(final.prediction_error) if final else None,
        probes=tuple(fold.probes),
        figures=tuple(fold.figures),
        functions=frozenset(final.functions) if final else frozenset(),
        outcome=ended,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        notes=tuple(dict.fromkeys(fold.notes)),
        cells=tuple(fold.cells),
        isolation=fold.isolation,
    )
