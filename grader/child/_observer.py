"""The observer: what the child keeps out of student code's reach (loaded by grader/child/main.py only).

It holds the events channel and its key, and reads what autograd computed.  Student code runs in the same
process, so this module is written so that nothing it does can be changed or watched by student code:

* it is never imported: main.py executes its code in a fresh module object that no name leads to (not in
  ``sys.modules``, not an attribute of a package);
* its functions use a private copy of the builtins, private copies of the protocol's encoder and signature
  (grader.protocol.private_copy), and private references, taken when it is loaded, to the few C functions
  they call (``posix.write``, torch's C tensor methods...): patching ``builtins``, ``json``, ``os``,
  ``grader.protocol`` or ``torch.Tensor`` does not reach in here;
* it never calls a method of a student object: it checks exact types, reads tensors through the C base
  class with ``__torch_function__`` and Python dispatch off, looks names up in student dicts by walking
  them (a dict lookup could call a student ``__eq__``), leaves every change of the student's namespace to
  the child's driver (execute.py) and the reading of frames to boundary.gather, and hands the student
  objects it lets go of back to be released outside (see ``Observer.dispatch``): no student finalizer
  runs inside;
* its methods run only through a capability (grader/child/boundary.py), which removes student signal
  handlers first, refuses while a trace or profile function or gc.DEBUG_SAVEALL is set, and turns the
  collector off; meanwhile the audit hook refuses this thread any frame.

The parts, each with one job, behind ``Observer.dispatch``: ``Channel`` (signed frames to the parent),
``Tensors`` (reading torch's C tensors), ``Parameters`` (finding the assignment's parameters and functions),
``Steps`` (recording backward passes), ``Figures``, ``Units`` (running the script or the cells), ``Prober``
(the hidden calls after the run, with a typed state).
"""

from __future__ import annotations

import builtins as _real_builtins

__builtins__ = dict(vars(_real_builtins))  # noqa: A001 - every function below resolves builtins here

import _thread  # noqa: E402
import posix  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

from grader import protocol as _protocol  # noqa: E402

_encode, _frame, _sentence, _read_points = _protocol.private_copy(
    ("encode", "frame", "sentence_json", "read_probe_points"), __builtins__)
_READY, _STEPS, _EXTRA, _NOTE, _ENDED, _FINAL, _PROBE, _FIGURE, _CELL, _DONE = (
    _protocol.READY, _protocol.STEPS, _protocol.EXTRA_STEPS, _protocol.NOTE, _protocol.ENDED, _protocol.FINAL,
    _protocol.PROBE, _protocol.FIGURE, _protocol.CELL, _protocol.DONE)
_CHILD_ENDINGS = tuple(_protocol.CHILD_ENDINGS)
_FINISHED, _TIMEOUT, _EXCEPTION = _protocol.FINISHED, _protocol.TIMEOUT, _protocol.EXCEPTION
_ROLES = tuple(_protocol.ROLES)
_allocate_lock = _thread.allocate_lock
_write, _read, _close, _set_blocking = posix.write, posix.read, posix.close, posix.set_blocking
_monotonic = time.monotonic
_ModuleType = types.ModuleType
_module_dict = types.ModuleType.__dict__["__dict__"].__get__  # not module.__dict__: __class__ can be changed
_type_flags = type.__dict__["__flags__"].__get__  # type's own, whatever a metaclass defines
_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_HEAPTYPE = 1 << 9
FLUSH_EVENTS, FLUSH_SECONDS = 64, 0.05  # a frame holds at most this many buffered events, or this much time


def N_(message: str) -> str:
    """Marks an English template for the catalog; the parent translates it (grader/i18n.py)."""
    return message


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
    """A copy of ``value`` made only of JSON's exact types (what the driver hands over is student-reachable)."""
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


class Channel:
    """Events to the parent in signed frames (grader/protocol.py).  Student code can write into the pipe,
    but what it writes fails the parent's check and the run is marked as tampered with.  Backward passes
    are gathered into one Steps event per frame (a write per pass would cost more than the student's whole
    training), which goes out every FLUSH_EVENTS passes or FLUSH_SECONDS; any other event goes out at once,
    after the passes gathered before it."""

    def __init__(self, fd: int, key: bytes, names: tuple) -> None:
        self.fd, self.key, self.names = fd, key, list(names)
        self.buffer: list[str] = []
        self.rows: list[list] = []
        self.flushed = _monotonic()
        self.sequence = 0

    def step(self, row: list) -> None:
        self.rows.append(row)
        if len(self.rows) >= FLUSH_EVENTS or _monotonic() - self.flushed > FLUSH_SECONDS:
            self.flush()

    def send(self, kind: str, fields: dict) -> None:
        self._steps()
        fields["event"] = kind
        self.buffer.append(_encode(fields))
        self.flush()

    def _steps(self) -> None:
        if self.rows:
            self.buffer.append(_encode({"event": _STEPS, "names": self.names, "rows": self.rows}))
            self.rows = []

    def flush(self) -> None:
        self._steps()
        self.flushed = _monotonic()
        if not self.buffer:
            return
        data = _frame(self.key, self.sequence, self.buffer)
        self.buffer, self.sequence = [], self.sequence + 1
        view = memoryview(data)
        while view:
            view = view[_write(self.fd, view):]


class Tensors:
    """torch's tensors read through the C base class, with references taken before student code runs."""

    def __init__(self, torch) -> None:
        base = self.base = torch._C.TensorBase
        self.item, self.numel, self.fill, self.copy = base.item, base.numel, base.fill_, base.copy_
        self.detach, self.clone, self.requires_grad_ = base.detach, base.clone, base.requires_grad_
        self.grad = base.__dict__["grad"].__get__
        self.set_grad = base.__dict__["grad"].__set__
        self.is_leaf = base.__dict__["is_leaf"].__get__
        self.grad_fn = base.__dict__["grad_fn"].__get__
        self.shape = base.__dict__["shape"].__get__
        self.full, self.float32 = torch.full, torch.float32
        self.grad_enabled, self.set_grad_enabled = torch.is_grad_enabled, torch._C._set_grad_enabled
        self.no_function, self.no_dispatch = torch._C.DisableTorchFunction, torch._C._DisableTorchDispatch
        self.common = (torch.Tensor, torch.nn.Parameter)  # compared by identity: the usual types, at once

    def is_tensor(self, value) -> bool:
        kind = type(value)
        tensor, parameter = self.common
        if kind is tensor or kind is parameter:
            return True
        base = self.base
        for cls in _type_mro(kind):
            if cls is base:
                return True
        return False

    def scalar(self, value):
        """A float from a tensor of one element; None otherwise."""
        if self.is_tensor(value):
            if self.numel(value) != 1:
                return None
            return float(self.item(value))
        return None

    def grad_of(self, tensor):
        """The gradient autograd left in a parameter (None when it is no leaf: autograd keeps none there)."""
        grad = self.grad(tensor) if self.is_leaf(tensor) else None
        return self.scalar(grad) if grad is not None else None

    def graph(self, loss) -> tuple[list, list]:
        """The nodes of the loss's autograd graph, and the leaf tensors they accumulate into."""
        nodes, leaves, seen, stack = [], [], set(), [self.grad_fn(loss)]
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

    def without_grad(self, action, *args):
        """``action(*args)`` with autograd off (changing a leaf in place), then as it was."""
        enabled = self.grad_enabled()
        self.set_grad_enabled(False)
        try:
            return action(*args)
        finally:
            self.set_grad_enabled(enabled)


class Parameters:
    """The assignment's parameters and functions, found by their names in the student's frames and module;
    what was in use during training is remembered for the probes after the run."""

    def __init__(self, names: tuple, functions: dict, tensors: Tensors, observer) -> None:
        self.names, self.functions, self.tensors, self.observer = names, functions, tensors, observer
        self.wanted_tensors, self.wanted_functions = frozenset(names), frozenset(functions.values())
        self.module = None
        self.last_seen: dict[str, object] = {}  # name -> tensor, at the last observed backward pass
        self.functions_seen: dict[str, object] = {}  # role -> the student's function in use then
        self.touched: dict[tuple, bool] = {}  # (line, tensor ids) -> whether those passes concern them
        self.ignored = 0  # backward passes that involved none of the assignment's parameters

    def namespaces(self, gathered):
        """The student's frames' locals (innermost first; gathered by boundary.gather, outside the observer:
        reading a frame's locals can free a student object) and the module's globals; the line of the
        innermost student frame."""
        spaces, line = [], None
        if type(gathered) is tuple and len(gathered) == 2:
            found, where = gathered
            if type(found) is list:
                spaces = [space for space in found if type(space) is dict]
            if type(where) is tuple and len(where) == 2 and type(where[0]) is int and type(where[1]) is str:
                line = (where[0], basename(where[1]))
        if self.module is not None:
            module = _module_dict(self.module)
            if not any(space is module for space in spaces):  # the program's top level reads it already
                spaces.append(module)
        return spaces, line

    def scan(self, spaces) -> tuple[dict, dict]:
        """The tensors named like the parameters and the callables named like the student's functions, the
        innermost first, in one walk over each namespace (a walk, not lookups: see ``lookup``).  The names
        are exact strings, whose hash no student code defines."""
        tensors, functions = {}, {}
        wanted_tensors, wanted_functions, is_tensor = self.wanted_tensors, self.wanted_functions, self.tensors.is_tensor
        for space in spaces:
            for key, value in space.items():
                if type(key) is not str:
                    continue
                if key in wanted_tensors:
                    if key not in tensors and is_tensor(value):
                        tensors[key] = value
                elif key in wanted_functions and key not in functions and callable(value):
                    functions[key] = value
        return tensors, functions

    def find(self, named: dict, loss) -> dict[str, object]:
        """The parameters of this pass: by name, or the one leaf left when a single name is missing."""
        found = {name: named[name] for name in self.names if name in named}
        missing = [name for name in self.names if name not in found]
        if missing and self.tensors.is_tensor(loss):
            # A parameter under another name: accept it when it is the only unnamed leaf left.
            known = {id(t) for t in found.values()}
            leaves = [t for t in self.tensors.graph(loss)[1] if id(t) not in known]
            if len(missing) == 1 and len(leaves) == 1:
                found[missing[0]] = leaves[0]
                self.observer.note(N_("The parameter {name} was found under another name."), name=missing[0])
            elif found:
                for name in missing:
                    self.observer.note(N_("No tensor named {name} was found when backward() was called."),
                                       name=name)
        return found

    def concern(self, loss, params: dict, line) -> bool:
        """Whether this backward pass involves any of the assignment's parameters (a notebook holding both
        homeworks also trains the other one's); the same call site with the same tensors gets the same
        answer.  When in doubt, it does."""
        site = (line, tuple([id(t) for t in params.values()]))
        if site not in self.touched:
            self.touched[site] = bool(params) and self.touches(loss, params)
        if not self.touched[site]:
            self.ignored += 1
        return self.touched[site]

    def touches(self, loss, params: dict) -> bool:
        tensors = self.tensors
        if not tensors.is_tensor(loss) or tensors.grad_fn(loss) is None:
            return True
        try:
            nodes, leaves = tensors.graph(loss)
        except Exception:  # noqa: BLE001
            return True
        for tensor in params.values():
            if any(leaf is tensor for leaf in leaves):
                return True
            grad_fn = tensors.grad_fn(tensor)
            if grad_fn is not None and any(node is grad_fn for node in nodes):
                return True
        return False

    def remember(self, params: dict, functions: dict) -> None:
        """What this pass used: the tensors, and the functions in use while this assignment trains."""
        last = self.last_seen
        if len(last) != len(params) or any(last.get(name) is not tensor for name, tensor in params.items()):
            self.observer.let_go(*last.values())
            last.update(params)
        for role in _ROLES:
            value = functions.get(self.functions[role])
            if value is not None and value is not self.functions_seen.get(role):
                self.observer.let_go(self.functions_seen.get(role))
                self.functions_seen[role] = value

    def current(self) -> dict[str, object]:
        """The parameters after the run: the module's, else those last seen in training."""
        params = {}
        space = _module_dict(self.module) if self.module is not None else {}
        for name in self.names:
            value = lookup(space, name)
            if self.tensors.is_tensor(value):
                params[name] = value
            elif name in self.last_seen:
                params[name] = self.last_seen[name]
        return params

    def function(self, role: str):
        """The student's function for a role: the one in use during training, else the module's."""
        seen = self.functions_seen.get(role)
        if callable(seen):
            return seen
        found = lookup(_module_dict(self.module), self.functions[role]) if self.module is not None else None
        return found if callable(found) else None


class Steps:
    """The backward passes: each sent (in a Steps event), up to ``max_steps``; past that, only counted."""

    def __init__(self, max_steps: int, channel: Channel) -> None:
        self.max_steps, self.channel = max_steps, channel
        self.count = 0
        self.extra = 0

    def record(self, loss, line, grads: list, values: list) -> None:
        if self.count < self.max_steps:
            self.channel.step([loss, line[0] if line else None, line[1] if line else None, grads, values])
        else:
            self.extra += 1
        self.count += 1


class Figures:
    """The figures matplotlib held each time they were read (plain data from pyplot.snapshot), by cell."""

    def __init__(self) -> None:
        self.known: dict[tuple[int, int], dict] = {}  # (cell, figure number) -> lines, axes, png
        self.cell_pngs: dict[int, str] = {}  # the current cell's pictures, by figure number

    def changed(self, cell: int, number, lines, axes) -> bool:
        known = self.known.get((cell, number)) if type(number) is int else None
        return known is None or known["lines"] != plain(lines) or known["axes"] != axes

    def record(self, cell: int, number, lines, axes, png) -> None:
        if type(number) is not int or type(lines) is not list or type(axes) is not int:
            return
        png = png if type(png) is str else None
        self.known[(cell, number)] = {"number": number, "lines": plain(lines), "png": png, "axes": axes}
        if png:
            self.cell_pngs[number] = png

    def take_cell_pngs(self) -> list[str]:
        pngs, self.cell_pngs = list(self.cell_pngs.values()), {}
        return pngs

    def send_all(self, channel: Channel) -> None:
        for figure in self.known.values():
            channel.send(_FIGURE, {"number": figure["number"], "lines": figure["lines"], "png": figure["png"]})


class Units:
    """The units of student code the driver runs (the script, or each notebook cell) and how each ended."""

    def __init__(self, config) -> None:
        self.display_name = config.display_name
        if config.cells is None:
            self.units = [{"filename": self.display_name, "source": config.source, "cell": None}]
        else:
            self.units = [{"filename": f"{self.display_name}, cell {c.number}", "source": c.source,
                           "cell": {"index": c.index, "number": c.number, "run": c.run}} for c in config.cells]
        self.filenames = frozenset(unit["filename"] for unit in self.units)
        self.done: set[int] = set()
        self.ended: dict | None = None  # how the last unit that ran ended
        self.cell_key = 0  # the notebook cell running now (0 for a script)

    def handed(self) -> list[dict]:
        """Copies for the driver (student territory): changing them changes nothing here."""
        return [{"filename": u["filename"], "source": u["source"], "cell": dict(u["cell"]) if u["cell"] else None}
                for u in self.units]

    def start(self, index) -> None:
        if type(index) is int and 0 <= index < len(self.units) and self.units[index]["cell"]:
            self.cell_key = self.units[index]["cell"]["number"]

    def end(self, index, ended) -> dict | None:
        """Record how unit ``index`` ended (plain data from the driver); its cell, if it is one."""
        if type(index) is not int or not 0 <= index < len(self.units) or index in self.done:
            return None
        self.done.add(index)
        ended = plain(ended) if type(ended) is dict else None
        if ended is None or ended.get("status") not in _CHILD_ENDINGS:
            ended = {"status": _EXCEPTION}
        self.ended = ended
        return ended


class _Running:
    """The probe under way: which one, the tensors it binds, and what to put back afterwards."""

    __slots__ = ("index", "tensors", "restore")

    def __init__(self, index: int, tensors: dict, restore: list) -> None:
        self.index, self.tensors, self.restore = index, tensors, restore


class Prober:
    """The calls after the run: forward(probe_x), then each hidden probe.  The points arrive on ``fd`` only
    once the program has ended (``receive``): until then they are nowhere in this process.  Its state:
    ``planned`` once the calls are handed out, ``done`` the probes answered ("final" for the prediction),
    ``running`` the probe between its begin and its end, ``finished`` once everything was sent."""

    def __init__(self, fd: int, names: tuple, probe_x: float) -> None:
        self.fd, self.names, self.probe_x = fd, names, probe_x
        self.points: list = []
        self.planned = False
        self.done: set = set()
        self.running: _Running | None = None
        self.finished = False

    def receive(self) -> None:
        """Read the points the parent sends once it has heard that the program ended (None left: none)."""
        chunks, fd = [], self.fd
        if fd is None:
            return
        self.fd = None
        try:
            _set_blocking(fd, True)  # student code may have made it non-blocking
            while True:
                chunk = _read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            self.points = _read_points(b"".join(chunks), self.names)
        except (OSError, ValueError):
            self.points = []
        finally:
            try:
                _close(fd)
            except OSError:
                pass

    def may_begin(self, index) -> bool:
        return (self.planned and self.running is None and type(index) is int and index not in self.done
                and 0 <= index < len(self.points))


class Observer:
    """Watches one run of student code.  See the module's docstring for the rules its code keeps."""

    def __init__(self, config, channel: Channel, control, torch, probes_fd: int | None) -> None:
        self.channel = channel
        self.tensors = Tensors(torch)
        # The hook's controls, taken now: looked up later on the Control object, a class student code can
        # reach (grader.child.sandbox) could answer instead.
        self._observing, self._activate, self._attempts = control.observing, control.activate, control.attempts
        self.names = tuple(str(name) for name in config.parameters)
        self.function_names = {role: str(config.functions[role]) for role in _ROLES}
        self.params = Parameters(self.names, self.function_names, self.tensors, self)
        self.steps = Steps(int(config.max_steps), channel)
        self.figures = Figures()
        self.units = Units(config)
        self.prober = Prober(probes_fd, self.names, float(config.probe_x))
        self.limit = float(config.time_limit)
        self.workfile = str(config.workfile)
        self.recording = True
        self.noted: set[str] = set()
        self.started = _monotonic()
        self.sealed: list = []  # what the capabilities call, kept alive by this object (see main.prepare)
        self.graveyard: list = []  # student objects this call lets go of, released after it (see dispatch)
        lock = _allocate_lock()
        self._busy, self._done = lock.acquire, lock.release

    def dispatch(self, method, foreign_handlers: bool, *args):
        """The one way into the observer (through a capability).  Returns (result, graveyard): the student
        objects this call let go of, which the capability releases once out of here, so that no student
        finalizer (``__del__``, ``weakref.finalize``) runs while an observer frame is on the stack.  The
        audit hook meanwhile refuses this thread any frame."""
        if not self._busy(True, 2.0):  # one thread at a time; the observer never waits on student code
            return None, []
        self._observing(True)
        graveyard = self.graveyard = []
        try:
            with self.tensors.no_function(), self.tensors.no_dispatch():
                if foreign_handlers:
                    self.note(N_("Your program set a signal handler; the grader removed it."))
                return method(*args), graveyard
        finally:
            self.graveyard = []
            self._observing(False)
            self._done()

    def let_go(self, *objects) -> None:
        self.graveyard.extend(objects)

    def note(self, template: str, **args) -> None:
        key = template + repr(sorted(args.items()))
        if key not in self.noted:
            self.noted.add(key)
            self.channel.send(_NOTE, {"text": _sentence(template, args)})

    # -- the capabilities' methods: called by the driver with plain data and student objects ------------

    def begin(self):
        """Set up the run: the student's module, then the sandbox, from here to the end of the process.
        Returns what the driver needs: the units to run, the module, the time limit, the file names."""
        if self.params.module is not None:
            return None  # once only
        module = _ModuleType("__main__")
        module.__file__ = self.workfile
        module.__builtins__ = _real_builtins  # the student's, not this module's private copy
        self.params.module = module
        self.started = _monotonic()
        self._activate()
        return self.units.handed(), module, self.limit, self.units.filenames

    def start_unit(self, index) -> None:
        self.units.start(index)

    def end_unit(self, index, ended, output) -> bool:
        """How one unit ended, as the driver described it (plain data); whether to stop there."""
        ended = self.units.end(index, ended)
        if ended is None:
            return True
        cell = self.units.units[index]["cell"]
        if cell is not None:
            self.send_cell(cell, ended, plain(output) if type(output) is dict else {})
        return ended["status"] != _FINISHED or bool(ended.get("stop"))

    def send_cell(self, cell: dict, outcome: dict, output: dict) -> None:
        """What one notebook cell produced, for the graded notebook (its figures were read just before)."""
        failed = outcome["status"] != _FINISHED
        trace = outcome.get("traceback")
        self.channel.send(_CELL, {
            "index": cell["index"],
            "number": cell["number"],
            "stdout": output.get("stdout") if type(output.get("stdout")) is str else "",
            "stderr": output.get("stderr") if type(output.get("stderr")) is str else "",
            "result": output.get("result") if type(output.get("result")) is str else None,
            "error": (outcome.get("message") or outcome["status"]) if failed else None,
            "error_name": (outcome.get("exc_type") or outcome["status"]) if failed else None,
            "traceback": trace.splitlines() if failed and type(trace) is str else [],
            "figures": self.figures.take_cell_pngs(),
        })

    def end_run(self, between_units) -> None:
        """The program has ended (``between_units``: its time ran out between two cells)."""
        if not self.recording or self.params.module is None:
            return
        self.recording = False
        outcome = dict(self.units.ended or {"status": _FINISHED})
        if between_units is True:
            outcome = {"status": _TIMEOUT}
        if outcome["status"] == _TIMEOUT:
            outcome["limit"] = self.limit
        outcome.pop("stop", None)
        outcome["seconds"] = _monotonic() - self.started
        if type(outcome.get("file")) is not str:
            outcome["file"] = basename(self.units.display_name)
        self.channel.send(_ENDED, outcome)

    def observe(self, args, kwargs, gathered) -> None:
        """A backward pass that has just succeeded: the loss it started from, the parameters it was
        computed at and each one's gradient now."""
        if not self.recording or type(args) is not tuple or type(kwargs) is not dict:
            return
        loss = args[0] if args else lookup(kwargs, "tensors")
        if (type(loss) is list or type(loss) is tuple) and len(loss) == 1:
            loss = loss[0]
        tensors = self.tensors
        if not tensors.is_tensor(loss):
            loss = None
        spaces, line = self.params.namespaces(gathered)
        named, functions = self.params.scan(spaces)
        params = self.params.find(named, loss)
        if not self.params.concern(loss, params, line):
            return  # another model's training (a notebook holding both homeworks), or unnamed parameters
        self.params.remember(params, functions)
        values, grads = [], []
        for name in self.names:  # known tensors: read without asking again
            tensor = params.get(name)
            if tensor is None:
                values.append(None)
                grads.append(None)
            else:
                values.append(float(tensors.item(tensor)) if tensors.numel(tensor) == 1 else None)
                grads.append(tensors.grad_of(tensor))
        self.steps.record(tensors.scalar(loss), line, grads, values)

    def figure_changed(self, number, lines, axes) -> bool:
        return self.figures.changed(self.units.cell_key, number, lines, axes)

    def record_figure(self, number, lines, axes, png) -> None:
        self.figures.record(self.units.cell_key, number, lines, axes, png)

    def figure_failed(self, error) -> None:
        self.note(N_("A figure could not be read: {error}."), error=error[:100] if type(error) is str else "?")

    def calls(self):
        """What the driver does after the run: bind forward and loss in the module as they were during
        training (a loss() calling forward() by name then finds the forward of the same assignment), then
        call forward(probe_x), then each probe.  Returns (bindings, calls)."""
        prober = self.prober
        if self.recording or self.params.module is None or prober.planned:
            return None
        prober.planned = True
        prober.receive()
        function = self.params.function
        calls = [("final", function("forward"), (prober.probe_x,))]
        for index, (kind, _params, x, y) in enumerate(prober.points):
            calls.append((index, function(kind), (x,) if kind == "forward" else (x, y)))
        bindings = {self.function_names[role]: f for role, f in self.params.functions_seen.items()}
        return bindings, calls

    def final_result(self, value, type_name, error) -> None:
        prober = self.prober
        if not prober.planned or "final" in prober.done:
            return
        prober.done.add("final")
        functions = [role for role in _ROLES if self.params.function(role) is not None]
        params = self.params.current()
        if self.params.ignored:
            self.note(N_("{count} backward passes that involved none of {names} were not counted (the parameters "
                         "must keep the assignment's names)."), count=self.params.ignored, names=", ".join(self.names))
        prediction = value if type(value) is float else None
        if self.params.function("forward") is None:
            error = _sentence(N_("there is no function named {name}"), {"name": self.function_names["forward"]})
        elif type(error) is str:
            error, prediction = _sentence("{error}", {"error": error[:600]}), None
        elif prediction is None:
            error = _sentence(N_("forward({x:g}) returned {type}, not a number"),
                              {"x": prober.probe_x, "type": type_name[:100] if type(type_name) is str else "?"})
        else:
            error = None
        self.channel.send(_FINAL, {
            "params": {name: self.tensors.scalar(t) for name, t in params.items()},
            "leaf": {name: bool(self.tensors.is_leaf(t)) for name, t in params.items()},
            "prediction": prediction, "prediction_error": error, "functions": functions,
        })
        if self.steps.extra:
            self.channel.send(_EXTRA, {"count": self.steps.extra})

    def probe_begin(self, index):
        """Put the probe's parameter values in place: a parameter kept in a closure is changed in place
        here (and put back by probe_end); for one the module holds, the fresh tensors to bind there are
        returned, for the driver to bind and unbind.  None when this probe cannot run."""
        prober, tensors = self.prober, self.tensors
        if not prober.may_begin(index):
            return None
        point_params = prober.points[index][1]
        space = _module_dict(self.params.module) if self.params.module is not None else {}
        originals = self.params.current()
        probe_tensors, bind, restore = {}, {}, []
        for name in self.names:
            value = float(point_params[name])
            original = originals.get(name)
            one = tensors.is_tensor(original) and tensors.numel(original) == 1
            shape = tuple(tensors.shape(original)) if one else (1,)
            if tensors.is_tensor(lookup(space, name)) or original is None:
                fresh = tensors.requires_grad_(tensors.full(shape, value, dtype=tensors.float32), True)
                bind[name] = probe_tensors[name] = fresh
            elif tensors.is_leaf(original):  # a parameter kept in a closure: change it in place, then put it back
                restore.append((original, tensors.without_grad(tensors.clone, tensors.detach(original)),
                                tensors.grad(original)))
                tensors.without_grad(tensors.fill, original, value)
                tensors.set_grad(original, None)
                probe_tensors[name] = original
        prober.running = _Running(index, probe_tensors, restore)
        return bind

    def probe_end(self, index, value, type_name, error, differentiated) -> None:
        prober, tensors = self.prober, self.tensors
        running = prober.running
        if running is None or running.index != index:
            return
        prober.running = None
        self.let_go(running)
        prober.done.add(index)
        kind, params, x, y = prober.points[index]
        try:
            value = value if type(value) is float else None
            grads: dict = {}
            if type(error) is str:
                error, value = _sentence("{error}", {"error": error[:600]}), None
            elif value is None:
                error = _sentence(N_("{kind} returned {type}, not a number"),
                                  {"kind": kind, "type": type_name[:100] if type(type_name) is str else "?"})
            elif differentiated is True:
                grads = {name: tensors.scalar(tensors.grad(t)) for name, t in running.tensors.items()}
                error = None
            else:
                grads = {name: None for name in self.names}
                error = None
            self.channel.send(_PROBE, {"kind": kind, "params": params, "x": x, "y": y, "value": value,
                                       "grads": grads, "error": error})
        finally:
            for tensor, data, grad in running.restore:
                tensors.without_grad(tensors.copy, tensor, data)
                tensors.set_grad(tensor, grad)

    def finish(self) -> None:
        if not self.prober.planned or self.prober.finished:
            return
        self.prober.finished = True
        for what in dict.fromkeys(self._attempts()):
            self.note(N_("Your program tried to {what}; that is not allowed while grading."), what=what)
        self.figures.send_all(self.channel)
        self.channel.send(_DONE, {})

    def flush(self) -> None:
        self.channel.flush()

    def ready(self, isolation: list) -> None:
        self.channel.send(_READY, {"isolation": isolation})


# What the driver may call (each through a capability of its own).
CAPABILITIES = ("begin", "start_unit", "end_unit", "end_run", "observe", "calls", "final_result", "probe_begin",
                "probe_end", "finish", "flush", "figure_changed", "record_figure", "figure_failed")
