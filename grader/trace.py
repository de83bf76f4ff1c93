"""What a run observed, as frozen values, folded from the child's events (grader/protocol.py).

Two steps: ``observe`` folds the events into what they said (the backward passes by kind of slots, what
the program trained, the answers to the grader's calls); ``build_trace`` applies a plan (grader/plan.py:
which kind is graded, which slot plays which parameter, which calls stand for forward and loss) and gives
the Trace the checks read, in the spec's names.

Nothing the child sends is trusted: the protocol has already refused malformed events, an answer counts
only for a call the parent asked for (the plan's), and every value is bounded, so a submission that
scribbles on the channel can only lose information, never invent a well-formed result.  Sentences the
child sent as English templates are translated here, in the parent.
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
    slots: Mapping[str, float | None] = field(default_factory=dict)  # every trained slot's value, by its label


@dataclass(frozen=True)
class Probe:
    """A hidden call of the student's function for ``kind`` (forward or loss), as ``function`` is called
    in the student's code, at parameters the grader chose: with x (and y), or for a loss written as
    loss(y_pred, y), with the prediction ``pred``, whose gradient is then the one in ``grads``."""

    kind: str
    params: Mapping[str, float]
    x: float
    y: float | None
    value: float | None
    grads: Mapping[str, float | None]
    error: str | None = None
    function: str = ""  # the student's function as the program calls it: forward, model, self.loss...
    shown: str = ""  # the call as the student reads it: loss(y_pred, y)
    pred: float | None = None


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
    final_leaf: Mapping[str, bool] = field(default_factory=dict)  # does the name still hold a leaf tensor?
    prediction: float | None = None  # the spec's model at probe_x with the final parameters
    probes: tuple[Probe, ...] = ()
    figures: tuple[Figure, ...] = ()
    functions: Mapping[str, str] = field(default_factory=dict)  # role -> the student's function graded for it
    unprobed: Mapping[str, str] = field(default_factory=dict)  # role -> why the grader could not call it
    roles: Mapping[str, str] = field(default_factory=dict)  # the student's slot -> the parameter it plays
    slots: tuple[str, ...] = ()  # the slots the graded backward passes trained (some may play no parameter)
    ignored_steps: int = 0  # backward passes of another kind (another model in the same notebook)
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

    def slot_of(self, name: str) -> str | None:
        """The student's name for a parameter (``w_1`` for w1), None when no slot plays it."""
        return next((slot for slot, role in self.roles.items() if role == name), None)


def translated(sentence: p.Sentence | None, limit: int = 2000) -> str | None:
    """A sentence the child sent, in the language of the report (a catalog phrase among its arguments,
    such as what the sandbox refused, is translated too)."""
    if sentence is None:
        return None
    args = {name: (_(value) if isinstance(value, str) else value) for name, value in sentence.args}
    return translate_template(sentence.template, args)[:limit]


# -- the fold: one small function per event kind ------------------------------------------------------


@dataclass(frozen=True)
class Pass:
    """One backward pass as the child saw it: values and gradients in the order of its kind's labels."""

    loss: float | None
    line: int | None
    file: str | None
    grads: tuple[float | None, ...]
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Kind:
    """The backward passes that trained the same slots, in order."""

    labels: tuple[str, ...]
    passes: tuple[Pass, ...]


@dataclass(frozen=True)
class Observed:
    """What the child's events said, before anything is made of it (grader/plan.py)."""

    kinds: tuple[Kind, ...] = ()
    extra: int = 0  # passes past the recording cap, counted only (the last kind's)
    program: p.Program | None = None
    answers: Mapping[int, p.ProbeResult] = field(default_factory=dict)
    figures: tuple[Figure, ...] = ()
    cells: tuple[CellRun, ...] = ()
    ended: Outcome | None = None
    isolation: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class _Fold:
    """What the events have said so far."""

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps
        self.kinds: dict[tuple[str, ...], list[Pass]] = {}
        self.recorded = 0
        self.extra = 0
        self.answers: dict[int, p.ProbeResult] = {}
        self.figures: list[Figure] = []
        self.cells: list[CellRun] = []
        self.program: p.Program | None = None
        self.ended: Outcome | None = None
        self.isolation: tuple[str, ...] = ()
        self.notes: list[str] = []


def _ready(fold: _Fold, event: p.Ready) -> None:
    fold.isolation = event.isolation


def _steps(fold: _Fold, event: p.Steps) -> None:
    passes = fold.kinds.setdefault(tuple(event.names), [])
    for loss, line, file, grads, values in event.rows:
        if fold.recorded >= fold.max_steps:
            fold.extra += 1
            continue
        fold.recorded += 1
        passes.append(Pass(loss, line, file, grads, values))


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


def _program(fold: _Fold, event: p.Program) -> None:
    if fold.program is None:
        fold.program = event


def _probe(fold: _Fold, event: p.ProbeResult) -> None:
    if event.index not in fold.answers:
        fold.answers[event.index] = event


def _figure(fold: _Fold, event: p.Figure) -> None:
    fold.figures.append(event)


def _cell(fold: _Fold, event: p.Cell) -> None:
    if len(fold.cells) < 10_000:
        fold.cells.append(event)


def _done(fold: _Fold, event: p.Done) -> None:
    pass


FOLD: dict[type, Callable[[_Fold, Any], None]] = {
    p.Ready: _ready, p.Steps: _steps, p.ExtraSteps: _extra_steps, p.Note: _note, p.Ended: _ended,
    p.Program: _program, p.ProbeResult: _probe, p.Figure: _figure, p.Cell: _cell, p.Done: _done,
}


def observe(events: Iterable[p.Event], max_steps: int) -> Observed:
    """Fold the child's events into what they said."""
    fold = _Fold(max_steps)
    for event in events:
        FOLD[type(event)](fold, event)
    return Observed(
        kinds=tuple(Kind(labels, tuple(passes)) for labels, passes in fold.kinds.items()),
        extra=fold.extra, program=fold.program, answers=dict(fold.answers), figures=tuple(fold.figures),
        cells=tuple(fold.cells), ended=fold.ended, isolation=fold.isolation, notes=tuple(fold.notes),
    )


# -- the trace: what the run says about the spec's parameters and functions ---------------------------


def _steps_of(spec, kind: Kind, roles: Mapping[str, str]) -> tuple[Step, ...]:
    column = {role: kind.labels.index(slot) for slot, role in roles.items() if slot in kind.labels}
    names = spec.param_names
    steps = []
    for row in kind.passes:
        steps.append(Step(
            loss=row.loss, line=row.line, file=row.file,
            grads={n: row.grads[column[n]] if n in column else None for n in names},
            params={n: row.values[column[n]] if n in column else None for n in names},
            slots=dict(zip(kind.labels, row.values)),
        ))
    return tuple(steps)


def _finals(spec, program: p.Program | None, roles: Mapping[str, str]) -> tuple[dict, dict]:
    values: dict[str, float | None] = {name: None for name in spec.param_names}
    leaf: dict[str, bool] = {}
    if program is not None:
        for slot, role in roles.items():
            if slot in program.slots:
                i = program.slots.index(slot)
                values[role], leaf[role] = program.values[i], program.leaf[i]
    return values, leaf


def _prediction(spec, finals: Mapping[str, float | None], roles: Mapping[str, str]) -> float | None:
    """The spec's model at probe_x with the parameters the program ended with; a parameter no slot plays is
    a term the student's model lacks (0)."""
    played = set(roles.values())
    if not played or any(finals.get(name) is None for name in played):
        return None
    params = {name: (finals[name] if name in played else 0.0) for name in spec.param_names}
    try:
        value = float(spec.model.value({**params, "x": spec.probe_x}))
    except (ArithmeticError, ValueError):
        return None
    return value


def _probes(spec, plan, answers) -> tuple[tuple[Probe, ...], dict[str, str]]:
    from grader.plan import choose, grads_by_name  # here: plan reads grader.reference, which reads Step from here

    probes, functions = [], {}
    for role, (attempt, answered) in choose(spec, plan, answers).items():
        functions[role] = attempt.label
        for call, answer in answered:
            probes.append(Probe(
                kind=role, params=dict(call.point.params), x=call.point.x, y=call.point.y, value=answer.value,
                grads=grads_by_name(plan, call, answer), error=translated(answer.error), function=attempt.label,
                shown=attempt.shown, pred=call.wire.pred))
    return tuple(probes), functions


def _mapping_notes(spec, plan, ignored: int) -> list[str]:
    notes = []
    renamed = sorted(plan.roles.renamed().items(), key=lambda pair: spec.param_names.index(pair[1]))
    if renamed:
        notes.append(_("Your parameters were matched to the assignment's by what they do in the model: {pairs}.")
                     .format(pairs=", ".join(_("`{slot}` plays {name}").format(slot=slot, name=name)
                                             for slot, name in renamed)))
    if ignored:
        notes.append(_("{count} backward passes that trained other tensors than these parameters (another model, "
                       "perhaps) were not graded.").format(count=ignored))
    return notes


def build_trace(
    observed: Observed,
    spec,
    plan,
    *,
    outcome: Outcome | None,
    stdout: str,
    stderr: str,
    seconds: float,
    notes: Iterable[str] = (),
) -> Trace:
    """The Trace of a run: the graded kind of pass with the spec's names (``plan``: grader/plan.py), the
    chosen calls of the student's functions.  ``outcome``, when given (a timeout, a crash), overrides what
    the child said about how the program ended."""
    from grader.plan import remapped  # here: plan reads grader.reference, which reads Step from here

    plan = remapped(spec, plan, observed.answers)
    roles = dict(plan.roles.by_slot)
    kinds = observed.kinds
    steps = _steps_of(spec, kinds[plan.kind], roles) if plan.kind is not None else ()
    last = plan.kind is not None and plan.kind == len(kinds) - 1
    ignored = sum(len(kind.passes) for i, kind in enumerate(kinds) if i != plan.kind and kind.labels)
    finals, leaf = _finals(spec, observed.program, roles)
    probes, functions = _probes(spec, plan, observed.answers)
    ended = outcome or observed.ended or Outcome(CRASHED, _("the program stopped without reporting how it ended"))
    return Trace(
        steps=steps,
        extra_steps=observed.extra if last else 0,
        final_params=finals,
        final_leaf=leaf,
        prediction=_prediction(spec, finals, roles),
        probes=probes,
        figures=observed.figures,
        functions=functions,
        unprobed=dict(plan.unreachable),
        roles=roles,
        slots=tuple(plan.labels),
        ignored_steps=ignored,
        outcome=ended,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        notes=tuple(dict.fromkeys([*notes, *observed.notes, *_mapping_notes(spec, plan, ignored)])),
        cells=observed.cells,
        isolation=observed.isolation,
    )
