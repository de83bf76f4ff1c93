"""The child process: runs one submission as ``__main__`` and reports what autograd really computed.

This is the only module that imports torch or runs student code, and it only ever runs in a separate
process started by grader/run.py.  It talks to its parent over two private pipes: it reads its
configuration (JSON) from one, then closes it before student code starts; it writes events (one JSON
object per line) to the other.  Student stdout and stderr go to the parent's capture, never mixed with
the events.

What it observes:
* every backward pass (``torch.autograd.backward``, which ``Tensor.backward`` calls): the loss, then
  after the pass each spec parameter's ``.grad`` and the parameter values the loss was computed at.
  Parameters are found by the names the spec gives them, in the student's frames and module globals;
* after the program ends (or raises, or runs out of time): the parameters, ``forward(probe_x)``, and
  hidden probes of ``forward`` and ``loss`` at random points the parent drew;
* the figures matplotlib holds when ``plt.show()``/``plt.close()`` is called and at the end.

Run as: python -I -B -c "<bootstrap>" CONFIG_FD EVENTS_FD   (see grader/run.py)
"""

from __future__ import annotations

import ast
import base64
import gc
import hmac
import importlib.abc
import importlib.util
import io
import json
import linecache
import os
import random
import signal
import _signal
import sys
import tempfile
import time
import traceback
import types
import weakref

from grader._sandbox import (
    JailError,
    SandboxViolation,
    isolate_network,
    jail,
    limit_resources,
    make_hook,
    read_roots,
)
from grader.trace import strict

PROBE_SECONDS = 2.0  # each hidden call of forward/loss, and the final forward(probe_x)


class _TimeLimit(BaseException):
    """Raised inside student code when its time is up (a BaseException so `except Exception` won't eat it)."""


class Channel:
    """Events to the parent, one JSON object per line, each line signed: ``MAC JSON``, where MAC is an
    HMAC-SHA256 (first 16 bytes, hex) of ``SEQUENCE:JSON`` under a key the parent drew for this run.  Student
    code can write into the pipe, but what it writes fails the parent's check and the run is marked as
    tampered with.  Step events are buffered (a write per event would cost more than the student's whole
    training) and flushed every 64 events or 50 ms; every other event flushes at once."""

    def __init__(self, fd: int, key: bytes) -> None:
        self.fd = fd
        self.buffer: list[bytes] = []
        self.flushed = time.monotonic()
        self.sequence = 0
        self._sign = _signer(key)

    def send(self, event: str, buffered: bool = False, **fields) -> None:
        fields["event"] = event
        line = json.dumps(strict(fields), allow_nan=False, separators=(",", ":")).encode()
        self.buffer.append(self._sign(self.sequence, line) + b" " + line + b"\n")
        self.sequence += 1
        if not buffered or len(self.buffer) >= 64 or time.monotonic() - self.flushed > 0.05:
            self.flush()

    def flush(self) -> None:
        data, self.buffer, self.flushed = b"".join(self.buffer), [], time.monotonic()
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


def _signer(key: bytes):
    digest = hmac.digest

    def sign(sequence: int, line: bytes) -> bytes:
        return digest(key, b"%d:" % sequence + line, "sha256")[:16].hex().encode()

    return sign


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


class Observer:
    """Watches one run of student code and holds what must stay out of its reach: the channel and its key,
    and private references to torch.  Its methods run only through a capability (see ``_capability``):
    signals held back, the garbage collector off, the audit hook letting this thread through; and they
    never call student code nor read a student object through a Python-level attribute.  Every call of
    student code is made by ``_drive``, whose frame holds nothing but capabilities and student data."""

    def __init__(self, config: dict, channel: Channel, control) -> None:
        import torch  # noqa: F401  (imported before student code so its functions can be kept privately)

        self.torch = torch
        self.real_backward = torch.autograd.backward
        # Read and write tensors through the C base class, whose methods student code cannot replace, with
        # __torch_function__ off: patching torch.Tensor.item or .grad, or a Tensor subclass, must neither
        # make the grader read made-up numbers nor run student code inside the grader.
        base = self.base = torch._C.TensorBase
        self._item, self._numel, self._fill, self._copy = base.item, base.numel, base.fill_, base.copy_
        self._detach, self._clone = base.detach, base.clone
        self._grad = base.__dict__["grad"].__get__
        self._set_grad = base.__dict__["grad"].__set__
        self._is_leaf = base.__dict__["is_leaf"].__get__
        self._grad_fn = base.__dict__["grad_fn"].__get__
        self._shape = base.__dict__["shape"].__get__
        self.quiet = torch._C.DisableTorchFunction
        self.no_grad = torch.no_grad
        self.config = config
        self.channel = channel
        self.control = control
        self.filename = config["filename"]
        self.names = tuple(config["spec"]["parameters"])
        self.max_steps = int(config["spec"]["max_steps"])
        self.steps = 0
        self.extra_steps = 0
        self.recording = True
        self.module: types.ModuleType | None = None
        self.last_seen: dict[str, object] = {}
        self.functions_seen: dict[str, object] = {}
        self.ignored = 0  # backward passes that involved none of the assignment's parameters
        self.touched: dict[tuple, bool] = {}
        self.pending: dict[int, tuple] = {}  # backward passes under way: token -> what was seen before
        self.tokens = 0
        self.noted: set[str] = set()
        self.figures: dict[tuple[int, int], dict] = {}
        self.cell_key = 0  # the notebook cell running now (0 for a script)
        self.cell_pngs: dict[int, str] = {}
        self.filenames = frozenset({self.filename})
        self.units: list[dict] = []
        self.ended: dict | None = None
        self.started = time.monotonic()
        self.probing: dict | None = None
        self.sealed: list = []  # what seal() handed out, kept alive by this object (see _prepare)
        self.stand_in = None  # what torch.autograd.backward becomes (see forwarder)

    def dispatch(self, foreign_handlers: bool, method, *args):
        """The one way into the observer (through a capability)."""
        self.control.exempt(True)
        try:
            with self.quiet():
                if foreign_handlers:
                    self.note(N_("Your program set a signal handler; the grader removed it."))
                return method(*args)
        finally:
            self.control.exempt(False)

    # -- values --------------------------------------------------------------------------------------

    def is_tensor(self, value) -> bool:
        return issubclass(type(value), self.base)

    def scalar(self, value):
        """A float from a tensor of one element (read through the C base class); None otherwise."""
        if self.is_tensor(value):
            if self._numel(value) != 1:
                return None
            return float(self._item(value))
        return None

    def note(self, template: str, **args) -> None:
        key = template + repr(sorted(args.items()))
        if key not in self.noted:
            self.noted.add(key)
            self.channel.send("note", text=text(template, **args))

    # -- finding the parameters ----------------------------------------------------------------------

    def namespaces(self):
        """The student's frames (innermost first) and module globals, for looking names up."""
        spaces, line = [], None
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename in self.filenames:
                if line is None:
                    line = (frame.f_lineno, os.path.basename(frame.f_code.co_filename))
                spaces.append(frame.f_locals)
            frame = frame.f_back
        if self.module is not None:
            spaces.append(self.module.__dict__)
        return spaces, line

    def find_params(self, spaces, loss) -> dict[str, object]:
        found = {}
        for name in self.names:
            for space in spaces:
                value = space.get(name)
                if self.is_tensor(value):
                    found[name] = value
                    break
        missing = [name for name in self.names if name not in found]
        if missing and self.is_tensor(loss):
            # A parameter under another name: accept it when it is the only unnamed leaf left.
            known = {id(t) for t in found.values()}
            leaves = [t for t in self.graph(loss)[1] if id(t) not in known]
            if len(missing) == 1 and len(leaves) == 1:
                found[missing[0]] = leaves[0]
                self.note(N_("The parameter {name} was found under another name."), name=missing[0])
            elif found:
                for name in missing:
                    self.note(N_("No tensor named {name} was found when backward() was called."), name=name)
        return found

    def graph(self, loss) -> tuple[list, list]:
        """The nodes of the loss's autograd graph, and the leaf tensors they accumulate into."""
        nodes, leaves, seen, stack = [], [], set(), [self._grad_fn(loss)]
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            nodes.append(node)
            variable = _c_attribute(node, "variable")
            if self.is_tensor(variable):
                leaves.append(variable)
            for pair in _c_attribute(node, "next_functions") or ():
                if type(pair) is tuple and pair:
                    stack.append(pair[0])
        return nodes, leaves

    def touches(self, loss, params: dict) -> bool:
        """Whether this backward pass involves any of the assignment's parameters (a notebook holding both
        homeworks also trains the other one's).  When in doubt, it does."""
        if not params or not self.is_tensor(loss) or self._grad_fn(loss) is None:
            return True
        try:
            nodes, leaves = self.graph(loss)
        except Exception:  # noqa: BLE001
            return True
        for tensor in params.values():
            if any(leaf is tensor for leaf in leaves):
                return True
            grad_fn = self._grad_fn(tensor)
            if grad_fn is not None and any(node is grad_fn for node in nodes):
                return True
        return False

    # -- backward passes (through the stand-in for torch.autograd.backward) --------------------------

    def before(self, args, kwargs):
        """What the loss and the parameters are as a backward pass starts; a token for ``after``."""
        if not self.recording or type(args) is not tuple or type(kwargs) is not dict:
            return None
        loss = args[0] if args else kwargs.get("tensors")
        if type(loss) in (list, tuple) and len(loss) == 1:
            loss = loss[0]
        spaces, line = self.namespaces()
        params = self.find_params(spaces, loss if self.is_tensor(loss) else None)
        site = (line, tuple(id(t) for t in params.values()))
        if site not in self.touched:  # the same call site with the same tensors: the same answer
            self.touched[site] = bool(params) and self.touches(loss, params)
        if not self.touched[site]:
            # Another model's training (a notebook holding both homeworks), or parameters under other names.
            self.ignored += 1
            return None
        self.last_seen.update(params)
        for name in ("forward", "loss"):  # the functions in use while this assignment trains
            for space in spaces:
                if callable(space.get(name)):
                    self.functions_seen[name] = space[name]
                    break
        self.tokens += 1
        before = {name: self.scalar(t) for name, t in params.items()}
        self.pending[self.tokens] = (params, before, self.scalar(loss), line)
        return self.tokens

    def after(self, token, succeeded) -> None:
        entry = self.pending.pop(token, None) if type(token) is int else None
        if entry is None or succeeded is not True:
            return
        params, before, loss_value, line = entry
        grads = {}
        for name, tensor in params.items():
            grad = self._grad(tensor) if self._is_leaf(tensor) else None
            grads[name] = self.scalar(grad) if grad is not None else None
        if self.steps < self.max_steps:
            self.channel.send("step", buffered=True, loss=loss_value, grads=grads, params=before,
                              line=line[0] if line else None, file=line[1] if line else None)
        else:
            self.extra_steps += 1
        self.steps += 1

    # -- figures (read by _read_figures, in student territory; only plain data arrives here) ------------

    def figure_changed(self, number, lines, axes) -> bool:
        known = self.figures.get((self.cell_key, number))
        return known is None or known["lines"] != lines or known["axes"] != axes

    def record_figure(self, number, lines, axes, png) -> None:
        if type(number) is not int or type(lines) is not list or type(axes) is not int:
            return
        png = png if type(png) is str else None
        self.figures[(self.cell_key, number)] = {"number": number, "lines": _plain(lines), "png": png,
                                                 "axes": axes}
        if png:
            self.cell_pngs[number] = png

    def figure_failed(self, error) -> None:
        self.note(N_("A figure could not be read: {error}."), error=str(error)[:100] if type(error) is str else "?")

    # -- running the student's code ---------------------------------------------------------------------

    def begin(self):
        """Set up the run: the module, the stand-in for torch.autograd.backward, the sandbox.  Returns what
        _drive needs: the units to run, the module's namespace, the time limit, the student's file names."""
        if self.module is not None:
            return None  # once only
        cells = self.config.get("cells")
        if cells is None:
            units = [{"filename": self.filename, "source": self.config["source"], "cell": None}]
        else:
            units = [{"filename": f"{self.filename}, cell {c['number']}", "source": c["source"], "cell": c}
                     for c in cells]
        self.units = units
        self.filenames = frozenset(unit["filename"] for unit in units)
        module = types.ModuleType("__main__")
        module.__file__ = self.config["workfile"]
        module.__builtins__ = __builtins__
        self.module = module
        sys.modules["__main__"] = module
        sys.argv = [self.config["workfile"]]
        if cells is not None:
            module.__dict__.update(display=_display, get_ipython=_Shell)
            sys.stdout, sys.stderr = _Tee(sys.stdout), _Tee(sys.stderr)
        for unit in units:
            linecache.cache[unit["filename"]] = (len(unit["source"]), None, unit["source"].splitlines(True),
                                                 unit["filename"])
        self.torch.autograd.backward = self.stand_in
        self.started = time.monotonic()
        self.control.activate()  # from here to the end of the process; this thread is let through only here
        plain = [{"filename": u["filename"], "source": u["source"], "cell": dict(u["cell"]) if u["cell"] else None}
                 for u in units]
        return plain, module.__dict__, float(self.config["time_limit"]), self.filenames

    def start_unit(self, index) -> None:
        if type(index) is int and 0 <= index < len(self.units) and self.units[index]["cell"]:
            self.cell_key = self.units[index]["cell"]["number"]

    def end_unit(self, index, ended, output) -> bool:
        """How one unit ended, as _drive described it (plain data); whether to stop there."""
        if type(index) is not int or not 0 <= index < len(self.units) or self.units[index].get("done"):
            return True
        self.units[index]["done"] = True
        ended = _plain(ended) if type(ended) is dict else {"status": "exception"}
        if ended.get("status") not in ("finished", "exception", "exit", "timeout", "syntax_error"):
            ended = {"status": "exception"}
        self.ended = ended
        cell = self.units[index]["cell"]
        if cell is not None:
            self.send_cell(cell, ended, _plain(output) if type(output) is dict else {})
        return ended["status"] != "finished" or bool(ended.get("stop"))

    def send_cell(self, cell: dict, outcome: dict, output: dict) -> None:
        """What one notebook cell produced, for the graded notebook (its figures were read just before)."""
        pngs = list(self.cell_pngs.values())
        self.cell_pngs = {}
        failed = outcome["status"] not in ("finished",)
        self.channel.send(
            "cell",
            index=cell["index"],
            number=cell["number"],
            stdout=output.get("stdout") or "",
            stderr=output.get("stderr") or "",
            result=output.get("result"),
            error=(outcome.get("message") or outcome["status"]) if failed else None,
            error_name=(outcome.get("exc_type") or outcome["status"]) if failed else None,
            traceback=(outcome.get("traceback") or "").splitlines() if failed else [],
            figures=pngs,
        )

    def end_run(self, between_units) -> None:
        """The program has ended (``between_units``: its time ran out between two cells)."""
        if not self.recording:
            return
        self.recording = False
        limit = float(self.config["time_limit"])
        outcome = dict(self.ended or {"status": "finished"})
        if between_units is True:
            outcome = {"status": "timeout", "limit": limit}
        if outcome["status"] == "timeout":
            outcome["limit"] = limit
        outcome.pop("stop", None)
        outcome["seconds"] = time.monotonic() - self.started
        outcome.setdefault("file", os.path.basename(self.filename))
        self.channel.send("outcome", **outcome)

    # -- after the run ----------------------------------------------------------------------------------

    def current_params(self) -> dict[str, object]:
        params = {}
        space = self.module.__dict__ if self.module is not None else {}
        for name in self.names:
            value = space.get(name)
            if self.is_tensor(value):
                params[name] = value
            elif name in self.last_seen:
                params[name] = self.last_seen[name]
        return params

    def student_function(self, name: str):
        """The student's forward or loss: the one in use during training, else the module's."""
        seen = self.functions_seen.get(name)
        if callable(seen):
            return seen
        space = self.module.__dict__ if self.module is not None else {}
        found = space.get(name)
        return found if callable(found) else None

    def calls(self):
        """The calls of student code to make after the run, in order: forward(probe_x), then the probes.
        Binds forward and loss in the module as they were during training (a loss() calling forward() by
        name then finds the forward of the same assignment); ``finish`` puts the names back."""
        if self.recording or self.probing is not None:
            return None
        space = self.module.__dict__ if self.module is not None else {}
        self.probing = {"saved": {name: space.get(name, _MISSING) for name in self.functions_seen}, "done": set()}
        space.update(self.functions_seen)
        forward = self.student_function("forward")
        calls = [("final", forward, (float(self.config["spec"]["probe_x"]),))]
        for index, point in enumerate(self.config["probes"]):
            function = self.student_function(point["kind"])
            args = (point["x"],) if point["kind"] == "forward" else (point["x"], point["y"])
            calls.append((index, function, args))
        return calls

    def final_result(self, value, type_name, error) -> None:
        if self.probing is None or "final" in self.probing["done"]:
            return
        self.probing["done"].add("final")
        functions = [name for name in ("forward", "loss") if self.student_function(name) is not None]
        params = self.current_params()
        if self.ignored:
            names = ", ".join(self.names)
            self.note(N_("{count} backward passes that involved none of {names} were not counted (the parameters "
                         "must keep the assignment's names)."), count=self.ignored, names=names)
        prediction = value if type(value) is float else None
        if self.student_function("forward") is None:
            error = text(N_("there is no function named {name}"), name="forward")
        elif type(error) is str:
            error = text("{error}", error=error[:600])
        elif prediction is None:
            error = text(N_("forward({x:g}) returned {type}, not a number"),
                         x=self.config["spec"]["probe_x"], type=str(type_name)[:100])
        else:
            error = None
        self.channel.send(
            "final",
            params={name: self.scalar(t) for name, t in params.items()},
            leaf={name: bool(self._is_leaf(t)) for name, t in params.items()},
            prediction=prediction,
            prediction_error=error,
            functions=functions,
        )
        if self.extra_steps:
            self.channel.send("extra_steps", count=self.extra_steps)

    def probe_begin(self, index):
        """Put the probe's parameter values in place; the student function is then called by _drive."""
        if self.probing is None or type(index) is not int or index in self.probing["done"] \
                or not 0 <= index < len(self.config["probes"]) or "current" in self.probing:
            return False
        point = self.config["probes"][index]
        torch = self.torch
        space = self.module.__dict__ if self.module is not None else {}
        originals = self.current_params()
        probe_tensors, restore_globals, restore_data = {}, {}, {}
        for name in self.names:
            value = float(point["params"][name])
            original = originals.get(name)
            one = self.is_tensor(original) and self._numel(original) == 1
            shape = tuple(self._shape(original)) if one else (1,)
            if self.is_tensor(space.get(name)) or original is None:
                fresh = torch.full(shape, value, dtype=torch.float32).requires_grad_(True)
                restore_globals[name] = space.get(name, _MISSING)
                space[name] = fresh
                probe_tensors[name] = fresh
            elif self._is_leaf(original):  # a parameter kept in a closure: change it in place, then put it back
                with self.no_grad():
                    restore_data[name] = (original, self._clone(self._detach(original)), self._grad(original))
                    self._fill(original, value)
                self._set_grad(original, None)
                probe_tensors[name] = original
        self.probing["current"] = (index, probe_tensors, restore_globals, restore_data)
        return True

    def probe_end(self, index, value, type_name, error, differentiated) -> None:
        current = self.probing.get("current") if self.probing else None
        if current is None or current[0] != index:
            return
        del self.probing["current"]
        self.probing["done"].add(index)
        _, probe_tensors, restore_globals, restore_data = current
        point = self.config["probes"][index]
        kind = point["kind"]
        try:
            value = value if type(value) is float else None
            grads: dict = {}
            if type(error) is str:
                error = text("{error}", error=error[:600])
                value = None
            elif value is None:
                error = text(N_("{kind} returned {type}, not a number"), kind=kind, type=str(type_name)[:100])
            elif differentiated is True:
                grads = {name: self.scalar(self._grad(t)) for name, t in probe_tensors.items()}
                error = None
            else:
                grads = {name: None for name in self.names}
                error = None
            self.channel.send("probe", kind=kind, params=point["params"], x=point["x"], y=point.get("y"),
                              value=value, grads=grads, error=error)
        finally:
            space = self.module.__dict__ if self.module is not None else {}
            _restore(space, restore_globals)
            for tensor, data, grad in restore_data.values():
                with self.no_grad():
                    self._copy(tensor, data)
                self._set_grad(tensor, grad)

    def finish(self) -> None:
        if self.probing is None or self.probing.get("finished"):
            return
        self.probing["finished"] = True
        space = self.module.__dict__ if self.module is not None else {}
        _restore(space, self.probing["saved"])
        for what in dict.fromkeys(self.control.attempts()):
            self.note(N_("Your program tried to {what}; that is not allowed while grading."), what=what)
        for figure in self.figures.values():
            self.channel.send("figure", number=figure["number"], lines=figure["lines"], png=figure["png"])
        self.channel.send("done")


def _c_attribute(obj, name: str):
    """An attribute of ``obj`` as its C type defines it, skipping any class written in Python (which student
    code could have patched): for autograd nodes, ``variable`` and ``next_functions``."""
    for cls in type(obj).__mro__:
        if not cls.__flags__ & _HEAPTYPE and name in cls.__dict__:
            return cls.__dict__[name].__get__(obj, type(obj))
    return None


_HEAPTYPE = 1 << 9


def _plain(value, depth: int = 0):
    """A copy of ``value`` made only of JSON's types (exact types: nothing a student subclassed), so that the
    observer never calls a method of a student object."""
    if depth > 6:
        return None
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind in (list, tuple):
        return [_plain(v, depth + 1) for v in value[:10_000]]
    if kind is dict:
        return {k: _plain(v, depth + 1) for k, v in value.items() if type(k) is str}
    return None


_MISSING = object()


def _restore(space: dict, saved: dict) -> None:
    """Put names back as they were (``_MISSING``: the name was not there)."""
    for name, value in saved.items():
        if value is _MISSING:
            space.pop(name, None)
        else:
            space[name] = value


def N_(message: str) -> str:
    """Marks an English template for the catalog; the parent translates it (grader/i18n.py)."""
    return message


def text(template: str, **args) -> dict:
    """A sentence for the student, sent as a template and its arguments so the parent can translate it."""
    return {"template": template, "args": args}


def text_of(what: str, detail: str) -> dict:
    """A refusal of the sandbox: its catalog phrase, and the path or value involved."""
    return text("{what} ({detail})", what=what, detail=detail) if detail else text("{what}", what=what)


class _Tee(io.TextIOBase):
    """A notebook cell's stdout or stderr: passed through to the real stream, and kept for the cell."""

    CAP = 100_000

    def __init__(self, real) -> None:
        self.real = real
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.real.write(text)
        if self.size < self.CAP:
            self.parts.append(text[: self.CAP - self.size])
        self.size += len(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self):
        return getattr(self.real, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.real.fileno()

    def take(self) -> str:
        text = "".join(self.parts)
        if self.size > self.CAP:
            text += f"\n[... {self.size - self.CAP} characters left out ...]\n"
        self.parts, self.size = [], 0
        return text


def _display(*objects, **kwargs) -> None:
    """Stand-in for IPython's display(): shows each object's repr as text."""
    for obj in objects:
        print(repr(obj))


class _Shell:
    """Stand-in for get_ipython(): magics and shell commands called through it do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:500] if text else type(exc).__name__


def _raise_time_limit(signum, frame):
    raise _TimeLimit()


# -- the boundary: what student code can reach ------------------------------------------------------------
#
# Student code runs in the same process as the observer.  What keeps the observer out of its reach:
# * every grader frame below or around student code (_drive, run_job, the stand-in for backward, the
#   capabilities, the audit hook) holds only student data, immutable values and capabilities, so walking
#   frames (sys._getframe().f_back, a traceback, a signal handler's frame) finds nothing to misuse;
# * a capability is a generator around a sealed proxy: calling it runs one observer method, with the
#   Python signal handlers the student set removed first (a handler receives the frame it interrupts), the
#   garbage collector off (no student finalizer runs inside either), and any error kept inside (a
#   traceback would carry the observer's frames);
# * the observer, its channel and key are kept alive only by a reference cycle frozen out of the collector's
#   reach (gc.freeze), so no global, closure or frame points at them.

_REAL_CLOSE = None
_CURRENT: dict[str, object] = {}  # capabilities for the functions installed in pyplot and os (student-visible)
_HANDLED = tuple(int(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


class _Sealed:
    """A callable whose insides student code cannot follow.  It is only ever handed out through
    ``weakref.proxy``, which forwards calls but not the object: no ``__self__``, ``__closure__``,
    ``__globals__`` or ``__class__`` leads from it to what it calls, and every attribute lookup the proxy
    forwards is refused here."""

    __slots__ = ("_call", "__weakref__")

    def __init__(self, call) -> None:
        object.__setattr__(self, "_call", call)

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_call")(*args, **kwargs)

    def __getattribute__(self, name):
        raise AttributeError(name)

    def __setattr__(self, name, value):
        raise AttributeError(name)

    def __delattr__(self, name):
        raise AttributeError(name)


def seal(call, keep: list):
    """A proxy of ``call`` for student-facing places; ``keep`` holds the sealed object alive."""
    sealed = _Sealed(call)
    keep.append(sealed)
    return weakref.proxy(sealed)


def _silence_foreign_handlers() -> bool:
    """Remove every Python signal handler the grader did not set (a handler receives the frame it
    interrupts): the signal is ignored from then on.  Whether there was one."""
    found = False
    for signum in _HANDLED:
        handler = _signal.getsignal(signum)  # 2 us for all of them; signal.getsignal takes 25 times that
        if handler is not None and type(handler) is not int and handler is not signal.default_int_handler \
                and handler is not _raise_time_limit:
            _signal.signal(signum, _signal.SIG_IGN)
            found = True
    return found


def _capability(sealed):
    """A generator that calls ``sealed`` (a proxy of Observer.dispatch bound to one method) for each value
    sent to it, and yields (result, exception to raise in the caller).  Its frame holds only the proxy.

    No Python signal handler but the grader's can run inside the observer: the student's are removed
    first, and student code cannot set one again before the call returns (no student code runs meanwhile,
    and only the main thread may set handlers).  The grader's handlers raise (the time limit, Ctrl-C):
    that is passed on, as a fresh exception with no trace of the observer's frames."""
    result = None
    while True:
        args = yield result
        foreign = _silence_foreign_handlers()
        collecting = gc.isenabled()
        gc.disable()  # no student finalizer runs inside the observer either
        value, pending = None, None
        try:
            value = sealed(foreign, *args)
        except Exception:  # noqa: BLE001 - a failure of the grader's own: the call just does nothing
            value = None
        except BaseException as exc:  # noqa: BLE001 - the time limit, usually
            pending = type(exc)()
        if collecting:
            gc.enable()
        result = (value, pending)


def capability(method, keep: list):
    generator = _capability(seal(method, keep))
    next(generator)
    return generator


def _use(capability, *args):
    """Call a capability from student territory."""
    value, pending = capability.send(args)
    if pending is not None:
        raise pending
    return value


def forwarder(real, before, after, like=None):
    """A plain function standing in for torch.autograd.backward: it runs the real backward pass itself
    (so student hooks run with no observer frame beneath them) between two capabilities.  Hashable and
    named like the original (torch keeps some of its functions in sets); no closure; its globals hold
    only the real function, the two capabilities and _use."""
    like = like or real
    namespace = {"__builtins__": {"BaseException": BaseException}, "_real": real, "_before": before,
                 "_after": after, "_use": _use}
    exec(
        f"def {like.__name__}(*args, **kwargs):\n"
        "    token = _use(_before, args, kwargs)\n"
        "    try:\n"
        "        result = _real(*args, **kwargs)\n"
        "    except BaseException:\n"
        "        _use(_after, token, False)\n"
        "        raise\n"
        "    _use(_after, token, True)\n"
        "    return result\n",
        namespace,
    )
    function = namespace.pop(like.__name__)
    function.__module__, function.__qualname__, function.__doc__ = like.__module__, like.__qualname__, like.__doc__
    return function


class _Caps:
    """The capabilities _drive uses (student-visible, like everything _drive holds)."""

    __slots__ = ("begin", "start_unit", "end_unit", "end_run", "calls", "final_result", "probe_begin",
                 "probe_end", "finish", "flush", "figure_changed", "record_figure", "figure_failed")


# -- student territory: everything here may run with student code above or below it ----------------------


def _scalar(value):
    """A float from a tensor of one element or a Python number; None otherwise (for student results)."""
    import torch

    base = torch._C.TensorBase
    if issubclass(type(value), base):
        with torch._C.DisableTorchFunction():
            if base.numel(value) != 1:
                return None
            return float(base.item(value))
    if issubclass(type(value), (int, float)) and type(value) is not bool:
        return float(value)
    return None


def _describe(exc: BaseException, filenames, limit: float) -> dict:
    """How a unit ended with ``exc``, as plain data (this calls the exception's own methods)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in filenames]
    where = os.path.basename(frames[-1].filename) if frames else None
    line = frames[-1].lineno if frames else None
    listing = "".join(traceback.format_list(frames)) if frames else ""
    if isinstance(exc, _TimeLimit):
        return {"status": "timeout", "limit": limit, "line": line, "file": where,
                "traceback": listing + f"(stopped here: the time limit of {limit:g} s ran out)\n"}
    if isinstance(exc, SystemExit):
        if exc.code is None or exc.code == 0:
            return {"status": "finished", "stop": True}
        return {"status": "exit", "exit_code": repr(exc.code)[:100], "line": line, "file": where}
    ended = {"status": "exception", "exc_type": type(exc).__name__, "message": _one_line(exc), "line": line,
             "file": where, "traceback": listing + "".join(traceback.format_exception_only(type(exc), exc))}
    if isinstance(exc, SandboxViolation):  # said as a phrase the parent can translate
        ended["denied"] = text_of(exc.what, exc.detail)
    return ended


def _run_unit(unit: dict, namespace: dict, filenames, limit: float) -> tuple[dict, str | None]:
    """Compile and run one unit (the script, or a cell); how it ended, and a cell's shown value."""
    filename, source, cell = unit["filename"], unit["source"], unit["cell"]
    try:
        tree = compile(source, filename, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        last = None
        if cell is not None and tree.body and isinstance(tree.body[-1], ast.Expr) \
                and not source.rstrip().endswith(";"):
            last = ast.Expression(tree.body.pop().value)  # Jupyter shows a cell's last expression
        code = compile(tree, filename, "exec", dont_inherit=True)
        shown = compile(last, filename, "eval", dont_inherit=True) if last is not None else None
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        return {
            "status": "syntax_error",
            "file": os.path.basename(filename),
            "message": getattr(exc, "msg", None) or str(exc),
            "exc_type": type(exc).__name__,
            "line": line if isinstance(line, int) else None,
            "traceback": "".join(traceback.format_exception_only(type(exc), exc)),
        }, None
    try:
        exec(code, namespace)
        if shown is not None:
            value = eval(shown, namespace)
            if value is not None:
                return {"status": "finished"}, repr(value)[:10000]
    except BaseException as exc:  # noqa: BLE001 - student code may raise anything
        return _describe(exc, filenames, limit), None
    return {"status": "finished"}, None


def _guarded(function, args):
    """Call student code with a short time limit: (result, error text or None)."""
    signal.setitimer(signal.ITIMER_REAL, PROBE_SECONDS)
    try:
        return function(*args), None
    except _TimeLimit:
        return None, f"it did not return within {PROBE_SECONDS:g} s"
    except BaseException as exc:  # noqa: BLE001
        try:
            return None, f"{type(exc).__name__}: {_one_line(exc)}"
        except BaseException:  # noqa: BLE001 - an exception whose str() itself fails
            return None, "the call failed"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _drive(caps: _Caps) -> None:
    """Run the student's program, then the calls the grader makes of its functions.  The only frame from
    which student code is called: it holds capabilities and student data, nothing else."""
    began = _use(caps.begin)
    if began is None:
        return
    units, namespace, limit, filenames = began
    signal.signal(signal.SIGALRM, _raise_time_limit)
    signal.setitimer(signal.ITIMER_REAL, limit)
    between_units = False
    try:
        for index, unit in enumerate(units):
            cell = unit["cell"]
            if cell is not None and not cell.get("run", True):
                continue
            _use(caps.start_unit, index)
            ended, shown = _run_unit(unit, namespace, filenames, limit)
            output = {}
            if cell is not None:
                _snapshot(caps)
                if _REAL_CLOSE is not None:  # the inline backend closes a cell's figures once shown
                    try:
                        _REAL_CLOSE("all")
                    except Exception:  # noqa: BLE001
                        pass
                output = {"result": shown,
                          "stdout": sys.stdout.take() if type(sys.stdout) is _Tee else "",
                          "stderr": sys.stderr.take() if type(sys.stderr) is _Tee else ""}
            if _use(caps.end_unit, index, ended, output):
                break
    except _TimeLimit:  # between cells
        between_units = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    _use(caps.end_run, between_units)
    signal.signal(signal.SIGALRM, _raise_time_limit)  # in case the program replaced it
    calls = _use(caps.calls) or []
    for index, function, args in calls:
        if index == "final":
            result, error = _guarded(function, args) if callable(function) else (None, None)
            _use(caps.final_result, _scalar(result), type(result).__name__, error)
            continue
        if not callable(function) or not _use(caps.probe_begin, index):
            continue  # the parent knows which functions exist from the "final" event
        result, error = _guarded(function, args)
        value, differentiated = _scalar(result), False
        if error is None and value is not None and _requires_grad(result):
            _, error = _guarded(_REAL_BACKWARD, (result.sum(),))
            differentiated = error is None
        _use(caps.probe_end, index, value, type(result).__name__, error, differentiated)
    _snapshot(caps)
    _use(caps.finish)


def _requires_grad(value) -> bool:
    import torch

    base = torch._C.TensorBase
    return issubclass(type(value), base) and bool(base.__dict__["requires_grad"].__get__(value))


_REAL_BACKWARD = None  # torch.autograd.backward as torch defines it (set before student code runs)


def _snapshot(caps: _Caps) -> None:
    """Read the figures matplotlib holds (this may call student objects) and hand plain data over."""
    if "matplotlib.pyplot" not in sys.modules:  # no pyplot, no figure
        return
    try:
        from matplotlib._pylab_helpers import Gcf
    except Exception:  # noqa: BLE001 - matplotlib missing or broken: nothing to record
        return
    for manager in Gcf.get_all_fig_managers():
        try:
            figure = manager.canvas.figure
            lines = []
            for axes in figure.axes:
                for line in axes.get_lines():
                    ys = [_scalar(float(v)) for v in list(line.get_ydata())[:10000]]
                    lines.append({"label": str(line.get_label())[:200], "ys": ys})
            number, count = int(manager.num), len(figure.axes)
            if not _use(caps.figure_changed, number, lines, count):
                continue  # shown before and unchanged: no need to draw it again
            png = None
            if _FIGURE_PNG[0]:  # only a graded notebook needs the picture itself
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png", dpi=60)
                png = base64.b64encode(buffer.getvalue()).decode("ascii")
            _use(caps.record_figure, number, lines, count, png)
        except Exception as exc:  # noqa: BLE001 - a figure the student broke: say so, keep going
            _use(caps.figure_failed, type(exc).__name__)


_FIGURE_PNG = [False]


# -- matplotlib: never blocking, always observed ---------------------------------------------------------


def _patch_pyplot(plt) -> None:
    """plt.show() records the figures instead of opening a window; plt.close() records them first."""
    global _REAL_CLOSE
    if getattr(plt, "_grader_patched", False):
        return
    _REAL_CLOSE = real_close = plt.close

    def show(*args, **kwargs):
        caps = _CURRENT.get("caps")
        if caps is not None:
            _snapshot(caps)

    def close(*args, **kwargs):
        caps = _CURRENT.get("caps")
        if caps is not None:
            _snapshot(caps)
        return real_close(*args, **kwargs)

    plt.show, plt.close, plt._grader_patched = show, close, True


class _PyplotHook(importlib.abc.MetaPathFinder):
    """Patches pyplot when the student's code imports it, so a program without plots never pays for it."""

    def __init__(self) -> None:
        self.busy = False

    def find_spec(self, name, path, target=None):
        if name != "matplotlib.pyplot" or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy = False
        if spec is None or spec.loader is None:
            return None
        inner = spec.loader

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return inner.create_module(spec)

            def exec_module(self, module):
                inner.exec_module(module)
                _patch_pyplot(module)

        spec.loader = Loader()
        return spec


def install_plot_hooks() -> None:
    os.environ["MPLBACKEND"] = "Agg"
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        _patch_pyplot(plt)
    else:
        sys.meta_path.insert(0, _PyplotHook())


# -- entry points ----------------------------------------------------------------------------------------


_REAL_EXIT = os._exit
_NETWORK_ISOLATED = False


def _guard_exit() -> None:
    """os._exit skips every cleanup: flush what the grader has buffered first, so the backward passes
    observed before it still count."""

    def exit_now(status: int = 0) -> None:
        caps = _CURRENT.get("caps")
        if caps is not None:
            try:
                _use(caps.flush)
            except BaseException:  # noqa: BLE001 - leaving anyway
                pass
        _REAL_EXIT(status)

    import posix

    os._exit = posix._exit = exit_now


def _isolate(config: dict, roots: tuple[str, ...]) -> list[str]:
    """Limits for this process and its jail; the layers in place."""
    global _NETWORK_ISOLATED
    if not _NETWORK_ISOLATED:  # a zygote's children inherit its namespace
        _NETWORK_ISOLATED = isolate_network()
    limit_resources(
        memory_mb=int(config.get("memory_mb", 1024)),
        cpu_seconds=float(config["time_limit"]) + 30,
        file_mb=int(config.get("file_mb", 16)),
    )
    layers = ["limits", "audit"] + (["network"] if _NETWORK_ISOLATED else [])
    try:
        uid = jail(config["workdir"], tuple(r for r in roots if not r.startswith(("/proc", "/sys", "/dev"))))
    except JailError as exc:
        sys.stderr.write(f"grader: the submission could not be isolated ({exc}); it was not run.\n")
        raise
    if uid is not None:
        layers += ["filesystem", "user"]
        tempfile.tempdir = config["workdir"]
        os.environ.update(HOME=config["workdir"], TMPDIR=config["workdir"])
    return layers


def _prepare(config: dict, events_fd: int) -> _Caps:
    """Everything before student code runs: the channel, the observer, the sandbox.  Returns the
    capabilities _drive needs; the observer itself is reachable from nowhere once this returns."""
    global _REAL_BACKWARD
    channel = Channel(events_fd, bytes.fromhex(config.pop("key")))
    readable = [os.path.dirname(os.path.abspath(__file__))]
    try:
        import matplotlib

        readable += [matplotlib.get_data_path(), matplotlib.get_cachedir(), matplotlib.get_configdir()]
    except Exception:  # noqa: BLE001 - no matplotlib: nothing of it to read
        pass
    roots = read_roots(tuple(readable))
    hook, control = make_hook(config["workdir"], roots)
    observer = Observer(config, channel, control)
    observer.torch.set_num_threads(1)
    keep = observer.sealed

    def cap(method):
        return capability(lambda foreign, *args: observer.dispatch(foreign, method, *args), keep)

    caps = _Caps()
    for name in _Caps.__slots__:
        setattr(caps, name, cap(channel.flush if name == "flush" else getattr(observer, name)))
    observer.stand_in = forwarder(observer.real_backward, cap(observer.before), cap(observer.after))
    _REAL_BACKWARD = observer.real_backward
    _FIGURE_PNG[0] = bool(config.get("figure_png"))
    install_plot_hooks()
    os.chdir(config["workdir"])
    sys.path[:] = [config["workdir"]] + [p for p in sys.path if p != config.get("bootstrap_path")]
    layers = _isolate(config, roots)
    sys.addaudithook(hook)
    _guard_exit()
    _CURRENT["caps"] = caps
    channel.send("ready", isolation=layers)
    # From here on the observer lives only in the cycle observer -> keep -> sealed -> lambda -> observer,
    # which nothing else points at; frozen, the collector never frees it.
    gc.collect()
    gc.freeze()
    return caps


def run_job(config: dict, events_fd: int) -> None:
    """Run one submission in this process and report on ``events_fd``; never returns."""
    caps = None
    try:
        caps = _prepare(config, events_fd)
        config = None
        _drive(caps)
    except BaseException:  # noqa: BLE001 - the grader's own failure: said on stderr, which the report keeps
        try:
            sys.__stderr__.write("grader: internal error\n" + traceback.format_exc())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        if caps is not None:
            try:
                _use(caps.flush)
            except BaseException:  # noqa: BLE001
                pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - the student may have replaced or closed them
                pass
        # Leave without waiting for threads the student started or atexit hooks it registered.
        _REAL_EXIT(0)


def zygote(sock_fd: int) -> None:
    """The warm process of a batch: imports torch and matplotlib once, then forks one child per job.

    The parent sends a job id with four file descriptors (config, stdout, stderr, events) over a Unix
    SEQPACKET socket; the zygote forks, answers with the child's pid, and reports its exit status."""
    import select
    import socket

    global _NETWORK_ISOLATED
    sock = socket.socket(fileno=sock_fd)  # a Unix socket pair: it keeps working in a new network namespace
    _NETWORK_ISOLATED = isolate_network()
    import torch

    torch.set_num_threads(1)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    _patch_pyplot(plt)
    # Warm what students commonly touch: the first optimizer step alone imports seconds' worth of modules.
    # (It starts no thread: forking after it is as safe as after importing torch.)
    import torch.nn.functional  # noqa: F401

    warm = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([warm], lr=0.1)
    (warm * 2.0).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    del warm, optimizer
    # Likewise the first figure: matplotlib builds docstrings, loads fonts and renderers on first use.
    figure = plt.figure()
    figure.gca().plot([0.0, 1.0], [1.0, 0.0])
    figure.savefig(io.BytesIO(), format="png", dpi=60)
    _REAL_CLOSE(figure)
    # Children inherit everything imported so far; frozen, the garbage collector never walks (and so never
    # copies) those pages in a child.
    gc.collect()
    gc.freeze()
    sock.send(b'{"ready": true}')
    children: dict[int, object] = {}
    # A child's exit wakes the loop at once (the parent is waiting for its status).
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_write)
    while True:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            job = children.pop(pid, None)
            sock.send(json.dumps({"job": job, "exit": os.waitstatus_to_exitcode(status)}).encode())
        readable, _, _ = select.select([sock, wake_read], [], [], 1.0)
        if wake_read in readable:
            try:
                os.read(wake_read, 4096)
            except BlockingIOError:
                pass
        if sock not in readable:
            continue
        message, fds, _, _ = socket.recv_fds(sock, 65536, 4)
        if not message:
            break  # the parent is gone
        job = json.loads(message)["job"]
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_read)
                os.close(wake_write)
                os.setsid()
                config_fd, out_fd, err_fd, events_fd = fds
                os.dup2(out_fd, 1)
                os.dup2(err_fd, 2)
                os.close(out_fd)
                os.close(err_fd)
                random.seed()
                run_job(json.loads(_read_all(config_fd)), events_fd)
            finally:
                _REAL_EXIT(70)
        for fd in fds:
            os.close(fd)
        children[pid] = job
        sock.send(json.dumps({"job": job, "pid": pid}).encode())
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def main(argv: list[str]) -> None:
    if argv and argv[0] == "zygote":
        zygote(int(argv[1]))
        return
    config_fd, events_fd = int(argv[0]), int(argv[1])
    run_job(json.loads(_read_all(config_fd)), events_fd)


if __name__ == "__main__":
    main(sys.argv[1:])
