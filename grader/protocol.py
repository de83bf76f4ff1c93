"""What the grader's processes say to each other, defined in one place (standard library only).

Three conversations cross a process boundary:

* **configuration**: the parent hands the child one ``ChildConfig`` (JSON) over a private pipe, and only
  once the program has ended and the child has said what it trained (``Program``), the hidden calls to
  make over another (``probe_calls_text``): until then they are nowhere in the child's process;
* **events**: the child reports what it observed as events (``Ready``, ``Steps``, ``Ended``, ...), sent in
  signed *frames* over another private pipe.  A frame is one line, ``MAC PAYLOAD``, where PAYLOAD is a JSON
  array of event objects and MAC the first 16 bytes (hex) of HMAC-SHA256(key, b"SEQUENCE:" + PAYLOAD), with
  the key drawn by the parent for this run and SEQUENCE counting the frames from 0.  The parent reads them
  with ``FrameReader``: a line that fails the check was not written by the grader;
* **fork server**: the parent asks the warm process for a child per job (``ForkRequest``), and hears back
  its pid (``Forked``) and its exit status (``Exited``).

The child writes events with two plain functions, ``encode`` and ``sign``, which use only exact types and
C functions.  Student code shares the child's process and can reach this module, so the observer does
not call them here: it makes private copies when it is loaded, before any student code runs
(``private_copy``), and nothing later done to this module reaches those copies.

Everything read from another process is checked here: a malformed value raises ``ProtocolError`` with the
reason, never something else.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from dataclasses import MISSING, dataclass, field, fields
from types import FunctionType
from typing import Any, Callable, ClassVar, Mapping

try:  # the C function behind hmac.digest: what the observer may call (see private_copy)
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # pragma: no cover - a Python built without OpenSSL
    _hmac_digest = hmac.digest
from _json import encode_basestring_ascii as _escape

# -- how a run ended -----------------------------------------------------------------------------------

FINISHED = "finished"  # the program ran to its end (or called sys.exit(0))
EXCEPTION = "exception"  # it raised
EXITED = "exit"  # it called sys.exit with a non-zero status
SYNTAX_ERROR = "syntax_error"
TIMEOUT = "timeout"
CRASHED = "crashed"  # the process died without saying how (os._exit, a signal, out of memory)
OVER_DISK = "disk"  # it wrote more into its scratch folder than it may, and the parent stopped it
TAMPERED = "tampered"  # something other than the grader wrote into the grader's channel: nothing counts
UNREADABLE = "unreadable"  # the file could not be turned into code to run (a broken notebook, ...)
CHILD_ENDINGS = (FINISHED, EXCEPTION, EXITED, SYNTAX_ERROR, TIMEOUT)  # what the child itself may report
ENDINGS = CHILD_ENDINGS + (CRASHED, OVER_DISK, UNREADABLE, TAMPERED)

ISOLATION_LAYERS = ("limits", "audit", "network", "filesystem", "user", "landlock", "seccomp")
ROLES = ("forward", "loss")  # the student's functions the grader calls, by role
MAX_SLOTS = 64  # slots (tensor elements) a kind of backward pass may train, as the child reports them
MAX_FUNCTIONS = 64  # the student's functions the child lists
MAC_HEX = 32  # characters of a frame's signature
EVENTS_CAP = 64 * 1024 * 1024  # bytes of events the parent reads from one run


class ProtocolError(ValueError):
    """A message from another process is malformed; the text says what is wrong with it."""


# -- the child's writing (copied privately by the observer: exact types, builtins and C functions only) --


def encode(value) -> str:
    """JSON text of ``value`` made of exact JSON types (None, bool, int, float, str, list, tuple, dict with
    str keys); NaN and infinities become the strings "nan", "inf", "-inf"; anything else becomes null."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value - value == 0.0:  # finite
            return float.__repr__(value)
        return '"nan"' if value != value else ('"inf"' if value > 0 else '"-inf"')
    if kind is str:
        return _escape(value)
    if kind is list or kind is tuple:
        return "[" + ",".join([encode(item) for item in value]) + "]"
    if kind is dict:
        return "{" + ",".join([_escape(k) + ":" + encode(v) for k, v in value.items() if type(k) is str]) + "}"
    return "null"


def sign(key: bytes, sequence: int, payload: bytes) -> bytes:
    """The signature of the ``sequence``-th frame (hex, ASCII)."""
    return _hmac_digest(key, b"%d:" % sequence + payload, "sha256")[: MAC_HEX // 2].hex().encode("ascii")


def frame(key: bytes, sequence: int, events: list) -> bytes:
    """One signed frame holding ``events`` (each already encoded with ``encode``)."""
    payload = ("[" + ",".join(events) + "]").encode("ascii")
    return sign(key, sequence, payload) + b" " + payload + b"\n"


def sentence_json(template: str, args: dict) -> dict:
    """A ``Sentence`` as the child sends it: the English template and its arguments."""
    return {"template": template, "args": args}


def read_probe_calls(data: bytes) -> list:
    """The calls the parent sent once the program had ended (see ``probe_calls_text``), each a tuple
    (index, function, args, binds, x, y, pred, assign).  Raises ValueError for anything else."""
    calls = []
    for line in data.decode("utf-8").split("\n"):
        if line == "":
            continue
        fields = line.split(" ")
        if len(fields) < 7 or not (fields[0] + fields[1]).isascii():
            raise ValueError("not a probe call")
        args = () if fields[2] == "-" else tuple(fields[2].split(","))
        for token in args:
            head, rest = token[:1], token[1:]
            if not (token == "x" or token == "y" or token == "p" or (head == "s" and rest.isascii() and rest.isdigit())
                    or (head == "c" and float(rest) == float(rest))):
                raise ValueError("not an argument of a probe call")
        binds = []
        for token in ([] if fields[3] == "-" else fields[3].split(",")):
            name, _, what = token.partition("=")
            if not name.isidentifier() or (what != "x" and what != "y" and what != "p"):
                raise ValueError("not a binding of a probe call")
            binds.append((name, what))
        x, y, pred = [None if f == "-" else float(f) for f in fields[4:7]]
        assign = []
        for token in fields[7:]:
            slot, _, value = token.partition("=")
            if not (slot.isascii() and slot.isdigit()):
                raise ValueError("not a slot of a probe call")
            assign.append((int(slot), float(value)))
        calls.append((int(fields[0]), int(fields[1]), args, tuple(binds), x, y, pred, tuple(assign)))
    return calls


def private_copy(names: tuple, builtins: dict) -> tuple:
    """Fresh copies of this module's functions ``names``, whose globals are a copy of this module's
    namespace as it is now, with ``builtins`` as their builtins.  Call it before student code runs: later
    changes to this module, to its functions' attributes or to ``builtins`` do not reach the copies."""
    space = dict(globals())
    space["__builtins__"] = builtins
    for name, value in list(space.items()):
        if type(value) is FunctionType and value.__module__ == __name__:
            space[name] = FunctionType(value.__code__, space, value.__name__, value.__defaults__, value.__closure__)
    return tuple(space[name] for name in names)


# -- reading what another process sent ------------------------------------------------------------------

_MISSING = object()


def number(value: Any) -> float | None:
    """A float from JSON (None stays None; non-finite values travel as "nan", "inf", "-inf")."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ProtocolError("a number was expected, not a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    raise ProtocolError(f"a number was expected, not {type(value).__name__}")


def encode_number(value: float | None) -> float | str | None:
    """The inverse of ``number``: JSON has no NaN or Infinity, so those become strings."""
    if value is None:
        return None
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _required_number(value: Any) -> float:
    if value is None:
        raise ProtocolError("a number is required")
    return number(value)


def _integer(minimum: int | None = None, optional: bool = False) -> Callable[[Any], int | None]:
    def read(value: Any) -> int | None:
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtocolError(f"a whole number was expected, not {type(value).__name__}")
        if minimum is not None and value < minimum:
            raise ProtocolError(f"{value} is below {minimum}")
        return value

    return read


def _text(limit: int, optional: bool = True) -> Callable[[Any], str | None]:
    """A string, cut at ``limit`` characters (student output may be long: cutting it is not an error)."""

    def read(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise ProtocolError(f"a string was expected, not {type(value).__name__}")
        return value[:limit]

    return read


# What cannot be shown as it is: C0 and C1 controls but newline and tab, lone surrogates (not Unicode: no
# UTF-8 writer takes them), and the bidirectional controls that can make text read otherwise than it is.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def visible(text: str, limit: int | None = None) -> str:
    """Text from a submission made safe to keep and to show anywhere: at most ``limit`` characters,
    Windows line ends as newlines, and every character in _HIDDEN written as its escape (``\\x1b``)."""
    if limit is not None:
        text = text[:limit]
    text = text.replace("\r\n", "\n")
    return _HIDDEN.sub(lambda m: ascii(m.group())[1:-1], text)


def _said(limit: int, optional: bool = True) -> Callable[[Any], str | None]:
    """A string the child sent: cut at ``limit`` characters, and made visible (see ``visible``)."""
    read = _text(limit, optional)

    def said(value: Any) -> str | None:
        text = read(value)
        return None if text is None else visible(text)

    return said


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"true or false was expected, not {type(value).__name__}")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        if value not in choices:
            raise ProtocolError(f"{str(value)[:40]!r} is not one of {', '.join(choices)}")
        return value

    return read


def _sequence(read_item: Callable[[Any], Any], most: int) -> Callable[[Any], tuple]:
    def read(value: Any) -> tuple:
        if not isinstance(value, list):
            raise ProtocolError(f"a list was expected, not {type(value).__name__}")
        if len(value) > most:
            raise ProtocolError(f"{len(value)} items, at most {most} allowed")
        return tuple(read_item(item) for item in value)

    return read


def _table(read_value: Callable[[Any], Any], most: int = 64) -> Callable[[Any], dict]:
    """A JSON object with string keys, each value read by ``read_value``."""

    def read(value: Any) -> dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"an object was expected, not {type(value).__name__}")
        if len(value) > most:
            raise ProtocolError(f"{len(value)} entries, at most {most} allowed")
        return {str(k)[:100]: read_value(v) for k, v in value.items()}

    return read


def _numbers(value: Any) -> dict[str, float | None]:
    """A JSON object of numbers (a step's gradients and parameters: the bulk of what a run sends)."""
    if not isinstance(value, dict):
        raise ProtocolError(f"an object was expected, not {type(value).__name__}")
    if len(value) > 64:
        raise ProtocolError(f"{len(value)} entries, at most 64 allowed")
    return {key[:100]: float(item) if type(item) is float or type(item) is int else number(item)
            for key, item in value.items()}


@dataclass(frozen=True)
class Sentence:
    """A sentence for the student, sent untranslated: an English template and its arguments (the parent
    translates it; see grader/i18n.py)."""

    template: str
    args: tuple[tuple[str, str | int | float], ...] = ()


def _argument(value: Any) -> str | int | float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ProtocolError(f"a sentence's argument must be text or a number, not {type(value).__name__}")
    return visible(value, 1000) if isinstance(value, str) else value


def _sentence(value: Any) -> Sentence | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"template", "args"} or not isinstance(value.get("template"), str):
        raise ProtocolError("a sentence is an object with a template and its args")
    args = _table(_argument, most=16)(value.get("args", {}))
    return Sentence(visible(value["template"], 2000), tuple(args.items()))


def _isolation(value: Any) -> tuple[str, ...]:
    return _sequence(_one_of(ISOLATION_LAYERS), len(ISOLATION_LAYERS))(value)


def _png(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) >= 4_000_000):
        raise ProtocolError("a figure is base64 text of less than 4 MB")
    return value


def _reader(read: Callable[[Any], Any], default: Any = _MISSING) -> Any:
    """A dataclass field read from JSON by ``read``; without a default the field is required."""
    metadata = {"read": read}
    if default is _MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


_FIELDS: dict[type, tuple[frozenset, tuple]] = {}  # per class: its field names, and (name, reader, required)


def _fields_of(cls: type) -> tuple[frozenset, tuple]:
    if cls not in _FIELDS:
        table = tuple((f.name, f.metadata["read"], f.default is MISSING) for f in fields(cls))
        _FIELDS[cls] = (frozenset(name for name, _, _ in table) | {"event"}, table)
    return _FIELDS[cls]


def _decode(cls: type, data: Any, what: str) -> Any:
    """An instance of the dataclass ``cls`` from a JSON object, each field checked by its reader."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{what}: an object was expected, not {type(data).__name__}")
    known, table = _fields_of(cls)
    if not known.issuperset(data):
        raise ProtocolError(f"{what}: unknown field {sorted(set(data) - known)[0][:40]!r}")
    values = {}
    for name, read, required in table:
        raw = data.get(name, _MISSING)
        if raw is _MISSING:
            if required:
                raise ProtocolError(f"{what}: field {name!r} is missing")
            continue
        try:
            values[name] = read(raw)
        except ProtocolError as exc:
            raise ProtocolError(f"{what}, field {name!r}: {exc}") from None
    try:
        return cls(**values)
    except ProtocolError as exc:  # a rule across fields
        raise ProtocolError(f"{what}: {exc}") from None


def plain(value: Any) -> Any:
    """JSON-ready data for a message (dataclasses, tuples and mappings; non-finite floats as strings)."""
    if isinstance(value, Sentence):
        return {"template": value.template, "args": dict(value.args)}
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, float):
        return encode_number(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


# -- events: child -> parent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """The child is set up and about to run student code: the student's clock starts now."""

    KIND: ClassVar[str] = "ready"
    isolation: tuple[str, ...] = _reader(_isolation, ())


_line, _file = _integer(1, optional=True), _said(300)


def _row(value: Any) -> tuple:
    """One backward pass: [loss, line, file, [gradients...], [values...]]."""
    if type(value) is not list or len(value) != 5:
        raise ProtocolError("a step is a list of five: loss, line, file, gradients, values")
    loss, line, file, grads, params = value
    if type(grads) is not list or type(params) is not list or len(grads) > MAX_SLOTS or len(params) > MAX_SLOTS:
        raise ProtocolError("a step's gradients and values are lists of numbers")
    return (loss if type(loss) is float else number(loss), _line(line), _file(file),
            tuple([v if type(v) is float else number(v) for v in grads]),
            tuple([v if type(v) is float else number(v) for v in params]))


@dataclass(frozen=True)
class Steps:
    """Backward passes, in order: for each, the loss it started from, where backward() was called, and the
    gradient after it and value at it of each slot the pass trained, in the order of ``names`` (the slots'
    labels: the spec's parameter names, or where the student keeps them: ``w_1``, ``w[0]``, ``model.b``;
    None where one was missing).  The child starts a new event when the labels change."""

    KIND: ClassVar[str] = "steps"
    names: tuple[str, ...] = _reader(_sequence(_said(200, optional=False), MAX_SLOTS))
    rows: tuple[tuple, ...] = _reader(_sequence(_row, 100_000))

    def __post_init__(self) -> None:
        if any(len(row[3]) != len(self.names) or len(row[4]) != len(self.names) for row in self.rows):
            raise ProtocolError("a step has a gradient and a value for each of the names")


@dataclass(frozen=True)
class ExtraSteps:
    """Backward passes past the recording cap, counted only."""

    KIND: ClassVar[str] = "extra_steps"
    count: int = _reader(_integer(0))


@dataclass(frozen=True)
class Note:
    """Something the student should know (a parameter found under another name, a refused attempt...)."""

    KIND: ClassVar[str] = "note"
    text: Sentence = _reader(_sentence)


@dataclass(frozen=True)
class Ended:
    """How the student's program ended (the parent may override it: a timeout it enforced, a crash)."""

    KIND: ClassVar[str] = "outcome"
    status: str = _reader(_one_of(CHILD_ENDINGS))
    message: str | None = _reader(_said(2000), None)
    exc_type: str | None = _reader(_said(200), None)
    line: int | None = _reader(_integer(1, optional=True), None)
    file: str | None = _reader(_said(300), None)
    traceback: str | None = _reader(_said(20_000), None)
    seconds: float | None = _reader(number, None)
    limit: float | None = _reader(number, None)  # the time limit, when that is how it ended
    exit_code: str | None = _reader(_said(100), None)  # sys.exit's argument, when that is how it ended
    denied: Sentence | None = _reader(_sentence, None)  # what the sandbox refused, when that is how


@dataclass(frozen=True)
class Function:
    """A function of the student's the grader may call after the run: where it was found (``label``, as a
    call would spell it: ``forward``, ``model.forward``, ``model``), its positional parameters and how many
    have defaults, the global names its code reads, and the kind of backward pass (an index into
    ``Program.kinds``) in whose namespaces it was found (None: the module's, after the run)."""

    label: str = _reader(_said(200, optional=False))
    args: tuple[str, ...] = _reader(_sequence(_said(100, optional=False), 32), ())
    defaults: int = _reader(_integer(0), 0)
    reads: tuple[str, ...] = _reader(_sequence(_said(100, optional=False), 200), ())
    line: int | None = _reader(_integer(1, optional=True), None)
    kind: int | None = _reader(_integer(0, optional=True), None)


def _function(value: Any) -> Function:
    return _decode(Function, value, "function")


@dataclass(frozen=True)
class Program:
    """After the program ended: every slot the backward passes trained (one element of a tensor, labelled
    by where the student keeps it), its value now and whether its label still names a leaf tensor; the
    kinds of backward pass (each a tuple of slot labels, in the order first seen); and the student's
    functions the grader may call."""

    KIND: ClassVar[str] = "program"
    slots: tuple[str, ...] = _reader(_sequence(_said(200, optional=False), MAX_SLOTS))
    values: tuple[float | None, ...] = _reader(_sequence(number, MAX_SLOTS))
    leaf: tuple[bool, ...] = _reader(_sequence(_boolean, MAX_SLOTS))
    kinds: tuple[tuple[str, ...], ...] = _reader(_sequence(_sequence(_said(200, optional=False), MAX_SLOTS), 64), ())
    functions: tuple[Function, ...] = _reader(_sequence(_function, MAX_FUNCTIONS), ())

    def __post_init__(self) -> None:
        if not len(self.slots) == len(self.values) == len(self.leaf):
            raise ProtocolError("each slot has one value and one leaf flag")
        if any(f.kind is not None and f.kind >= len(self.kinds) for f in self.functions):
            raise ProtocolError("a function names a kind of pass that is not listed")


@dataclass(frozen=True)
class ProbeResult:
    """The answer to the parent's call number ``index`` (see ``ProbeCall``): what the call returned, and
    after backward() the gradient of each of ``Program.slots`` (None where the call set none) and of the
    prediction the call was given, if it was given one."""

    KIND: ClassVar[str] = "probe"
    index: int = _reader(_integer(0))
    grads: tuple[float | None, ...] = _reader(_sequence(number, MAX_SLOTS), ())
    value: float | None = _reader(number, None)
    pred_grad: float | None = _reader(number, None)
    error: Sentence | None = _reader(_sentence, None)


@dataclass(frozen=True)
class PlotLine:
    label: str = _reader(_said(200), "")
    ys: tuple[float | None, ...] = _reader(_sequence(number, 10_000), ())


def _plot_line(value: Any) -> PlotLine:
    return _decode(PlotLine, value, "plot line")


@dataclass(frozen=True)
class Figure:
    """A matplotlib figure the program drew: its lines' values, and a PNG when the run asked for one."""

    KIND: ClassVar[str] = "figure"
    number: int = _reader(_integer())
    lines: tuple[PlotLine, ...] = _reader(_sequence(_plot_line, 50), ())
    png: str | None = _reader(_png, None)


@dataclass(frozen=True)
class Cell:
    """What one notebook cell produced when it ran under grading."""

    KIND: ClassVar[str] = "cell"
    index: int = _reader(_integer(0))  # position among all the notebook's cells
    number: int = _reader(_integer(1))  # position among its code cells
    stdout: str = _reader(_said(200_000, optional=False), "")
    stderr: str = _reader(_said(200_000, optional=False), "")
    result: str | None = _reader(_said(10_000), None)  # repr of the cell's last expression, as Jupyter shows it
    error: str | None = _reader(_said(2000), None)
    error_name: str | None = _reader(_said(200), None)
    traceback: tuple[str, ...] = _reader(_sequence(_said(20_000, optional=False), 200), ())
    figures: tuple[str, ...] = _reader(_sequence(_png, 20), ())  # base64 PNGs


@dataclass(frozen=True)
class Done:
    """The child has said everything: what follows it is its exit."""

    KIND: ClassVar[str] = "done"


Event = Ready | Steps | ExtraSteps | Note | Ended | Program | ProbeResult | Figure | Cell | Done
EVENT_TYPES: dict[str, type] = {cls.KIND: cls for cls in (Ready, Steps, ExtraSteps, Note, Ended, Program, ProbeResult,
                                                           Figure, Cell, Done)}
# The kinds, for the child's writing side (plain strings it can copy).
READY, STEPS, EXTRA_STEPS, NOTE, ENDED, PROGRAM, PROBE, FIGURE, CELL, DONE = EVENT_TYPES


def decode_event(data: Any) -> Event:
    """The event a JSON object stands for, or ProtocolError saying why it is none."""
    if not isinstance(data, dict):
        raise ProtocolError(f"an event is a JSON object, not {type(data).__name__}")
    kind = data.get("event")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown event kind {str(kind)[:40]!r}")
    return _decode(cls, data, f"{kind} event")


def event_json(event: Event) -> dict[str, Any]:
    """The JSON object of an event, as the child sends it."""
    return {"event": event.KIND, **plain(event)}


class FrameReader:
    """The parent's side of the events pipe: fed raw bytes as they arrive, it returns the events of every
    complete, genuine frame.  A line whose signature fails (not the grader's, or out of sequence) is
    counted in ``foreign``; an event that is malformed inside a genuine frame is dropped, and why is kept
    in ``problems``."""

    def __init__(self, key: bytes, cap: int = EVENTS_CAP) -> None:
        self.key = key
        self.cap = cap
        self.pending = bytearray()
        self.read = 0
        self.sequence = 0
        self.foreign = 0
        self.problems: list[str] = []

    def feed(self, data: bytes) -> list[Event]:
        if self.read >= self.cap:
            return []
        data = data[: self.cap - self.read]
        self.read += len(data)
        self.pending += data
        *lines, rest = self.pending.split(b"\n")
        self.pending = bytearray(rest)
        return [event for line in lines for event in self._line(bytes(line))]

    def close(self) -> list[Event]:
        """The events of a last line without its newline (a child that died while writing)."""
        rest, self.pending = bytes(self.pending), bytearray()
        return self._line(rest)

    def _line(self, line: bytes) -> list[Event]:
        if not line.strip():
            return []
        mac, _space, payload = line.partition(b" ")
        if not hmac.compare_digest(mac, sign(self.key, self.sequence, payload)):
            self.foreign += 1
            return []
        self.sequence += 1
        try:
            items = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            self.problems.append("a frame that is not JSON")
            return []
        if not isinstance(items, list):
            self.problems.append("a frame that is not a list of events")
            return []
        events = []
        for item in items:
            try:
                events.append(decode_event(item))
            except ProtocolError as exc:
                self.problems.append(str(exc))
        return events


# -- the child's configuration: parent -> child --------------------------------------------------------


@dataclass(frozen=True)
class ProbeCall:
    """A call the parent asks the child to make once the program has ended (parent -> child, as one line of
    ``probe_calls_text``): the student's function number ``function`` (in ``Program.functions``) with
    ``args``, each ``x``, ``y``, ``p`` (a fresh tensor holding ``pred``, the prediction a loss is given),
    ``s<k>`` (the tensor that holds slot k) or ``c<number>``; module names bound to x, y or p during the
    call (``binds``: a function that reads its input from globals); and the slots set to the probe's
    parameter values (``assign``: slot index -> value).  ``index`` names the answer (``ProbeResult``)."""

    index: int
    function: int
    args: tuple[str, ...] = ()
    binds: tuple[tuple[str, str], ...] = ()
    x: float | None = None
    y: float | None = None
    pred: float | None = None
    assign: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class CellSource:
    """A notebook's code cell, as the child runs it."""

    index: int = _reader(_integer(0))  # position among all the notebook's cells
    number: int = _reader(_integer(1))  # position among its code cells
    source: str = _reader(_text(10_000_000, optional=False))
    run: bool = _reader(_boolean, True)  # False: a cell in another language (%%bash, ...)


def _token(value: float | None) -> str:
    return "-" if value is None else repr(float(value))


def probe_calls_text(calls: tuple[ProbeCall, ...]) -> bytes:
    """The calls as the child reads them (``read_probe_calls``), one a line."""
    lines = []
    for call in calls:
        fields = [str(call.index), str(call.function), ",".join(call.args) or "-",
                  ",".join(f"{name}={what}" for name, what in call.binds) or "-",
                  _token(call.x), _token(call.y), _token(call.pred)]
        lines.append(" ".join(fields + [f"{slot}={float(value)!r}" for slot, value in call.assign]))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _cell_source(value: Any) -> CellSource:
    return _decode(CellSource, value, "cell")


def _cells(value: Any) -> tuple[CellSource, ...] | None:
    return None if value is None else _sequence(_cell_source, 100_000)(value)


def _names(value: Any) -> tuple[str, ...]:
    return _sequence(_text(100, optional=False), 64)(value)


def _key(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ProtocolError("the key is 64 hexadecimal digits")
    return value


@dataclass(frozen=True)
class ChildConfig:
    """Everything the child needs to run one submission and observe it."""

    key: str = _reader(_key)  # hex; signs the child's frames (student code never sees the configuration)
    display_name: str = _reader(_text(1000, optional=False))  # the file as messages name it
    workdir: str = _reader(_text(4096, optional=False))  # the scratch folder: the only writable place
    workfile: str = _reader(_text(4096, optional=False))  # the submission's copy in it: __main__.__file__
    source: str = _reader(_text(10_000_000, optional=False))  # a script's text (a notebook's: its cells)
    parameters: tuple[str, ...] = _reader(_names)  # the spec's parameter names (looked for first)
    max_steps: int = _reader(_integer(1))  # backward passes recorded; more are only counted
    time_limit: float = _reader(_required_number)  # seconds of the student's program
    bootstrap_path: str = _reader(_text(4096, optional=False))  # where the grader package was imported from
    cells: tuple[CellSource, ...] | None = _reader(_cells, None)  # a notebook's code cells, run one by one
    memory_mb: int = _reader(_integer(16), 1024)  # on top of what the process holds when limits are set
    file_mb: int = _reader(_integer(1), 16)  # largest file the child may write
    disk_mb: int = _reader(_integer(1), 64)  # all it may write into its scratch folder
    figure_png: bool = _reader(_boolean, False)  # draw figures as PNG (a graded notebook shows them)
    jail: bool = _reader(_boolean, True)  # isolate in a jail where the system allows it
    walls: bool = _reader(_boolean, True)  # Landlock and seccomp where the system offers them

    def to_json(self) -> str:
        return json.dumps(plain(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> "ChildConfig":
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"the configuration is not JSON: {exc}") from None
        return _decode(cls, data, "configuration")


# -- the fork server: parent <-> warm process ----------------------------------------------------------


@dataclass(frozen=True)
class ServerReady:
    """The warm process has imported what every child needs and takes requests."""

    KIND: ClassVar[str] = "server_ready"


@dataclass(frozen=True)
class ForkRequest:
    """Fork a child for ``job``; its five pipes (config, stdout, stderr, events, probes) travel with it."""

    KIND: ClassVar[str] = "fork"
    job: int = _reader(_integer(1))


@dataclass(frozen=True)
class Forked:
    KIND: ClassVar[str] = "forked"
    job: int = _reader(_integer(1))
    pid: int = _reader(_integer(1))


@dataclass(frozen=True)
class Exited:
    """The child of ``job`` has ended: its exit code, negative for the signal that killed it."""

    KIND: ClassVar[str] = "exited"
    job: int = _reader(_integer(1))
    code: int = _reader(_integer())


SERVER_MESSAGES: dict[str, type] = {cls.KIND: cls for cls in (ServerReady, ForkRequest, Forked, Exited)}
FD_COUNT = 5  # descriptors passed with a ForkRequest


def encode_message(message: ServerReady | ForkRequest | Forked | Exited) -> bytes:
    return json.dumps({"message": message.KIND, **plain(message)}).encode()


def decode_message(data: bytes) -> ServerReady | ForkRequest | Forked | Exited:
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("a fork-server message that is not JSON") from None
    kind = raw.pop("message", None) if isinstance(raw, dict) else None
    cls = SERVER_MESSAGES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown fork-server message {str(kind)[:40]!r}")
    return _decode(cls, raw, f"{kind} message")
