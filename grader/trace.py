"""What a run observed, as frozen values, and how it is rebuilt from the child's JSON events.

The child process sends one JSON object per line over a private pipe (see grader/_child.py).  Nothing it
sends is trusted: every field is checked here, and anything malformed is dropped with a note, so a
submission that scribbles on the channel can only lose information, never invent a well-formed result.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from grader.i18n import _, translate_template

# How a run ended.
FINISHED = "finished"  # the program ran to its end (or called sys.exit(0))
EXCEPTION = "exception"  # it raised
EXITED = "exit"  # it called sys.exit with a non-zero status
SYNTAX_ERROR = "syntax_error"
TIMEOUT = "timeout"
CRASHED = "crashed"  # the process died without saying how (os._exit, a signal, out of memory)
TAMPERED = "tampered"  # something other than the grader wrote into the grader's channel: nothing counts
UNREADABLE = "unreadable"  # the file could not be turned into code to run (a broken notebook, ...)
ENDINGS = (FINISHED, EXCEPTION, EXITED, SYNTAX_ERROR, TIMEOUT, CRASHED, UNREADABLE, TAMPERED)


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
class PlotLine:
    label: str
    ys: tuple[float | None, ...]


@dataclass(frozen=True)
class Figure:
    number: int
    lines: tuple[PlotLine, ...]
    png: str | None = None  # base64 PNG, when the run saved one


@dataclass(frozen=True)
class CellRun:
    """What one notebook cell produced when it ran under grading."""

    index: int  # position among all the notebook's cells
    number: int  # position among its code cells
    stdout: str = ""
    stderr: str = ""
    result: str | None = None  # repr of the cell's last expression, as Jupyter would show it
    error: str | None = None
    error_name: str | None = None
    traceback: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()  # base64 PNGs


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


ISOLATION_LAYERS = ("limits", "audit", "network", "filesystem", "user")


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
    functions: frozenset[str] = frozenset()
    outcome: Outcome = Outcome(CRASHED)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    cells: tuple[CellRun, ...] = ()
    isolation: tuple[str, ...] = ()  # the sandbox layers the child had in place (grader/_sandbox.py)

    @property
    def backward_count(self) -> int:
        return len(self.steps) + self.extra_steps


# -- decoding --------------------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    """A float from JSON, or None.  Non-finite values travel as the strings 'nan', 'inf', '-inf'."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return None


def encode_number(value: float | None) -> float | str | None:
    """The inverse of ``number``: JSON has no NaN or Infinity, so those become strings."""
    if value is None:
        return None
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def strict(value: Any) -> Any:
    """The value with every non-finite float, at any depth, written as "nan", "inf" or "-inf"."""
    if isinstance(value, float):
        return encode_number(value)
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def _text(value: Any, limit: int = 20_000) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _sentence(value: Any, limit: int = 2000) -> str | None:
    """A sentence the child sent as {"template", "args"}: translated here, in the parent."""
    if isinstance(value, dict) and isinstance(value.get("template"), str):
        args = value.get("args") if isinstance(value.get("args"), dict) else {}
        safe = {str(k): (_(v) if isinstance(v, str) else v)  # a phrase from the catalog is translated too
                for k, v in args.items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
        return translate_template(value["template"][:limit], safe)[:limit]
    return _text(value, limit)


def _line(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _numbers(value: Any, names: Iterable[str]) -> dict[str, float | None]:
    table = value if isinstance(value, dict) else {}
    return {name: number(table.get(name)) for name in names}


def sign(key: bytes, sequence: int, line: bytes) -> bytes:
    """The signature the child puts before its ``sequence``-th event line (see Channel in grader/_observer.py)."""
    return hmac.digest(key, b"%d:" % sequence + line, "sha256")[:16].hex().encode()


def parse_events(lines: Iterable[bytes], key: bytes) -> tuple[list[dict[str, Any]], list[str], int]:
    """Decode the child's signed JSON lines.  Return the events (objects with an 'event' key), notes, and
    how many lines did not come from the grader: with a wrong or missing signature, or out of sequence."""
    events, notes, foreign, sequence = [], [], 0, 0
    for raw in lines:
        if not raw.strip():
            continue
        mac, _space, raw = raw.partition(b" ")
        if not hmac.compare_digest(mac, sign(key, sequence, raw)):
            foreign += 1
            continue
        sequence += 1
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            notes.append("the grader's channel carried a line that is not JSON; it was ignored")
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.append(event)
    return events, notes, foreign


def build_trace(
    events: list[dict[str, Any]],
    names: tuple[str, ...],
    *,
    outcome: Outcome | None,
    stdout: str,
    stderr: str,
    seconds: float,
    notes: Iterable[str] = (),
    max_steps: int,
) -> Trace:
    """Fold the child's events into a Trace.  ``outcome``, when given (a timeout, a crash), overrides what
    the child said about how the program ended."""
    steps: list[Step] = []
    extra = 0
    probes: list[Probe] = []
    figures: list[Figure] = []
    final_params: dict[str, float | None] = {name: None for name in names}
    final_leaf: dict[str, bool] = {}
    prediction = None
    prediction_error = None
    functions: frozenset[str] = frozenset()
    child_outcome: Outcome | None = None
    cells: list[CellRun] = []
    isolation: tuple[str, ...] = ()
    notes = list(notes)
    for event in events:
        kind = event["event"]
        if kind == "ready":
            layers = event.get("isolation")
            if isinstance(layers, list):
                isolation = tuple(layer for layer in layers[:10] if layer in ISOLATION_LAYERS)
        elif kind == "step":
            if len(steps) < max_steps:
                steps.append(
                    Step(
                        loss=number(event.get("loss")),
                        grads=_numbers(event.get("grads"), names),
                        params=_numbers(event.get("params"), names),
                        line=_line(event.get("line")),
                        file=_text(event.get("file"), 300),
                    )
                )
            else:
                extra += 1
        elif kind == "extra_steps":
            count = event.get("count")
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                extra += count
        elif kind == "outcome":
            status = event.get("status")
            if status in ENDINGS:
                message = _text(event.get("message"), 2000)
                limit = number(event.get("limit"))
                if status == TIMEOUT and limit is not None:
                    message = _("the time limit is {limit:g} s").format(limit=limit)
                elif status == EXITED:
                    code = _text(event.get("exit_code"), 100) or "?"
                    message = _("the program called sys.exit({code})").format(code=code)
                child_outcome = Outcome(
                    status=status,
                    message=message,
                    exc_type=_text(event.get("exc_type"), 200),
                    line=_line(event.get("line")),
                    traceback=_text(event.get("traceback")),
                    seconds=number(event.get("seconds")),
                    file=_text(event.get("file"), 300),
                    denied=_sentence(event.get("denied")),
                )
        elif kind == "final":
            final_params = _numbers(event.get("params"), names)
            leaf = event.get("leaf")
            if isinstance(leaf, dict):
                final_leaf = {n: leaf[n] for n in names if isinstance(leaf.get(n), bool)}
            prediction = number(event.get("prediction"))
            prediction_error = _sentence(event.get("prediction_error"))
            funcs = event.get("functions")
            if isinstance(funcs, list):
                functions = frozenset(f for f in funcs if isinstance(f, str))
        elif kind == "probe":
            probe_kind = event.get("kind")
            x = number(event.get("x"))
            if probe_kind in ("forward", "loss") and x is not None:
                probes.append(
                    Probe(
                        kind=probe_kind,
                        params={k: v for k, v in _numbers(event.get("params"), names).items() if v is not None},
                        x=x,
                        y=number(event.get("y")),
                        value=number(event.get("value")),
                        grads=_numbers(event.get("grads"), names),
                        error=_sentence(event.get("error")),
                    )
                )
        elif kind == "figure":
            number_ = event.get("number")
            raw_lines = event.get("lines")
            if isinstance(number_, int) and isinstance(raw_lines, list):
                plot_lines = tuple(
                    PlotLine(
                        label=_text(line.get("label"), 200) or "",
                        ys=tuple(number(v) for v in line.get("ys", [])[:10_000] if isinstance(line.get("ys"), list)),
                    )
                    for line in raw_lines[:50]
                    if isinstance(line, dict)
                )
                png = event.get("png")
                figures.append(Figure(number_, plot_lines, png if isinstance(png, str) and len(png) < 4_000_000 else None))
        elif kind == "cell":
            index, number_ = event.get("index"), event.get("number")
            if isinstance(index, int) and isinstance(number_, int) and len(cells) < 10_000:
                tb = event.get("traceback")
                figs = event.get("figures")
                cells.append(
                    CellRun(
                        index=index,
                        number=number_,
                        stdout=_text(event.get("stdout"), 200_000) or "",
                        stderr=_text(event.get("stderr"), 200_000) or "",
                        result=_text(event.get("result"), 10_000),
                        error=_text(event.get("error"), 2000),
                        error_name=_text(event.get("error_name"), 200),
                        traceback=tuple(t for t in tb[:200] if isinstance(t, str)) if isinstance(tb, list) else (),
                        figures=tuple(f for f in figs[:20] if isinstance(f, str) and len(f) < 4_000_000)
                        if isinstance(figs, list) else (),
                    )
                )
        elif kind == "note":
            text = _sentence(event.get("text"), 500)
            if text:
                notes.append(text)
    if outcome is None:
        outcome = child_outcome or Outcome(CRASHED, _("the program stopped without reporting how it ended"))
    return Trace(
        steps=tuple(steps),
        extra_steps=extra,
        final_params=final_params,
        final_leaf=final_leaf,
        prediction=prediction,
        prediction_error=prediction_error,
        probes=tuple(probes),
        figures=tuple(figures),
        functions=functions,
        outcome=outcome,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        notes=tuple(dict.fromkeys(notes)),
        cells=tuple(cells),
        isolation=isolation,
    )
