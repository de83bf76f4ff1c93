"""The checks: pure functions of (spec, reference, student trace) -> CheckResult.

No torch, no processes, no files: each check only compares numbers the run observed with the numbers the
spec implies, within the spec's tolerances, and says how far and where they differ.  ``CHECKS`` is the
registry: every check the grader can run, by id, in report order.  A spec uses some of them and gives
each its points and tolerance; ``run_checks`` runs those.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from grader.i18n import N_, _, sentences, tidy
from grader.reference import Reference, expected_call, loss_and_grads
from grader.spec import Spec, Tolerance
from grader.trace import (
    CRASHED,
    EXCEPTION,
    FINISHED,
    OVER_DISK,
    SYNTAX_ERROR,
    TAMPERED,
    TIMEOUT,
    UNREADABLE,
    Probe,
    Step,
    Trace,
    encode_number,
)

PASS, FAIL, ERROR = "pass", "fail", "error"


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: str  # pass | fail | error
    points: float
    max_points: float
    message: str
    expected: Any = None
    observed: Any = None
    step: int | None = None  # the first step that departs, for the checks over the training trace


def fmt(value: float | None) -> str:
    if value is None:
        return _("nothing")
    if not math.isfinite(value):
        return str(value)
    return f"{value:.7g}"


def _decimal(value: float) -> str:
    """Two significant digits, never in scientific notation (0.00012, 4.5, 37)."""
    text = f"{value:.2g}"
    return f"{value:.8f}".rstrip("0").rstrip(".") if "e" in text else text


def _far(observed: float | None, expected: float) -> str:
    if observed is None or not math.isfinite(observed):
        return ""
    diff = observed - expected
    if expected != 0 and abs(diff / expected) < 1:
        return _(" (off by {diff}, a relative error of {rel}%)").format(
            diff=fmt(diff), rel=_decimal(abs(diff / expected) * 100))
    if expected != 0 and abs(diff / expected) < 1000:  # past 100%, a percentage reads worse than a factor
        return _(" (off by {diff}, {times} times the expected value)").format(
            diff=fmt(diff), times=_decimal(abs(diff / expected)))
    return _(" (off by {diff})").format(diff=fmt(diff))


def at_line(line: int | None, file: str | None = None) -> str:
    """`` (line 3 of hw.py)``, `` (line 3 of hw.ipynb, cell 4)`` for a notebook cell (the child names it
    ``hw.ipynb, cell 4``: the cell's position among all cells, as Jupyter lists them), or nothing without a
    line."""
    if not line:
        return ""
    if not file:
        return _(" (line {line})").format(line=line)
    cell = re.fullmatch(r"(.*), cell (\d+)", file, flags=re.DOTALL)
    if cell:
        return _(" (line {line} of {file}, cell {n})").format(line=line, file=cell.group(1), n=cell.group(2))
    return _(" (line {line} of {file})").format(line=line, file=file)


def _numbers(values: Mapping[str, float | None]) -> dict[str, Any]:
    return {k: encode_number(v) for k, v in values.items()}


# What the skeletons' unwritten parts raise (NotImplementedError("TODO 1: ...")), so a report in Chinese says
# it in Chinese too.
SKELETON_TODOS = (N_("write the body of forward(x)"), N_("write the body of loss(x, y)"))
_TODO = re.compile(r"TODO (\d+): (.+?)\.?$")


def todo_text(message: str | None) -> str | None:
    """``TODO 1: write the body of forward(x)`` in the report's language, None for any other message."""
    found = _TODO.search(message or "")
    if found is None:
        return None
    return _("TODO {n}: {what}").format(n=found.group(1), what=_(found.group(2)))


def step_label(spec: Spec, index: int) -> str:
    """A training step as messages name it: steps and epochs both counted from 1."""
    epoch, sample = divmod(index, spec.samples)
    return _("step {n} (epoch {epoch}, sample x={x:g}, y={y:g})").format(
        n=index + 1, epoch=epoch + 1, x=spec.x[sample], y=spec.y[sample]
    )


BREAKPOINT = re.compile(r"^\s*(\w+\.)*(set_trace|breakpoint)\s*\(")


def _at_breakpoint(traceback: str | None) -> bool:
    """Whether the student's last line in the traceback is a debugger's breakpoint (pdb.set_trace(),
    breakpoint()): the debugger asks to trace the program, which the sandbox refuses."""
    code = [line for line in (traceback or "").splitlines() if line.startswith("    ") and line.strip()
            and not set(line.strip()) <= set("^~ ")]
    return bool(code) and bool(BREAKPOINT.match(code[-1]))


def why_stopped(trace: Trace) -> str:
    """One sentence on how the program ended, when that explains missing observations."""
    return tidy(_why_stopped(trace))


def _why_stopped(trace: Trace) -> str:
    outcome = trace.outcome
    where = at_line(outcome.line, outcome.file)
    if outcome.status == UNREADABLE:
        return _("Your file could not be graded: {message}.").format(message=outcome.message)
    if outcome.status == SYNTAX_ERROR:
        return _("Your file has a syntax error{where}: {message}.").format(where=where, message=outcome.message)
    if outcome.status == TIMEOUT:
        return _("Your program ran too long and was stopped{where}: {message}.").format(
            where=where, message=outcome.message
        )
    if outcome.status == EXCEPTION:
        if outcome.denied and _at_breakpoint(outcome.traceback):
            return _("Your program stops at a debugger breakpoint{where}: grading runs it with no one to continue "
                     "it. Remove the pdb.set_trace() or breakpoint() call.").format(where=where)
        if outcome.denied:
            return _("Your program tried something grading does not allow{where}: {message}.").format(
                where=where, message=outcome.denied)
        if outcome.exc_type == "MemoryError" or (outcome.message and "can't allocate memory" in outcome.message):
            return _("Your program used more memory than it may{where}.").format(where=where)
        if outcome.message and "No space left on device" in outcome.message:
            return _("Your program wrote more into its folder than it may{where}.").format(where=where)
        if outcome.message and "can't start new thread" in outcome.message:
            return _("Your program started more threads than it may{where}.").format(where=where)
        if outcome.exc_type == "NotImplementedError" and todo_text(outcome.message):
            return _("Your program stopped at a part still to write{where}: {todo}.").format(
                where=where, todo=todo_text(outcome.message))
        if outcome.exc_type == "EOFError":
            return _("Your program asked for input{where}; grading types nothing, so give it the values in "
                     "the code.").format(where=where)
        if outcome.exc_type == "ModuleNotFoundError":
            return _("Your program imports a module that is not installed here{where}: {message}.").format(
                where=where, message=outcome.message
            )
        return _("Your program stopped with {exc}{where}: {message}.").format(
            exc=outcome.exc_type, where=where, message=outcome.message
        )
    if outcome.status == OVER_DISK:
        return _("Your program wrote more into its folder than it may ({message}), so it was stopped.").format(
            message=outcome.message)
    if outcome.status == CRASHED:
        return _("Your program's process ended abruptly: {message}.").format(message=outcome.message)
    if outcome.status == TAMPERED:
        return _("Your program wrote into the grader's private channel ({message}); nothing this run "
                 "reported can be trusted, so it scores 0.").format(message=outcome.message)
    if outcome.status != FINISHED:
        return _("Your program ended early{where}: {message}.").format(where=where, message=outcome.message)
    return ""


def _result(check_id: str, spec: Spec, status: str, message: str, **extra) -> CheckResult:
    max_points = spec.check(check_id).points
    return CheckResult(
        id=check_id,
        status=status,
        points=max_points if status == PASS else 0.0,
        max_points=max_points,
        message=tidy(message.strip()),
        **extra,
    )


# -- the hidden probes ---------------------------------------------------------------------------------


def _call_text(spec: Spec, probe: Probe) -> str:
    name = probe.function or spec.functions[probe.kind]
    if probe.pred is not None:  # loss(y_pred, y): what matters is the prediction it is given
        return f"{name}(y_pred={probe.pred:g}, y={probe.y or 0.0:g})"
    params = ", ".join(f"{k}={v:g}" for k, v in probe.params.items())
    args = f"{probe.x:g}" if probe.kind == "forward" else f"{probe.x:g}, {probe.y:g}"
    return _("{kind}({args}) with {params}").format(kind=name, args=args, params=params)


def expected_of(spec: Spec, probe: Probe) -> tuple[float, dict[str, float]]:
    return expected_call(spec, probe.kind, probe.params, probe.x, probe.y, probe.pred)


def locally_right(spec: Spec, trace: Trace, tol: Tolerance) -> bool | None:
    """Whether every pass of the first epoch has the spec's loss and gradients at the student's own
    parameters and sample (None: there is no complete first epoch to tell)."""
    steps = trace.steps[: spec.samples]
    if len(steps) < spec.samples:
        return None
    for k, step in enumerate(steps):
        if any(step.params.get(n) is None for n in spec.param_names):
            return False
        loss, grads = loss_and_grads(spec, step.params, spec.x[k], spec.y[k])
        if not tol.close(step.loss, loss) or not all(tol.close(step.grads.get(n), grads[n]) for n in spec.param_names):
            return False
    return True


def _from_training(role: str, spec: Spec, trace: Trace, why: str) -> CheckResult:
    """The check of a function the grader could not call, judged from the training steps instead: each
    step's loss and gradients at the student's own parameters say what forward and loss computed."""
    tol = spec.check(role).tolerance
    right = locally_right(spec, trace, Tolerance(max(tol.rtol, 1e-4), max(tol.atol, 1e-5)))
    if right:
        return _result(role, spec, PASS, _(
            "The grader could not call your {role} function ({why}), so it was judged from your training: at "
            "every step of the first epoch the loss and the gradients are the assignment's.").format(role=role, why=why))
    if right is False:
        return _result(role, spec, FAIL, _(
            "The grader could not call your {role} function ({why}), and your training's losses or gradients are "
            "not the assignment's (see the checks of the training).").format(role=role, why=why))
    return _result(role, spec, ERROR, _("Your {role} function could not be tried ({why}). {stopped}").format(
        role=role, why=why, stopped=why_stopped(trace)))


def _probe_check(role: str, spec: Spec, trace: Trace) -> CheckResult:
    """The check of the same id as the role: the hidden calls of the student's function for that role."""
    check_id = role
    tol = spec.check(check_id).tolerance
    probes = [p for p in trace.probes if p.kind == role]
    if not probes:
        why = trace.unprobed.get(role) or (why_stopped(trace) or trace.outcome.message or _("it was not called"))
        return _from_training(role, spec, trace, why.rstrip("."))
    function = probes[0].function or spec.functions[role]
    expected_rows, observed_rows = [], []
    problems = []
    for probe in probes:
        value, grads = expected_of(spec, probe)
        expected_rows.append({"call": _call_text(spec, probe), "value": encode_number(value), "grads": _numbers(grads)})
        observed_rows.append(
            {"call": _call_text(spec, probe), "value": encode_number(probe.value), "grads": _numbers(probe.grads),
             "error": probe.error}
        )
        if probe.error:
            if "NotImplementedError" in probe.error:
                problems.append(_("{name} is not written yet ({error}).").format(
                    name=function, error=todo_text(probe.error) or probe.error))
            else:
                problems.append(_("{call} raised {error}.").format(call=_call_text(spec, probe), error=probe.error))
            continue
        if not tol.close(probe.value, value):
            problems.append(
                _("{call} returned {got}, expected {want}{far}.").format(
                    call=_call_text(spec, probe), got=fmt(probe.value), want=fmt(value), far=_far(probe.value, value)
                )
            )
            continue
        for name, want in grads.items():
            got = probe.grads.get(name)
            if got is None:
                problems.append(
                    _("After {call}, backward() left {name}.grad empty: the result is not connected to {name} "
                      "through autograd (expected {want}).").format(call=_call_text(spec, probe), name=name, want=fmt(want))
                )
                break
            if not tol.close(got, want):
                problems.append(
                    _("After {call}, {name}.grad is {got}, expected {want}{far}.").format(
                        call=_call_text(spec, probe), name=name, got=fmt(got), want=fmt(want), far=_far(got, want)
                    )
                )
                break
    extra = {"expected": expected_rows, "observed": observed_rows}
    if problems:
        return _result(check_id, spec, FAIL, problems[0], **extra)
    return _result(
        check_id, spec, PASS,
        _("{name} gives the right value and gradients at {n} hidden points ({tol}).").format(
            name=function, n=len(probes), tol=tol.describe()
        ),
        **extra,
    )


def check_forward(spec: Spec, reference: Reference, trace: Trace) -> CheckResult:
    return _probe_check("forward", spec, trace)


def check_loss(spec: Spec, reference: Reference, trace: Trace) -> CheckResult:
    return _probe_check("loss", spec, trace)


# -- the training trace --------------------------------------------------------------------------------


def first_difference(
    spec: Spec, expected: tuple[Step, ...], observed: tuple[Step, ...], tol: Tolerance, with_loss: bool,
    unplayed: frozenset[str] = frozenset(),
) -> tuple[int, str] | None:
    """The first step (index) where the observed trace departs from the expected one, and how."""
    for index, (want, got) in enumerate(zip(expected, observed)):
        if with_loss and not tol.close(got.loss, want.loss):
            return index, _("{step}: the loss is {got}, expected {want}{far}.").format(
                step=step_label(spec, index), got=fmt(got.loss), want=fmt(want.loss), far=_far(got.loss, want.loss)
            )
        for name in spec.param_names:
            g, w = got.grads.get(name), want.grads[name]
            if g is None and unplayed and name in unplayed:
                return index, _("{step}: nothing in your model plays {name}: no tensor of yours gets the gradient "
                                "{name} should get.").format(step=step_label(spec, index), name=name)
            if g is None:
                return index, _("{step}: {name}.grad was empty after backward(); is {name} still the tensor you "
                                "created with requires_grad=True?").format(step=step_label(spec, index), name=name)
            if not tol.close(g, w):
                return index, _("{step}: {name}.grad is {got}, expected {want}{far}.").format(
                    step=step_label(spec, index), name=name, got=fmt(g), want=fmt(w), far=_far(g, w)
                )
    return None


def unplayed(spec: Spec, trace: Trace) -> frozenset[str]:
    """The parameters no slot of the student's plays, when some do (a model without one of the terms)."""
    if not trace.roles:
        return frozenset()
    return frozenset(n for n in spec.param_names if trace.slot_of(n) is None)


def _steps_json(steps: tuple[Step, ...], limit: int) -> list[dict]:
    return [{"loss": encode_number(s.loss), "grads": _numbers(s.grads)} for s in steps[:limit]]


def check_first_epoch_grads(spec: Spec, reference: Reference, trace: Trace) -> CheckResult:
    tol = spec.check("first_epoch_grads").tolerance
    n = spec.samples
    expected, observed = reference.steps[:n], trace.steps[:n]
    extra = {"expected": _steps_json(expected, n), "observed": _steps_json(observed, n)}
    difference = first_difference(spec, expected, observed, tol, with_loss=False, unplayed=unplayed(spec, trace))
    if difference is not None:
        index, message = difference
        return _result("first_epoch_grads", spec, FAIL, message, step=index, **extra)
    if len(observed) < n:
        if not observed and trace.outcome.status != FINISHED:
            message = _("No backward pass was observed: your program stopped before its first backward().")
        elif not observed:
            message = _("No backward pass was observed: call backward() on each sample's loss.")
        else:
            message = _("Only {k} of the {n} backward passes of the first epoch were observed.").format(
                k=len(observed), n=n
            )
        why = why_stopped(trace)
        status = ERROR if why and trace.outcome.status != FINISHED else FAIL
        return _result("first_epoch_grads", spec, status, sentences(message, why), step=len(observed), **extra)
    return _result(
        "first_epoch_grads", spec, PASS,
        _("The gradients of all {n} steps of the first epoch match ({tol}).").format(n=n, tol=tol.describe()),
        **extra,
    )


def check_training(spec: Spec, reference: Reference, trace: Trace) -> CheckResult:
    tol = spec.check("training").tolerance
    total = spec.total_steps
    count = trace.backward_count
    extra = {"expected": {"steps": total}, "observed": {"steps": count}}
    difference = first_difference(spec, reference.steps, trace.steps, tol, with_loss=True,
                                  unplayed=unplayed(spec, trace))
    if difference is not None:
        index, message = difference
        return _result("training", spec, FAIL, message, step=index, **extra)
    if count != total:
        if count == 0:
            message = _("No training step was observed: no backward() call ran.")
        elif count < total:
            message = _("Only {k} of the {n} training steps ran ({epochs} epochs x {samples} samples); the ones "
                        "that ran are right.").format(k=count, n=total, epochs=spec.epochs, samples=spec.samples)
        else:
            message = _("{k} backward passes ran, expected {n} ({epochs} epochs x {samples} samples); the first {n} "
                        "are right.").format(k=count, n=total, epochs=spec.epochs, samples=spec.samples)
        why = why_stopped(trace)
        status = ERROR if count < total and trace.outcome.status != FINISHED else FAIL
        return _result("training", spec, status, sentences(message, why), step=min(count, total), **extra)
    return _result(
        "training", spec, PASS,
        _("All {n} training steps match: the loss and every gradient ({tol}).").format(n=total, tol=tol.describe()),
        **extra,
    )


def parameters_moved(spec: Spec, trace: Trace) -> bool:
    """Training happened: some parameter left its starting value during the run (seen at a backward pass or
    at the end).  Backward passes alone are not training: they may never reach the parameters."""
    seen = [step.params for step in trace.steps] + [trace.final_params]
    start = trace.steps[0].params if trace.steps else spec.initial
    return any(
        values.get(name) is not None and start.get(name) is not None and values[name] != start[name]
        for values in seen
        for name in spec.param_names
    )


def check_final_prediction(spec: Spec, reference: Reference, trace: Trace) -> CheckResult:
    tol = spec.check("final_prediction").tolerance
    # Computed from the parameters the program ended with, by the spec's model: a forward() that returns
    # the lecture's printed number earns nothing.
    call = _("the model at x = {x:g}").format(x=spec.probe_x)
    extra = {"expected": encode_number(reference.prediction), "observed": encode_number(trace.prediction)}
    if not trace.steps:
        return _result(
            "final_prediction", spec, FAIL,
            _("No training was observed, so {call} after the program is not graded.").format(call=call), **extra,
        )
    if not parameters_moved(spec, trace):
        return _result(
            "final_prediction", spec, FAIL,
            _("The parameters never changed during training, so {call} after the program is not graded.").format(
                call=call
            ),
            **extra,
        )
    if trace.prediction is None:
        return _result(
            "final_prediction", spec, ERROR,
            _("{call} could not be computed: the parameters' values after your program ran were not found.").format(
                call=call),
            **extra,
        )
    if not tol.close(trace.prediction, reference.prediction):
        return _result(
            "final_prediction", spec, FAIL,
            _("After training, {call} is {got}, expected {want}{far}.").format(
                call=call, got=fmt(trace.prediction), want=fmt(reference.prediction),
                far=_far(trace.prediction, reference.prediction),
            ),
            **extra,
        )
    return _result(
        "final_prediction", spec, PASS,
        _("After training, {call} = {got} (expected {want}, {tol}).").format(
            call=call, got=fmt(trace.prediction), want=fmt(reference.prediction), tol=tol.describe()
        ),
        **extra,
    )


def check_plot(spec: Spec, reference: Reference, trace: Trace) -> CheckResult:
    lengths = [len(line.ys) for figure in trace.figures for line in figure.lines]
    extra = {"expected": {"points": spec.epochs}, "observed": {"lines": lengths}}
    for figure in trace.figures:
        for line in figure.lines:
            if len(line.ys) == spec.epochs and all(v is not None and math.isfinite(v) for v in line.ys):
                return _result(
                    "plot", spec, PASS,
                    _("A figure with one point per epoch ({n} points) was drawn.").format(n=spec.epochs), **extra,
                )
    if not trace.figures:
        message = _("No figure was drawn (plot the cost of each epoch with matplotlib).")
    elif not lengths:
        message = _("A figure was drawn, but it has no line.")
    elif spec.epochs in lengths:  # the right length, but the cost is not finite (the training diverged)
        message = _("The figure's line of {n} points holds values that are not finite (inf or nan): the cost "
                    "diverged.").format(n=spec.epochs)
    else:
        message = _("The figure's lines have {lengths} points; expected one point per epoch ({n}).").format(
            lengths=", ".join(str(n) for n in lengths), n=spec.epochs
        )
    return _result("plot", spec, FAIL, message, **extra)


def check_runs(spec: Spec, reference: Reference, trace: Trace) -> CheckResult:
    took = trace.outcome.seconds
    seconds = _(" in {s:.2f} s").format(s=took) if took is not None else ""
    if trace.outcome.status == FINISHED:
        return _result("runs", spec, PASS, _("Your program ran to its end{seconds}.").format(seconds=seconds))
    return _result("runs", spec, FAIL, why_stopped(trace))


CheckFunction = Callable[[Spec, Reference, Trace], CheckResult]

# The one list of checks: a spec's [checks.<id>] tables must name ids from here; reports follow this order.
CHECKS: dict[str, CheckFunction] = {
    "forward": check_forward,
    "loss": check_loss,
    "first_epoch_grads": check_first_epoch_grads,
    "training": check_training,
    "final_prediction": check_final_prediction,
    "runs": check_runs,
    "plot": check_plot,
}


def run_checks(spec: Spec, reference: Reference, trace: Trace) -> tuple[CheckResult, ...]:
    """The checks the spec uses (spec.checks is in the registry's order)."""
    return tuple(CHECKS[check.id](spec, reference, trace) for check in spec.checks)
