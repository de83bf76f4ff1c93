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
import sys
import tempfile
import time
import traceback
import types
import weakref

from grader._sandbox import JailError, Policy, SandboxViolation, isolate_network, jail, limit_resources
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
    """Watches one run of student code."""

    def __init__(self, config: dict, channel: Channel) -> None:
        import torch  # noqa: F401  (imported before student code so its functions can be kept privately)

        self.torch = torch
        self.Tensor = torch.Tensor
        self.real_backward = torch.autograd.backward
        # Read tensors through the C base class, whose methods student code cannot replace (patching
        # torch.Tensor.item or .grad must not make the grader read made-up numbers).
        base = torch._C.TensorBase
        self._item, self._numel = base.item, base.numel
        self._grad = base.__dict__["grad"].__get__
        self._is_leaf = base.__dict__["is_leaf"].__get__
        self.no_grad = torch.no_grad
        self.config = config
        self.channel = channel
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
        self.policy: Policy | None = None
        self.noted: set[str] = set()
        self.figures: dict[tuple[int, int], dict] = {}
        self.cell_key = 0  # the notebook cell running now (0 for a script)
        self.cell_pngs: dict[int, str] = {}
        self.filenames = {self.filename}
        self.sealed: list = []  # keeps alive what seal() handed out

    # -- values --------------------------------------------------------------------------------------

    def scalar(self, value):
        """A float from a tensor of one element or a Python number; None otherwise."""
        if isinstance(value, self.Tensor):
            if self._numel(value) != 1:
                return None
            return float(self._item(value))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
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
        frame = sys._getframe(2)
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
                if isinstance(value, self.Tensor):
                    found[name] = value
                    break
        missing = [name for name in self.names if name not in found]
        if missing and isinstance(loss, self.Tensor):
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
        nodes, leaves, seen, stack = [], [], set(), [loss.grad_fn]
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            nodes.append(node)
            variable = getattr(node, "variable", None)
            if isinstance(variable, self.Tensor):
                leaves.append(variable)
            stack.extend(next_node for next_node, _ in getattr(node, "next_functions", ()))
        return nodes, leaves

    def touches(self, loss, params: dict) -> bool:
        """Whether this backward pass involves any of the assignment's parameters (a notebook holding both
        homeworks also trains the other one's).  When in doubt, it does."""
        if not params or not isinstance(loss, self.Tensor) or loss.grad_fn is None:
            return True
        try:
            nodes, leaves = self.graph(loss)
        except Exception:  # noqa: BLE001
            return True
        for tensor in params.values():
            if any(leaf is tensor for leaf in leaves):
                return True
            grad_fn = tensor.grad_fn
            if grad_fn is not None and any(node is grad_fn for node in nodes):
                return True
        return False

    # -- the hook --------------------------------------------------------------------------------------

    def backward(self, tensors, *args, **kwargs):
        if not self.recording:
            return self.real_backward(tensors, *args, **kwargs)
        loss = tensors
        if isinstance(tensors, (list, tuple)) and len(tensors) == 1:
            loss = tensors[0]
        spaces, line = self.namespaces()
        params = self.find_params(spaces, loss if isinstance(loss, self.Tensor) else None)
        site = (line, tuple(id(t) for t in params.values()))
        if site not in self.touched:  # the same call site with the same tensors: the same answer
            self.touched[site] = bool(params) and self.touches(loss, params)
        if not self.touched[site]:
            # Another model's training (a notebook holding both homeworks), or parameters under other names.
            self.ignored += 1
            return self.real_backward(tensors, *args, **kwargs)
        self.last_seen.update(params)
        for name in ("forward", "loss"):  # the functions in use while this assignment trains
            for space in spaces:
                if callable(space.get(name)):
                    self.functions_seen[name] = space[name]
                    break
        before = {name: self.scalar(t) for name, t in params.items()}
        loss_value = self.scalar(loss)
        result = self.real_backward(tensors, *args, **kwargs)
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
        return result

    def install(self) -> None:
        self.torch.autograd.backward = forwarder(seal(self.backward, self.sealed), self.real_backward)

    # -- figures -----------------------------------------------------------------------------------------

    def snapshot_figures(self) -> None:
        if "matplotlib.pyplot" not in sys.modules:  # no pyplot, no figure
            return
        was = self.policy is not None and self.policy.active
        self.sandbox(False)  # the grader's own reading (fonts) while it draws the figure
        try:
            self._snapshot_figures()
        finally:
            self.sandbox(was)

    def _snapshot_figures(self) -> None:
        try:
            from matplotlib._pylab_helpers import Gcf
        except Exception:  # matplotlib missing or broken: nothing to record
            return
        for manager in Gcf.get_all_fig_managers():
            try:
                figure = manager.canvas.figure
                lines = []
                for axes in figure.axes:
                    for line in axes.get_lines():
                        ys = [self.scalar(float(v)) for v in list(line.get_ydata())[:10000]]
                        lines.append({"label": str(line.get_label())[:200], "ys": ys})
                key = (self.cell_key, int(manager.num))
                known = self.figures.get(key)
                if known is not None and known["lines"] == lines and known.get("axes") == len(figure.axes):
                    continue  # shown before and unchanged: no need to draw it again
                png = None
                if self.config.get("figure_png"):  # only a graded notebook needs the picture itself
                    buffer = io.BytesIO()
                    figure.savefig(buffer, format="png", dpi=60)
                    png = base64.b64encode(buffer.getvalue()).decode("ascii")
                self.figures[key] = {"number": int(manager.num), "lines": lines, "png": png,
                                     "axes": len(figure.axes)}
                if png:
                    self.cell_pngs[int(manager.num)] = png
            except Exception as exc:  # a figure the student broke: say so, keep going
                self.note(N_("A figure could not be read: {error}."), error=type(exc).__name__)

    # -- running the student's code ---------------------------------------------------------------------

    def student_traceback(self, exc: BaseException) -> tuple[str, int | None, str | None]:
        """The traceback restricted to the student's own code, its last line, and that code's file name."""
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in self.filenames]
        text = "".join(traceback.format_list(frames)) if frames else ""
        text += "".join(traceback.format_exception_only(type(exc), exc))
        last = frames[-1] if frames else None
        return text, (last.lineno if last else None), (os.path.basename(last.filename) if last else None)

    def prepare_module(self) -> types.ModuleType:
        module = types.ModuleType("__main__")
        module.__file__ = self.config["workfile"]
        module.__builtins__ = __builtins__
        self.module = module
        sys.modules["__main__"] = module
        sys.argv = [self.config["workfile"]]
        return module

    def run(self) -> None:
        """Run the script, or the notebook's cells in order in one namespace, stopping at the first failure
        as Jupyter's "run all" does; then report how it ended."""
        cells = self.config.get("cells")
        if cells is None:
            units = [{"filename": self.filename, "source": self.config["source"], "cell": None}]
        else:
            units = [{"filename": f"{self.filename}, cell {c['number']}", "source": c["source"], "cell": c}
                     for c in cells]
        self.filenames = {unit["filename"] for unit in units}
        module = self.prepare_module()
        if cells is not None:
            module.__dict__.update(display=_display, get_ipython=_Shell)
            sys.stdout, sys.stderr = _Tee(sys.stdout), _Tee(sys.stderr)
        self.install()
        limit = float(self.config["time_limit"])
        started = time.monotonic()
        signal.signal(signal.SIGALRM, _raise_time_limit)
        signal.setitimer(signal.ITIMER_REAL, limit)
        outcome: dict = {"status": "finished"}
        self.sandbox(True)
        try:
            for unit in units:
                outcome = self.run_unit(unit, module, limit)
                if outcome["status"] != "finished" or outcome.get("stop"):
                    break
        except _TimeLimit:  # between cells
            outcome = {"status": "timeout", "limit": limit}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.sandbox(False)
        self.recording = False
        outcome.pop("stop", None)
        outcome["seconds"] = time.monotonic() - started
        outcome.setdefault("file", os.path.basename(self.filename))
        self.channel.send("outcome", **outcome)

    def run_unit(self, unit: dict, module: types.ModuleType, limit: float) -> dict:
        filename, source, cell = unit["filename"], unit["source"], unit["cell"]
        if cell is not None and not cell.get("run", True):
            return {"status": "finished"}
        self.cell_key = cell["number"] if cell else 0
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        result, outcome = None, {"status": "finished"}
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
            outcome = {
                "status": "syntax_error",
                "file": os.path.basename(filename),
                "message": getattr(exc, "msg", None) or str(exc),
                "exc_type": type(exc).__name__,
                "line": line if isinstance(line, int) else None,
                "traceback": "".join(traceback.format_exception_only(type(exc), exc)),
            }
        else:
            try:
                exec(code, module.__dict__)
                if shown is not None:
                    value = eval(shown, module.__dict__)
                    if value is not None:
                        result = repr(value)[:10000]
            except _TimeLimit as exc:
                text, line, where = self.student_traceback(exc)
                text = "".join(text.splitlines(True)[:-1]) + f"(stopped here: the time limit of {limit:g} s ran out)\n"
                outcome = {"status": "timeout", "limit": limit, "line": line,
                           "file": where, "traceback": text}
            except SystemExit as exc:
                _, line, where = self.student_traceback(exc)
                if exc.code is None or exc.code == 0:
                    outcome = {"status": "finished", "stop": True}
                else:
                    outcome = {"status": "exit", "exit_code": repr(exc.code)[:100],
                               "line": line, "file": where}
            except BaseException as exc:  # noqa: BLE001 - student code may raise anything
                text, line, where = self.student_traceback(exc)
                outcome = {"status": "exception", "exc_type": type(exc).__name__, "message": _one_line(exc),
                           "line": line, "file": where, "traceback": text}
                if isinstance(exc, SandboxViolation):  # said as a phrase the parent can translate
                    outcome["denied"] = text_of(exc.what, exc.detail)
        if cell is not None:
            self.send_cell(cell, outcome, result)
        return outcome

    def send_cell(self, cell: dict, outcome: dict, result: str | None) -> None:
        """What one notebook cell produced, for the graded notebook; then close its figures, as the
        inline backend does once it has shown them."""
        self.snapshot_figures()
        pngs = list(self.cell_pngs.values())
        self.cell_pngs = {}
        if _REAL_CLOSE is not None:
            try:
                _REAL_CLOSE("all")
            except Exception:  # noqa: BLE001
                pass
        failed = outcome["status"] not in ("finished",)
        self.channel.send(
            "cell",
            index=cell["index"],
            number=cell["number"],
            stdout=sys.stdout.take() if isinstance(sys.stdout, _Tee) else "",
            stderr=sys.stderr.take() if isinstance(sys.stderr, _Tee) else "",
            result=result,
            error=(outcome.get("message") or outcome["status"]) if failed else None,
            error_name=(outcome.get("exc_type") or outcome["status"]) if failed else None,
            traceback=(outcome.get("traceback") or "").splitlines() if failed else [],
            figures=pngs,
        )

    # -- after the run ----------------------------------------------------------------------------------

    def guarded(self, call):
        """Call student code with a short time limit; return (result, error text)."""
        signal.setitimer(signal.ITIMER_REAL, PROBE_SECONDS)
        self.sandbox(True)
        try:
            return call(), None
        except _TimeLimit:
            return None, text(N_("it did not return within {seconds:g} s"), seconds=PROBE_SECONDS)
        except BaseException as exc:  # noqa: BLE001
            return None, text("{error}", error=f"{type(exc).__name__}: {_one_line(exc)}")
        finally:
            self.sandbox(False)
            signal.setitimer(signal.ITIMER_REAL, 0)

    def sandbox(self, on: bool) -> None:
        if self.policy is not None:
            self.policy.active = on

    def current_params(self) -> dict[str, object]:
        params = {}
        space = self.module.__dict__ if self.module is not None else {}
        for name in self.names:
            value = space.get(name)
            if isinstance(value, self.Tensor):
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

    def report_final(self) -> None:
        functions = [name for name in ("forward", "loss") if self.student_function(name) is not None]
        params = self.current_params()
        prediction, error = None, None
        if self.ignored:
            names = ", ".join(self.names)
            self.note(N_("{count} backward passes that involved none of {names} were not counted (the parameters "
                         "must keep the assignment's names)."), count=self.ignored, names=names)
        forward = self.student_function("forward")
        if callable(forward):
            result, error = self.guarded(lambda: forward(float(self.config["spec"]["probe_x"])))
            if error is None:
                prediction = self.scalar(result)
                if prediction is None:
                    error = text(N_("forward({x:g}) returned {type}, not a number"),
                                 x=self.config["spec"]["probe_x"], type=type(result).__name__)
        else:
            error = text(N_("there is no function named {name}"), name="forward")
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

    def probe(self, kind: str, point: dict) -> None:
        torch = self.torch
        space = self.module.__dict__ if self.module is not None else {}
        function = self.student_function(kind)
        event = {"kind": kind, "params": point["params"], "x": point["x"], "y": point.get("y")}
        if not callable(function):  # the parent knows which functions exist from the "final" event
            return
        originals = self.current_params()
        probe_tensors, restore_globals, restore_data = {}, {}, {}
        for name in self.names:
            value = float(point["params"][name])
            original = originals.get(name)
            shape = tuple(original.shape) if isinstance(original, self.Tensor) and original.numel() == 1 else (1,)
            if isinstance(space.get(name), self.Tensor) or original is None:
                fresh = torch.full(shape, value, dtype=torch.float32).requires_grad_(True)
                restore_globals[name] = space.get(name, _MISSING)
                space[name] = fresh
                probe_tensors[name] = fresh
            elif original.is_leaf:  # a parameter kept in a closure: change it in place, then put it back
                with self.no_grad():
                    restore_data[name] = (original, original.detach().clone(), original.grad)
                    original.fill_(value)
                original.grad = None
                probe_tensors[name] = original
        args = (point["x"],) if kind == "forward" else (point["x"], point["y"])
        try:
            result, error = self.guarded(lambda: function(*args))
            value, grads = None, {}
            if error is None:
                value = self.scalar(result)
                if value is None:
                    error = text(N_("{kind} returned {type}, not a number"), kind=kind, type=type(result).__name__)
                elif isinstance(result, self.Tensor) and result.requires_grad:
                    _, error = self.guarded(lambda: self.real_backward(result.sum()))
                    grads = {name: self.scalar(self._grad(t)) for name, t in probe_tensors.items()}
                else:
                    grads = {name: None for name in self.names}
            self.channel.send("probe", **event, value=value, grads=grads, error=error)
        finally:
            _restore(space, restore_globals)
            for name, (tensor, data, grad) in restore_data.items():
                with self.no_grad():
                    tensor.copy_(data)
                tensor.grad = grad

    def finish(self) -> None:
        # Call forward and loss with the module's names bound as they were during training, so that a
        # loss() calling forward() by name finds the forward of the same assignment.
        space = self.module.__dict__ if self.module is not None else {}
        saved = {name: space.get(name, _MISSING) for name in self.functions_seen}
        space.update(self.functions_seen)
        try:
            self.report_final()
            for point in self.config["probes"]:
                self.probe(point["kind"], point)
        finally:
            _restore(space, saved)
        if self.policy is not None:
            for what in dict.fromkeys(self.policy.attempts):
                self.note(N_("Your program tried to {what}; that is not allowed while grading."), what=what)
        self.snapshot_figures()
        for figure in self.figures.values():
            self.channel.send("figure", number=figure["number"], lines=figure["lines"], png=figure["png"])


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


# -- matplotlib: never blocking, always observed ---------------------------------------------------------

_REAL_CLOSE = None
# What the functions installed for student code may call in the job this process runs: sealed callables
# (see _Sealed), never the observer itself.
_CURRENT: dict[str, object] = {}


class _Sealed:
    """A callable whose insides student code cannot follow.  It is only ever handed out through
    ``weakref.proxy``, which forwards calls but not the object: no ``__self__``, ``__closure__``,
    ``__globals__`` or ``__class__`` leads from it to the observer, its channel or its private references
    to torch, and every attribute lookup that the proxy forwards is refused here.  (Frames are another
    way in; see the README's sandbox section.)"""

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


def forwarder(target, like):
    """A plain function standing in for the function ``like`` and calling ``target`` (a sealed proxy):
    hashable and named like any function (torch keeps some of its functions in sets), with no closure,
    and globals that hold nothing but the proxy."""
    namespace = {"__builtins__": {}, "_target": target}
    exec(f"def {like.__name__}(*args, **kwargs):\n    return _target(*args, **kwargs)\n", namespace)
    function = namespace.pop(like.__name__)
    function.__module__, function.__qualname__, function.__doc__ = like.__module__, like.__qualname__, like.__doc__
    return function


def _patch_pyplot(plt) -> None:
    """plt.show() records the figures instead of opening a window; plt.close() records them first."""
    global _REAL_CLOSE
    if getattr(plt, "_grader_patched", False):
        return
    _REAL_CLOSE = real_close = plt.close

    def show(*args, **kwargs):
        snapshot = _CURRENT.get("snapshot")
        if snapshot is not None:
            snapshot()

    def close(*args, **kwargs):
        snapshot = _CURRENT.get("snapshot")
        if snapshot is not None:
            snapshot()
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
        flush = _CURRENT.get("flush")
        if flush is not None:
            try:
                flush()
            except (OSError, ReferenceError):
                pass
        _REAL_EXIT(status)

    import posix

    os._exit = posix._exit = exit_now


def _sandbox_policy(config: dict) -> Policy:
    """Limits for this process, its jail, and the audit hook (inactive until student code runs)."""
    readable = [os.path.dirname(os.path.abspath(__file__))]
    try:
        import matplotlib

        readable += [matplotlib.get_data_path(), matplotlib.get_cachedir(), matplotlib.get_configdir()]
    except Exception:  # noqa: BLE001 - no matplotlib: nothing of it to read
        pass
    policy = Policy(config["workdir"], tuple(readable))
    global _NETWORK_ISOLATED
    if not _NETWORK_ISOLATED:  # a zygote's children inherit its namespace
        _NETWORK_ISOLATED = isolate_network()
    limit_resources(
        memory_mb=int(config.get("memory_mb", 1024)),
        cpu_seconds=float(config["time_limit"]) + 30,
        file_mb=int(config.get("file_mb", 16)),
    )
    layers = ["limits", "audit"] + (["network"] if _NETWORK_ISOLATED else [])
    if config.get("jail", True):
        try:
            uid = jail(config["workdir"], tuple(r for r in policy.read_roots if not r.startswith(("/proc", "/sys", "/dev"))))
        except JailError as exc:
            sys.stderr.write(f"grader: the submission could not be isolated ({exc}); it was not run.\n")
            raise
        if uid is not None:
            layers += ["filesystem", "user"]
            tempfile.tempdir = config["workdir"]
            os.environ.update(HOME=config["workdir"], TMPDIR=config["workdir"])
    policy.layers = layers
    sys.addaudithook(policy.hook)
    _guard_exit()
    return policy


def run_job(config: dict, events_fd: int) -> None:
    """Run one submission in this process and report on ``events_fd``; never returns."""
    channel = None
    try:
        channel = Channel(events_fd, bytes.fromhex(config.pop("key")))
        observer = Observer(config, channel)
        _CURRENT.update(snapshot=seal(observer.snapshot_figures, observer.sealed),
                        flush=seal(channel.flush, observer.sealed))
        observer.torch.set_num_threads(1)
        install_plot_hooks()
        os.chdir(config["workdir"])
        sys.path[:] = [config["workdir"]] + [p for p in sys.path if p != config.get("bootstrap_path")]
        observer.policy = _sandbox_policy(config)
        channel.send("ready", isolation=observer.policy.layers)
        observer.run()
        observer.finish()
        channel.send("done")
    finally:
        if channel is not None:
            try:
                channel.flush()
            except OSError:
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
