"""The observer: what the child keeps out of student code's reach (used by grader/_child.py only).

It holds the events channel and its key, and reads what autograd computed.  Student code runs in the same
process, so this module is written so that nothing it does can be changed or watched by student code:

* it is imported once, before student code runs, then taken out of ``sys.modules`` and the ``grader``
  package: no name leads to it;
* its functions use a private copy of the builtins, and private references, taken at import, to the few
  C functions they call (``posix.write``, ``_hashlib.hmac_digest``, torch's C tensor methods...): patching
  ``builtins``, ``json``, ``os`` or ``torch.Tensor`` does not reach in here;
* it never calls a method of a student object: it checks exact types, reads tensors through the C base
  class with ``__torch_function__`` and Python dispatch off, looks names up in student dicts by walking
  them (a dict lookup could call a student ``__eq__``), leaves every change of the student's namespace
  to _child._drive and the reading of frames to _child._gather, and hands the student objects it lets go
  of back to be released outside (see ``dispatch``): no student finalizer runs inside;
* its methods run only through a capability (grader/_child.py), which removes student signal handlers
  first, refuses while a trace or profile function or gc.DEBUG_SAVEALL is set, and turns the collector
  off; meanwhile the audit hook refuses this thread any frame.
"""

from __future__ import annotations

import builtins as _real_builtins

__builtins__ = dict(vars(_real_builtins))  # noqa: A001 - every function below resolves builtins here

import _hashlib  # noqa: E402
import _json  # noqa: E402
import _thread  # noqa: E402
import math  # noqa: E402
import posix  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

_hmac_digest = _hashlib.hmac_digest
_escape = _json.encode_basestring_ascii
_allocate_lock = _thread.allocate_lock
_isfinite = math.isfinite
_write = posix.write
_monotonic = time.monotonic
_ModuleType = types.ModuleType
_module_dict = types.ModuleType.__dict__["__dict__"].__get__  # not module.__dict__: __class__ can be changed
_type_flags = type.__dict__["__flags__"].__get__  # type's own, whatever a metaclass defines
_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_HEAPTYPE = 1 << 9


def N_(message: str) -> str:
    """Marks an English template for the catalog; the parent translates it (grader/i18n.py)."""
    return message


def text(template: str, **args) -> dict:
    """A sentence for the student, sent as a template and its arguments so the parent can translate it."""
    return {"template": template, "args": args}


def encode(value) -> str:
    """JSON for the values the observer sends (exact types only; NaN and infinities as strings)."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if _isfinite(value):
            return float.__repr__(value)
        return '"nan"' if value != value else ('"inf"' if value > 0 else '"-inf"')
    if kind is str:
        return _escape(value)
    if kind is list or kind is tuple:
        return "[" + ",".join([encode(item) for item in value]) + "]"
    if kind is dict:
        return "{" + ",".join([_escape(k) + ":" + encode(v) for k, v in value.items() if type(k) is str]) + "}"
    return "null"


class Channel:
    """Events to the parent, one JSON object per line, each line signed: ``MAC JSON``, where MAC is an
    HMAC-SHA256 (first 16 bytes, hex) of ``SEQUENCE:JSON`` under a key the parent drew for this run (see
    grader/trace.py).  Student code can write into the pipe, but what it writes fails the parent's check and
    the run is marked as tampered with.  Step events are buffered (a write per event would cost more than
    the student's whole training) and flushed every 64 events or 50 ms; every other event flushes at once."""

    def __init__(self, fd: int, key: bytes) -> None:
        self.fd = fd
        self.key = key
        self.buffer: list[bytes] = []
        self.flushed = _monotonic()
        self.sequence = 0

    def send(self, event: str, buffered: bool = False, **fields) -> None:
        fields["event"] = event
        line = encode(fields).encode("ascii")
        # The parent checks this with grader.trace.sign (the same formula, written twice on purpose: this
        # module calls nothing student code can reach, and hmac.digest is Python).
        mac = _hmac_digest(self.key, b"%d:" % self.sequence + line, "sha256")[:16].hex().encode("ascii")
        self.buffer.append(mac + b" " + line + b"\n")
        self.sequence += 1
        if not buffered or len(self.buffer) >= 64 or _monotonic() - self.flushed > 0.05:
            self.flush()

    def flush(self) -> None:
        data, self.buffer, self.flushed = b"".join(self.buffer), [], _monotonic()
        view = memoryview(data)
        while view:
            written = _write(self.fd, view)
            view = view[written:]


def lookup(space, name: str):
    """``space[name]`` for a student dict, without hashing or comparing anything of the student's."""
    if type(space) is not dict:
        return None
    for key, value in space.items():
        if type(key) is str and key == name:
            return value
    return None


def c_attribute(obj, name: str):
    """An attribute of ``obj`` as its C type defines it, skipping any class written in Python (which student
    code could have patched): for autograd nodes, ``variable`` and ``next_functions``."""
    kind = type(obj)
    for cls in _type_mro(kind):
        if not _type_flags(cls) & _HEAPTYPE:
            descriptor = _type_dict(cls).get(name)
            if descriptor is not None:
                return descriptor.__get__(obj, kind)
    return None


def plain(value, depth: int = 0):
    """A copy of ``value`` made only of JSON's exact types (what _drive hands over is student-reachable)."""
    if depth > 6:
        return None
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float or kind is str:
        return value
    if kind is list or kind is tuple:
        return [plain(v, depth + 1) for v in value[:10_000]]
    if kind is dict:
        return {k: plain(v, depth + 1) for k, v in value.items() if type(k) is str}
    return None


def basename(path: str) -> str:
    return path.rpartition("/")[2] if type(path) is str else ""


ENDINGS = ("finished", "exception", "exit", "timeout", "syntax_error")


class Observer:
    """Watches one run of student code.  See the module's docstring for the rules its code keeps."""

    def __init__(self, config: dict, channel: Channel, control) -> None:
        import torch

        base = self.base = torch._C.TensorBase
        self._item, self._numel, self._fill, self._copy = base.item, base.numel, base.fill_, base.copy_
        self._detach, self._clone, self._requires_grad_ = base.detach, base.clone, base.requires_grad_
        self._grad = base.__dict__["grad"].__get__
        self._set_grad = base.__dict__["grad"].__set__
        self._is_leaf = base.__dict__["is_leaf"].__get__
        self._grad_fn = base.__dict__["grad_fn"].__get__
        self._shape = base.__dict__["shape"].__get__
        self._full, self._float32 = torch.full, torch.float32
        self._grad_enabled, self._set_grad_enabled = torch.is_grad_enabled, torch._C._set_grad_enabled
        self._no_function, self._no_dispatch = torch._C.DisableTorchFunction, torch._C._DisableTorchDispatch
        self.config = config
        self.channel = channel
        # The hook's controls, taken now: looked up later on the Control object, a class student code can
        # reach (grader._sandbox) could answer instead.
        self._observing, self._activate, self._attempts = control.observing, control.activate, control.attempts
        self.filename = config["filename"]
        self.names = tuple(config["spec"]["parameters"])
        self.max_steps = int(config["spec"]["max_steps"])
        self.probe_x = float(config["spec"]["probe_x"])
        self.limit = float(config["time_limit"])
        self.points = tuple(config["probes"])
        self.steps = 0
        self.extra_steps = 0
        self.recording = True
        self.module = None
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
        self.started = _monotonic()
        self.probing: dict | None = None
        self.sealed: list = []  # what the capabilities call, kept alive by this object (see _child._prepare)
        self.graveyard: list = []  # student objects this call lets go of, released after it (see dispatch)
        lock = _allocate_lock()
        self._busy, self._done = lock.acquire, lock.release

    def dispatch(self, foreign_handlers: bool, method, *args):
        """The one way into the observer (through a capability).  Returns (result, graveyard): the student
        objects this call let go of, which the capability releases once out of here, so that no student
        finalizer (``__del__``, ``weakref.finalize``) runs while an observer frame is on the stack.  The
        audit hook meanwhile refuses this thread any frame."""
        if not self._busy(True, 2.0):  # one thread at a time; the observer never waits on student code
            return None, []
        self._observing(True)
        graveyard = self.graveyard = []
        try:
            with self._no_function(), self._no_dispatch():
                if foreign_handlers:
                    self.note(N_("Your program set a signal handler; the grader removed it."))
                return method(*args), graveyard
        finally:
            self.graveyard = []
            self._observing(False)
            self._done()

    def let_go(self, *objects) -> None:
        self.graveyard.extend(objects)

    # -- values ----------------------------------------------------------------------------------------

    def is_tensor(self, value) -> bool:
        base = self.base
        return any(cls is base for cls in _type_mro(type(value)))

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

    # -- finding the parameters ------------------------------------------------------------------------

    def namespaces(self, gathered):
        """The student's frames' locals (innermost first; gathered by _child._gather, outside the observer:
        reading a frame's locals can free a student object) and the module's globals; the line of the
        innermost student frame."""
        spaces, line = [], None
        if type(gathered) is tuple and len(gathered) == 2:
            found, where = gathered
            if type(found) is list:
                spaces = [space for space in found if type(space) is dict]
            if type(where) is tuple and len(where) == 2 and type(where[0]) is int and type(where[1]) is str:
                line = where
        if self.module is not None:
            spaces.append(_module_dict(self.module))
        return spaces, line

    def find_params(self, spaces, loss) -> dict[str, object]:
        found = {}
        for name in self.names:
            for space in spaces:
                value = lookup(space, name)
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
            variable = c_attribute(node, "variable")
            if self.is_tensor(variable):
                leaves.append(variable)
            pairs = c_attribute(node, "next_functions")
            if type(pairs) is tuple:
                for pair in pairs:
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

    # -- backward passes (through the stand-in for torch.autograd.backward) ----------------------------

    def before(self, args, kwargs, gathered):
        """What the loss and the parameters are as a backward pass starts; a token for ``after``."""
        if not self.recording or type(args) is not tuple or type(kwargs) is not dict:
            return None
        loss = args[0] if args else lookup(kwargs, "tensors")
        if (type(loss) is list or type(loss) is tuple) and len(loss) == 1:
            loss = loss[0]
        spaces, line = self.namespaces(gathered)
        params = self.find_params(spaces, loss if self.is_tensor(loss) else None)
        site = (line, tuple(id(t) for t in params.values()))
        if site not in self.touched:  # the same call site with the same tensors: the same answer
            self.touched[site] = bool(params) and self.touches(loss, params)
        if not self.touched[site]:
            # Another model's training (a notebook holding both homeworks), or parameters under other names.
            self.ignored += 1
            return None
        self.let_go(*self.last_seen.values())
        self.last_seen.update(params)
        for name in ("forward", "loss"):  # the functions in use while this assignment trains
            for space in spaces:
                value = lookup(space, name)
                if callable(value):
                    self.let_go(self.functions_seen.get(name))
                    self.functions_seen[name] = value
                    break
        self.tokens += 1
        before = {name: self.scalar(t) for name, t in params.items()}
        self.pending[self.tokens] = (params, before, self.scalar(loss), line)
        return self.tokens

    def after(self, token, succeeded) -> None:
        entry = self.pending.pop(token, None) if type(token) is int else None
        self.let_go(entry)
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

    # -- figures (read by _child._snapshot; only plain data arrives here) --------------------------------

    def figure_changed(self, number, lines, axes) -> bool:
        known = self.figures.get((self.cell_key, number)) if type(number) is int else None
        return known is None or known["lines"] != plain(lines) or known["axes"] != axes

    def record_figure(self, number, lines, axes, png) -> None:
        if type(number) is not int or type(lines) is not list or type(axes) is not int:
            return
        png = png if type(png) is str else None
        self.figures[(self.cell_key, number)] = {"number": number, "lines": plain(lines), "png": png,
                                                 "axes": axes}
        if png:
            self.cell_pngs[number] = png

    def figure_failed(self, error) -> None:
        self.note(N_("A figure could not be read: {error}."), error=error[:100] if type(error) is str else "?")

    # -- running the student's code --------------------------------------------------------------------

    def begin(self):
        """Set up the run: the student's module, then the sandbox, from here to the end of the process.
        Returns what _drive needs: the units to run, the module, the time limit, the student's file names."""
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
        module = _ModuleType("__main__")
        module.__file__ = self.config["workfile"]
        module.__builtins__ = _real_builtins  # the student's, not this module's private copy
        self.module = module
        self.started = _monotonic()
        self._activate()
        handed = [{"filename": u["filename"], "source": u["source"], "cell": dict(u["cell"]) if u["cell"] else None}
                  for u in units]
        return handed, module, self.limit, self.filenames

    def start_unit(self, index) -> None:
        if type(index) is int and 0 <= index < len(self.units) and self.units[index]["cell"]:
            self.cell_key = self.units[index]["cell"]["number"]

    def end_unit(self, index, ended, output) -> bool:
        """How one unit ended, as _drive described it (plain data); whether to stop there."""
        if type(index) is not int or not 0 <= index < len(self.units) or self.units[index].get("done"):
            return True
        self.units[index]["done"] = True
        ended = plain(ended) if type(ended) is dict else None
        if ended is None or ended.get("status") not in ENDINGS:
            ended = {"status": "exception"}
        self.ended = ended
        cell = self.units[index]["cell"]
        if cell is not None:
            self.send_cell(cell, ended, plain(output) if type(output) is dict else {})
        return ended["status"] != "finished" or bool(ended.get("stop"))

    def send_cell(self, cell: dict, outcome: dict, output: dict) -> None:
        """What one notebook cell produced, for the graded notebook (its figures were read just before)."""
        pngs = list(self.cell_pngs.values())
        self.cell_pngs = {}
        failed = outcome["status"] != "finished"
        trace = outcome.get("traceback")
        self.channel.send(
            "cell",
            index=cell["index"],
            number=cell["number"],
            stdout=output.get("stdout") if type(output.get("stdout")) is str else "",
            stderr=output.get("stderr") if type(output.get("stderr")) is str else "",
            result=output.get("result") if type(output.get("result")) is str else None,
            error=(outcome.get("message") or outcome["status"]) if failed else None,
            error_name=(outcome.get("exc_type") or outcome["status"]) if failed else None,
            traceback=trace.splitlines() if failed and type(trace) is str else [],
            figures=pngs,
        )

    def end_run(self, between_units) -> None:
        """The program has ended (``between_units``: its time ran out between two cells)."""
        if not self.recording or self.module is None:
            return
        self.recording = False
        outcome = dict(self.ended or {"status": "finished"})
        if between_units is True:
            outcome = {"status": "timeout"}
        if outcome["status"] == "timeout":
            outcome["limit"] = self.limit
        outcome.pop("stop", None)
        outcome["seconds"] = _monotonic() - self.started
        if type(outcome.get("file")) is not str:
            outcome["file"] = basename(self.filename)
        self.channel.send("outcome", **outcome)

    # -- after the run ---------------------------------------------------------------------------------

    def current_params(self) -> dict[str, object]:
        params = {}
        space = _module_dict(self.module) if self.module is not None else {}
        for name in self.names:
            value = lookup(space, name)
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
        found = lookup(_module_dict(self.module), name) if self.module is not None else None
        return found if callable(found) else None

    def calls(self):
        """What _drive does after the run: bind forward and loss in the module as they were during
        training (a loss() calling forward() by name then finds the forward of the same assignment), then
        call forward(probe_x), then each probe.  Returns (bindings, calls)."""
        if self.recording or self.module is None or self.probing is not None:
            return None
        self.probing = {"done": set()}
        calls = [("final", self.student_function("forward"), (self.probe_x,))]
        for index, point in enumerate(self.points):
            function = self.student_function(point["kind"])
            args = (point["x"],) if point["kind"] == "forward" else (point["x"], point["y"])
            calls.append((index, function, args))
        return dict(self.functions_seen), calls

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
            error, prediction = text("{error}", error=error[:600]), None
        elif prediction is None:
            error = text(N_("forward({x:g}) returned {type}, not a number"), x=self.probe_x,
                         type=type_name[:100] if type(type_name) is str else "?")
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
        """Put the probe's parameter values in place: a parameter kept in a closure is changed in place
        here (and put back by probe_end); for one the module holds, the fresh tensors to bind there are
        returned, for _drive to bind and unbind.  None when this probe cannot run."""
        if self.probing is None or type(index) is not int or index in self.probing["done"] \
                or not 0 <= index < len(self.points) or "current" in self.probing:
            return None
        point = self.points[index]
        space = _module_dict(self.module) if self.module is not None else {}
        originals = self.current_params()
        probe_tensors, bind, restore_data = {}, {}, []
        for name in self.names:
            value = float(point["params"][name])
            original = originals.get(name)
            one = self.is_tensor(original) and self._numel(original) == 1
            shape = tuple(self._shape(original)) if one else (1,)
            if self.is_tensor(lookup(space, name)) or original is None:
                fresh = self._requires_grad_(self._full(shape, value, dtype=self._float32), True)
                bind[name] = fresh
                probe_tensors[name] = fresh
            elif self._is_leaf(original):  # a parameter kept in a closure: change it in place, then put it back
                enabled = self._grad_enabled()
                self._set_grad_enabled(False)
                try:
                    restore_data.append((original, self._clone(self._detach(original)), self._grad(original)))
                    self._fill(original, value)
                finally:
                    self._set_grad_enabled(enabled)
                self._set_grad(original, None)
                probe_tensors[name] = original
        self.probing["current"] = (index, probe_tensors, restore_data)
        return bind

    def probe_end(self, index, value, type_name, error, differentiated) -> None:
        current = self.probing.get("current") if self.probing else None
        if current is None or current[0] != index:
            return
        self.let_go(self.probing.pop("current"))
        self.probing["done"].add(index)
        _, probe_tensors, restore_data = current
        point = self.points[index]
        kind = point["kind"]
        try:
            value = value if type(value) is float else None
            grads: dict = {}
            if type(error) is str:
                error, value = text("{error}", error=error[:600]), None
            elif value is None:
                error = text(N_("{kind} returned {type}, not a number"), kind=kind,
                             type=type_name[:100] if type(type_name) is str else "?")
            elif differentiated is True:
                grads = {name: self.scalar(self._grad(t)) for name, t in probe_tensors.items()}
                error = None
            else:
                grads = {name: None for name in self.names}
                error = None
            self.channel.send("probe", kind=kind, params=point["params"], x=point["x"], y=point.get("y"),
                              value=value, grads=grads, error=error)
        finally:
            for tensor, data, grad in restore_data:
                enabled = self._grad_enabled()
                self._set_grad_enabled(False)
                try:
                    self._copy(tensor, data)
                finally:
                    self._set_grad_enabled(enabled)
                self._set_grad(tensor, grad)

    def finish(self) -> None:
        if self.probing is None or self.probing.get("finished"):
            return
        self.probing["finished"] = True
        for what in dict.fromkeys(self._attempts()):
            self.note(N_("Your program tried to {what}; that is not allowed while grading."), what=what)
        for figure in self.figures.values():
            self.channel.send("figure", number=figure["number"], lines=figure["lines"], png=figure["png"])
        self.channel.send("done")

    def flush(self) -> None:
        self.channel.flush()
