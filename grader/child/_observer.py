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
``Tensors`` (reading torch's C tensors), ``Slots`` (what each backward pass trained, by the autograd graph),
``Candidates`` (the student's functions the grader may call), ``Steps`` (recording backward passes),
``Figures``, ``Units`` (running the script or the cells), ``Prober`` (the hidden calls after the run, with a
typed state).
"""

from __future__ import annotations

import builtins as _real_builtins

__builtins__ = dict(vars(_real_builtins))  # noqa: A001 - every function below resolves builtins here

import _thread  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

try:  # the C functions behind os, taken from the module that holds them: posix, or nt on Windows
    import posix as _system  # noqa: E402
except ImportError:
    import nt as _system  # noqa: E402

from grader import protocol as _protocol  # noqa: E402

_encode, _frame, _sentence, _read_calls = _protocol.private_copy(
    ("encode", "frame", "sentence_json", "read_probe_calls"), __builtins__)
_READY, _STEPS, _EXTRA, _NOTE, _ENDED, _PROGRAM, _PROBE, _FIGURE, _CELL, _DONE = (
    _protocol.READY, _protocol.STEPS, _protocol.EXTRA_STEPS, _protocol.NOTE, _protocol.ENDED, _protocol.PROGRAM,
    _protocol.PROBE, _protocol.FIGURE, _protocol.CELL, _protocol.DONE)
_MAX_SLOTS, _MAX_FUNCTIONS = _protocol.MAX_SLOTS, _protocol.MAX_FUNCTIONS
_CHILD_ENDINGS = tuple(_protocol.CHILD_ENDINGS)
_FINISHED, _TIMEOUT, _EXCEPTION = _protocol.FINISHED, _protocol.TIMEOUT, _protocol.EXCEPTION
_allocate_lock = _thread.allocate_lock
_write, _read, _close = _system.write, _system.read, _system.close
_set_blocking = getattr(_system, "set_blocking", None)  # Windows pipes: only from Python 3.12
_monotonic = time.monotonic
_ModuleType, _FunctionType, _GetSet = types.ModuleType, types.FunctionType, types.GetSetDescriptorType
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
    return path.replace("\\", "/").rpartition("/")[2] if type(path) is str else ""


class Channel:
    """Events to the parent in signed frames (grader/protocol.py).  Student code can write into the pipe,
    but what it writes fails the parent's check and the run is marked as tampered with.  Backward passes
    are gathered into one Steps event per frame and per kind of pass (a write per pass would cost more
    than the student's whole training), which goes out every FLUSH_EVENTS passes or FLUSH_SECONDS; any
    other event goes out at once, after the passes gathered before it."""

    def __init__(self, fd: int, key: bytes) -> None:
        self.fd, self.key = fd, key
        self.names: tuple = ()
        self.buffer: list[str] = []
        self.rows: list[list] = []
        self.flushed = _monotonic()
        self.sequence = 0

    def step(self, names: tuple, row: list) -> None:
        if names != self.names:
            self._steps()
            self.names = names
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
            self.buffer.append(_encode({"event": _STEPS, "names": list(self.names), "rows": self.rows}))
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
        self.tolist, self.flatten, self.reshape, self.new_tensor = base.tolist, base.flatten, base.reshape, base.new_tensor
        self.grad = base.__dict__["grad"].__get__
        self.set_grad = base.__dict__["grad"].__set__
        self.is_leaf = base.__dict__["is_leaf"].__get__
        self.requires_grad = base.__dict__["requires_grad"].__get__
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

    def flat(self, tensor) -> list:
        """The elements of a tensor as floats, in order (an empty list for None)."""
        if tensor is None:
            return []
        if self.numel(tensor) == 1:
            return [float(self.item(tensor))]
        return [float(v) for v in self.tolist(self.flatten(self.detach(tensor)))]

    def graph(self, loss) -> tuple[list, list]:
        """The nodes of the loss's autograd graph, and the leaf tensors they accumulate into (each once)."""
        nodes, leaves, seen, stack = [], [], set(), [self.grad_fn(loss)]
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            nodes.append(node)
            variable = c_attribute(node, "variable")
            if self.is_tensor(variable) and not any(leaf is variable for leaf in leaves):
                leaves.append(variable)
            pairs = c_attribute(node, "next_functions")
            if type(pairs) is tuple:
                for pair in reversed(pairs):  # the first input is walked first
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


def instance_dict(obj):
    """The attribute dict of an instance of a class written in Python, read through the C descriptor that
    ``class`` statements create (None when there is none, or a class put something else in its place)."""
    kind = type(obj)
    if not _type_flags(kind) & _HEAPTYPE:
        return None
    for cls in _type_mro(kind):
        for key, descriptor in _type_dict(cls).items():
            if type(key) is str and key == "__dict__":
                if type(descriptor) is not _GetSet:
                    return None
                found = descriptor.__get__(obj, kind)
                return found if type(found) is dict else None
    return None


def methods_of(kind, files):
    """(name, function) for the methods that the student's classes in ``kind``'s MRO define."""
    seen = set()
    for cls in _type_mro(kind):
        if not _type_flags(cls) & _HEAPTYPE:
            continue
        for key, value in _type_dict(cls).items():
            if type(key) is str and key not in seen and type(value) is _FunctionType and is_student(value, files):
                seen.add(key)
                yield key, value


def is_student(function, files) -> bool:
    return type(function) is _FunctionType and function.__code__.co_filename in files


def member_tensors(key: str, value, tensors: Tensors, files):
    """(label, tensor) for the tensors a namespace entry holds one level down (two for a torch module's
    parameters): items of a list, tuple or dict, attributes of an object of the student's class."""
    kind = type(value)
    if kind is list or kind is tuple:
        for i, item in enumerate(value[:64]):
            if tensors.is_tensor(item):
                yield f"{key}[{i}]", item
    elif kind is dict:
        for i, (name, item) in enumerate(value.items()):
            if i >= 64:
                break
            if type(name) is str and tensors.is_tensor(item):
                yield f"{key}[{name!r}]", item
    elif kind is not _ModuleType and not tensors.is_tensor(value) and type(kind) is type:
        attributes = instance_dict(value)
        if attributes is None:
            return
        for i, (name, item) in enumerate(attributes.items()):
            if i >= 64 or type(name) is not str:
                break
            if tensors.is_tensor(item):
                yield f"{key}.{name}", item
            elif name == "_parameters" and type(item) is dict:  # a torch module's own parameters
                for pname, param in item.items():
                    if type(pname) is str and tensors.is_tensor(param):
                        yield f"{key}.{pname}", param
            elif name == "_modules" and type(item) is dict:  # and its submodules'
                for sub, module in item.items():
                    own = instance_dict(module) if type(sub) is str else None
                    params = own.get("_parameters") if own is not None else None
                    if type(params) is dict:
                        for pname, param in params.items():
                            if type(pname) is str and tensors.is_tensor(param):
                                yield f"{key}.{sub}.{pname}", param
            elif type(item) is list or type(item) is tuple or type(item) is dict:
                for label, tensor in member_tensors(f"{key}.{name}", item, tensors, files):
                    yield label, tensor


def element_labels(label: str, shape: tuple) -> list[str]:
    """One label per element, as the student would index it: w, w[1], W[0, 2]."""
    count = 1
    for size in shape:
        count *= size
    if count == 1:
        return [label]
    if len(shape) == 1:
        return [f"{label}[{i}]" for i in range(count)]
    if len(shape) == 2:
        return [f"{label}[{i}, {j}]" for i in range(shape[0]) for j in range(shape[1])]
    return [f"{label}.flatten()[{i}]" for i in range(count)]


class Slots:
    """What training changes, found by what each backward pass reaches, not by name.  A *slot* is one element
    of a tensor the pass accumulated a gradient into (a leaf of its graph), labelled by where the student
    keeps it: the spec's own names when they are all in scope and are what the pass trained (the usual case,
    checked once per call site), else the name, item or attribute that holds the leaf (``w_1``, ``w[0]``,
    ``params[2]``, ``model.b``) or ``#1``, ``#2`` for a leaf nothing in reach holds.  Which slot plays which
    parameter the parent decides (grader/roles.py).  Slots are ordered as the student's namespaces list
    them (the order of assignment), then by element."""

    def __init__(self, names: tuple, tensors: Tensors, observer) -> None:
        self.names, self.tensors, self.observer = names, tensors, observer
        self.wanted = frozenset(names)
        self.module = None
        self.files = frozenset()
        self.sites: dict[tuple, object] = {}  # (line, tensor ids) -> the pass's slots, or None: not by name
        self.held: list = []  # the tensors the sites name, kept alive so that their ids stay theirs
        self.where: dict[str, tuple] = {}  # label -> (tensor, element index or None), the latest seen
        self.unnamed: dict[int, str] = {}  # id -> "#k" for leaves held nowhere in reach
        self.kinds: dict[tuple, int] = {}  # labels of a kind of pass -> its number, in the order first seen
        self.kind_spaces: list[list] = []  # per kind: the namespaces at its first pass (its functions then)

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

    def by_name(self, spaces) -> dict:
        """The tensors named like the spec's parameters, the innermost first, in one walk over each namespace
        (a walk, not lookups: see ``lookup``).  The names are exact strings, whose hash no student defines."""
        found, wanted, is_tensor = {}, self.wanted, self.tensors.is_tensor
        for space in spaces:
            for key, value in space.items():
                if type(key) is str and key in wanted and key not in found and is_tensor(value):
                    found[key] = value
        return found

    def of_pass(self, loss, spaces, line) -> list:
        """The slots of a backward pass: [(label, tensor, element index or None)]."""
        tensors = self.tensors
        has_graph = tensors.is_tensor(loss) and tensors.grad_fn(loss) is not None
        named = self.by_name(spaces)
        if len(named) == len(self.names):
            key = (line, tuple([id(t) for t in named.values()]))
            if key not in self.sites:
                self.held.append(named)
                self.sites[key] = self.named_slots(named, loss) if has_graph else None
            if self.sites[key] is not None:
                return self.sites[key]
        if not has_graph:
            return []
        leaves = [leaf for leaf in tensors.graph(loss)[1] if tensors.requires_grad(leaf)]
        key = (line, tuple([id(t) for t in leaves]))
        slots = self.sites.get(key)
        if slots is None:
            self.held.append(leaves)
            slots = self.sites[key] = self.label(leaves, spaces)
        return slots

    def named_slots(self, named: dict, loss):
        """The spec's names as the slots, when each takes part in the pass, holds one number, and they are
        all it trained (a leaf beside them is another parameter: then None, and the pass is labelled by
        where its leaves are kept)."""
        tensors = self.tensors
        nodes, leaves = tensors.graph(loss)
        rebound = False
        for tensor in named.values():
            if tensors.numel(tensor) != 1:
                return None
            if any(leaf is tensor for leaf in leaves):
                continue
            grad_fn = tensors.grad_fn(tensor)
            if grad_fn is None or not any(node is grad_fn for node in nodes):
                return None
            rebound = True  # a name bound to a tensor computed from the parameter (p = p - lr * grad)
        if not rebound and any(not any(leaf is t for t in named.values()) for leaf in leaves
                               if tensors.requires_grad(leaf)):
            return None
        return [(name, named[name], None) for name in self.names]

    def label(self, leaves: list, spaces) -> list:
        """Label the leaves by where the student keeps them: a plain name first, then an item or attribute;
        names beginning with ``_`` (Jupyter's ``_``, ``Out``...) last."""
        tensors, files = self.tensors, self.files
        wanted = {id(leaf): leaf for leaf in leaves}
        best: dict[int, tuple] = {}  # id -> ((tier, order), label)
        order = 0
        for space in spaces:
            for key, value in space.items():
                if type(key) is not str:
                    continue
                hidden = key[:1] == "_"
                offers = [(key, value)] if tensors.is_tensor(value) else (
                    [] if hidden else list(member_tensors(key, value, tensors, files)))
                for label, tensor in offers:
                    order += 1
                    tier = 2 if hidden else (0 if label == key else 1)
                    ident = id(tensor)
                    if ident in wanted and (ident not in best or (tier, order) < best[ident][0]):
                        best[ident] = ((tier, order), label)
        for leaf in leaves:
            ident = id(leaf)
            if ident not in best:
                if ident not in self.unnamed:
                    self.unnamed[ident] = f"#{len(self.unnamed) + 1}"
                best[ident] = ((3, order), self.unnamed[ident])
                order += 1
        slots = []
        for ident in sorted(best, key=lambda i: best[i][0]):
            tensor, label = wanted[ident], best[ident][1][:100]
            count = tensors.numel(tensor)
            if count == 1:
                slots.append((label, tensor, None))
            elif count <= 16:
                labels = element_labels(label, tuple(tensors.shape(tensor)))
                slots.extend((labels[i], tensor, i) for i in range(count))
        return slots[:_MAX_SLOTS]

    def read(self, slots: list, spaces) -> tuple[tuple, list, list]:
        """(labels, values, gradients) of a pass's slots; remembered for the end of the run."""
        tensors = self.tensors
        labels, values, grads, cache = [], [], [], {}
        for label, tensor, element in slots:
            ident = id(tensor)
            if ident not in cache:
                grad = tensors.grad(tensor) if tensors.is_leaf(tensor) else None
                cache[ident] = (tensors.flat(tensor), tensors.flat(grad))
            flat_values, flat_grads = cache[ident]
            index = element or 0
            labels.append(label)
            values.append(flat_values[index] if index < len(flat_values) else None)
            grads.append(flat_grads[index] if index < len(flat_grads) else None)
            known = self.where.get(label)
            if known is None or known[0] is not tensor:
                if known is not None:
                    self.observer.let_go(known)
                self.where[label] = (tensor, element)
        labels = tuple(labels)
        if labels not in self.kinds:
            self.kinds[labels] = len(self.kinds)
            module = _module_dict(self.module) if self.module is not None else None
            # The module as it is now (a notebook may define forward again for its next model); frames'
            # locals are copies already.
            self.kind_spaces.append([dict(space) if space is module else space for space in spaces])
        return labels, values, grads

    def bound_in_module(self, label: str):
        """The tensor the module binds to a label that is a plain name, the spec's or the student's own
        (after the run it may be another than training saw: a parameter rebound with p = p - lr * grad, or
        made afresh below the training), so a hidden call reads the value it is given whatever the name."""
        if not (label in self.wanted or label.isidentifier()) or self.module is None:
            return None
        value = lookup(_module_dict(self.module), label)
        return value if self.tensors.is_tensor(value) and self.tensors.numel(value) == 1 else None

    def at_end(self) -> tuple[list, list, list]:
        """Every label with its value now and whether it still holds a leaf.  When no pass was observed, the
        module's tensors that require a gradient stand in (a program that stopped before training)."""
        tensors = self.tensors
        if not self.where and self.module is not None:
            module = [(key, value) for key, value in _module_dict(self.module).items()
                      if type(key) is str and key[:1] != "_" and tensors.is_tensor(value)
                      and tensors.requires_grad(value) and tensors.is_leaf(value)]
            self.where.update((label, (tensor, element)) for label, tensor, element in
                              self.label([value for _, value in module], [dict(module)]))
        labels, values, leaf = [], [], []
        for label, (tensor, element) in list(self.where.items())[:_MAX_SLOTS]:
            # A leaf training updated in place holds the trained value, whatever the name is bound to now (a
            # program may make a fresh tensor after training); a name rebound to a computed tensor (p = p - lr
            # * grad) holds it in what the module binds now.
            bound = self.bound_in_module(label)
            if bound is not None and not tensors.is_leaf(bound):
                tensor, element = bound, None
            flat = tensors.flat(tensor)
            labels.append(label)
            values.append(flat[element or 0] if (element or 0) < len(flat) else None)
            leaf.append(bool(tensors.is_leaf(tensor)))
        return labels, values, leaf


class Candidates:
    """The student's functions the grader may call after the run, found in the namespaces of each kind of
    backward pass (plain functions, and the methods of objects of the student's classes, as ``model.forward``
    or the object itself when it is callable, like a torch module).  Described for the parent, which
    chooses what to call, and how, from the program's source (grader/plan.py)."""

    def __init__(self) -> None:
        self.found: list[tuple] = []  # (label, function, bound object or None, kind)

    def collect(self, kind_spaces: list, module, files) -> list[dict]:
        spaces_by_kind = list(enumerate(kind_spaces)) or [(None, [_module_dict(module)] if module else [])]
        for kind, spaces in spaces_by_kind:
            labels = set()
            for space in spaces:
                for key, value in space.items():
                    if type(key) is not str or key[:1] == "_" or len(self.found) >= _MAX_FUNCTIONS:
                        continue
                    for label, function, owner in self.functions_of(key, value, files):
                        if label not in labels:
                            labels.add(label)
                            self.found.append((label, function, owner, kind))
        return [self.describe(*entry) for entry in self.found[:_MAX_FUNCTIONS]]

    def functions_of(self, key: str, value, files):
        if type(value) is _FunctionType:
            if is_student(value, files):
                yield key, value, None
            return
        kind = type(value)
        if kind is _ModuleType or type(kind) is not type or not _type_flags(kind) & _HEAPTYPE:
            return
        methods = list(methods_of(kind, files))
        if not methods:
            return
        for name, function in methods:
            if name[:2] != "__":
                yield f"{key}.{name}", function, value
        callable_object = any(type(k) is str and k == "__call__" for cls in _type_mro(kind) for k in _type_dict(cls))
        described = next((f for name, f in methods if name == "forward"), None) or next(
            (f for name, f in methods if name == "__call__"), None)
        if callable_object and described is not None:
            yield key, described, value  # called as the object itself: model(x)

    @staticmethod
    def describe(label, function, owner, kind) -> dict:
        code = function.__code__
        args = list(code.co_varnames[:code.co_argcount])
        if owner is not None:
            args = args[1:]
        defaults = function.__defaults__
        names = [name for name in code.co_names if type(name) is str][:200]
        return {"label": label[:200], "args": [a[:100] for a in args[:32]],
                "defaults": len(defaults) if type(defaults) is tuple else 0,
                "reads": names, "line": code.co_firstlineno if code.co_firstlineno > 0 else None, "kind": kind}

    def call_of(self, index: int):
        """(function, object it is called on or None, label, kind) of candidate ``index``; None if unknown."""
        if type(index) is not int or not 0 <= index < len(self.found):
            return None
        label, function, owner, kind = self.found[index]
        if owner is not None and label.count(".") == 0:  # the object itself: owner(*args)
            return owner, None, label, kind
        return function, owner, label, kind


class Steps:
    """The backward passes: each sent (in a Steps event), up to ``max_steps``; past that, only counted."""

    def __init__(self, max_steps: int, channel: Channel) -> None:
        self.max_steps, self.channel = max_steps, channel
        self.count = 0
        self.extra = 0

    def full(self) -> bool:
        if self.count < self.max_steps:
            return False
        self.extra += 1
        self.count += 1
        return True

    def record(self, loss, line, labels: tuple, grads: list, values: list) -> None:
        self.channel.step(labels, [loss, line[0] if line else None, line[1] if line else None, grads, values])
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
    """The probe under way: which call, the tensor holding each slot it set, the prediction tensor it gave,
    and what to put back afterwards."""

    __slots__ = ("index", "slots", "pred", "restore")

    def __init__(self, index: int, slots: dict, pred, restore: list) -> None:
        self.index, self.slots, self.pred, self.restore = index, slots, pred, restore


class Prober:
    """The calls after the run.  They arrive on ``fd`` only once the program has ended and its slots and
    functions are reported (``receive``): until then they are nowhere in this process.  Its state:
    ``planned`` once the calls are handed out, ``done`` the calls answered, ``running`` the call between its
    begin and its end, ``finished`` once everything was sent."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.calls: dict[int, tuple] = {}
        self.planned = False
        self.done: set = set()
        self.running: _Running | None = None
        self.finished = False

    def receive(self) -> None:
        """Read the calls the parent sends once it has heard what the program trained (none: none)."""
        chunks, fd = [], self.fd
        if fd is None:
            return
        self.fd = None
        try:
            if _set_blocking is not None:
                _set_blocking(fd, True)  # student code may have made it non-blocking
            while True:
                chunk = _read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            self.calls = {call[0]: call for call in _read_calls(b"".join(chunks))}
        except (OSError, ValueError):
            self.calls = {}
        finally:
            try:
                _close(fd)
            except OSError:
                pass

    def may_begin(self, index) -> bool:
        return (self.planned and self.running is None and type(index) is int and index not in self.done
                and index in self.calls)


class Observer:
    """Watches one run of student code.  See the module's docstring for the rules its code keeps."""

    def __init__(self, config, channel: Channel, control, torch, probes_fd: int | None) -> None:
        self.channel = channel
        self.tensors = Tensors(torch)
        # The hook's controls, taken now: looked up later on the Control object, a class student code can
        # reach (grader.child.sandbox) could answer instead.
        self._observing, self._activate, self._attempts = control.observing, control.activate, control.attempts
        self.names = tuple(str(name) for name in config.parameters)
        self.slots = Slots(self.names, self.tensors, self)
        self.candidates = Candidates()
        self.steps = Steps(int(config.max_steps), channel)
        self.figures = Figures()
        self.units = Units(config)
        self.slots.files = self.units.filenames
        self.prober = Prober(probes_fd)
        self.program_slots: list[str] = []  # the labels as the Program event listed them
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
        if self.slots.module is not None:
            return None  # once only
        module = _ModuleType("__main__")
        module.__file__ = self.workfile
        module.__builtins__ = _real_builtins  # the student's, not this module's private copy
        self.slots.module = module
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

    def end_run(self, between_units, absent=()) -> None:
        """The program has ended (``between_units``: its time ran out between two cells; ``absent``: the
        modules it imported that are not installed, see absent.py): say how, then what it trained and
        which of its functions the grader may call."""
        if not self.recording or self.slots.module is None:
            return
        self.recording = False
        # Student territory said it (absent.py can be replaced): plain short strings only.
        names = [n[:100] for n in absent if type(n) is str][:20] if type(absent) is tuple else []
        if names:
            self.note(N_("Your program imports {modules}, which the grading machine does not have: the program "
                         "ran without it, and only a line that uses it fails."), modules=", ".join(names))
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
        if self.steps.extra:
            self.channel.send(_EXTRA, {"count": self.steps.extra})
        try:
            labels, values, leaf = self.slots.at_end()
            functions = self.candidates.collect(self.slots.kind_spaces, self.slots.module, self.units.filenames)
        except Exception as exc:  # noqa: BLE001 - the parent waits for this event: it is sent whatever happens
            labels, values, leaf, functions = [], [], [], []
            self.note(N_("The grader could not read what your program trained ({error})."), error=type(exc).__name__)
        self.program_slots = labels
        self.channel.send(_PROGRAM, {"slots": labels, "values": values, "leaf": leaf,
                                     "kinds": [list(kind) for kind in self.slots.kinds][:64],
                                     "functions": functions})

    def observe(self, args, kwargs, gathered) -> None:
        """A backward pass that has just succeeded: the loss it started from, the slots it trained (their
        values it was computed at and their gradients now)."""
        if not self.recording or type(args) is not tuple or type(kwargs) is not dict or self.steps.full():
            return
        loss = args[0] if args else lookup(kwargs, "tensors")
        if (type(loss) is list or type(loss) is tuple) and len(loss) == 1:
            loss = loss[0]
        tensors = self.tensors
        if not tensors.is_tensor(loss):
            loss = None
        spaces, line = self.slots.namespaces(gathered)
        slots = self.slots.of_pass(loss, spaces, line)
        labels, values, grads = self.slots.read(slots, spaces)
        self.steps.record(tensors.scalar(loss), line, labels, grads, values)

    def figure_changed(self, number, lines, axes) -> bool:
        return self.figures.changed(self.units.cell_key, number, lines, axes)

    def record_figure(self, number, lines, axes, png) -> None:
        self.figures.record(self.units.cell_key, number, lines, axes, png)

    def figure_failed(self, error) -> None:
        self.note(N_("A figure could not be read: {error}."), error=error[:100] if type(error) is str else "?")

    def calls(self):
        """The calls the parent asks for (read now: the program has ended), by number, in order."""
        prober = self.prober
        if self.recording or self.slots.module is None or prober.planned:
            return None
        prober.planned = True
        prober.receive()
        return sorted(prober.calls)

    def probe_begin(self, index):
        """Put a call's parameter values in place and build its arguments.  A slot whose label is one of
        the spec's names bound in the module gets a fresh tensor there (the name may have been rebound);
        any other is changed in place (and put back by probe_end).  Returns (bindings for the driver to
        make in the module and undo, the function, its arguments), or None when this call cannot run."""
        prober, tensors, slots = self.prober, self.tensors, self.slots
        if not prober.may_begin(index):
            return None
        _index, number, args, binds, x, y, pred, assign = prober.calls[index]
        target = self.candidates.call_of(number)
        if target is None:
            prober.done.add(index)
            return None
        function, owner, _label, kind = target
        space = _module_dict(slots.module)
        bind = {}
        if type(kind) is int and kind < len(slots.kind_spaces):  # the functions of that kind's time
            then = slots.kind_spaces[kind][-1]
            for key, value in then.items():
                if type(key) is str and is_student(value, self.units.filenames) and lookup(space, key) is not value:
                    bind[key] = value
        holders, restore, edits = {}, [], {}
        for slot, value in assign:
            if not 0 <= slot < len(self.program_slots):
                continue
            label = self.program_slots[slot]
            bound = slots.bound_in_module(label)
            if bound is not None:
                fresh = tensors.requires_grad_(tensors.full((1,), float(value), dtype=tensors.float32), True)
                bind[label] = fresh
                holders[slot] = (fresh, None)
                continue
            place = slots.where.get(label)
            if place is None:
                continue
            holders[slot] = place
            edits.setdefault(id(place[0]), (place[0], {}))[1][place[1] or 0] = float(value)
        for tensor, changes in edits.values():
            flat = tensors.flat(tensor)
            for element, value in changes.items():
                if element < len(flat):
                    flat[element] = value
            restore.append((tensor, tensors.without_grad(tensors.clone, tensors.detach(tensor)), tensors.grad(tensor)))
            fresh = tensors.reshape(tensors.new_tensor(tensor, flat), tuple(tensors.shape(tensor)))
            tensors.without_grad(tensors.copy, tensor, fresh)
            tensors.set_grad(tensor, None)
        pred_tensor = None
        if pred is not None and ("p" in args or any(what == "p" for _, what in binds)):
            pred_tensor = tensors.requires_grad_(tensors.full((1,), float(pred), dtype=tensors.float32), True)
        values = {"x": x, "y": y, "p": pred_tensor}
        arguments = [] if owner is None else [owner]
        for token in args:
            if token in values:
                arguments.append(values[token])
            elif token[:1] == "s":
                holder = holders.get(int(token[1:])) or slots.where.get(
                    self.program_slots[int(token[1:])] if int(token[1:]) < len(self.program_slots) else "")
                arguments.append(holder[0] if holder else None)
            else:
                arguments.append(float(token[1:]))
        for name, what in binds:
            bind[name] = values[what]
        prober.running = _Running(index, holders, pred_tensor, restore)
        return bind, function, tuple(arguments)

    def probe_end(self, index, value, type_name, error, differentiated) -> None:
        prober, tensors = self.prober, self.tensors
        running = prober.running
        if running is None or running.index != index:
            return
        prober.running = None
        self.let_go(running)
        prober.done.add(index)
        try:
            value = value if type(value) is float else None
            grads, pred_grad = [], None
            if type(error) is str:
                error, value = _sentence("{error}", {"error": error[:600]}), None
            elif value is None:
                error = _sentence(N_("it returned {type}, not a number"),
                                  {"type": type_name[:100] if type(type_name) is str else "?"})
            else:
                error = None
                if differentiated is True:
                    cache = {}
                    for slot in range(len(self.program_slots)):
                        holder = running.slots.get(slot)
                        if holder is None:
                            grads.append(None)
                            continue
                        tensor, element = holder
                        if id(tensor) not in cache:
                            cache[id(tensor)] = tensors.flat(tensors.grad(tensor))
                        flat = cache[id(tensor)]
                        grads.append(flat[element or 0] if (element or 0) < len(flat) else None)
                    if running.pred is not None:
                        pred_grad = tensors.scalar(tensors.grad(running.pred))
            self.channel.send(_PROBE, {"index": index, "grads": grads, "value": value, "pred_grad": pred_grad,
                                       "error": error})
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
CAPABILITIES = ("begin", "start_unit", "end_unit", "end_run", "observe", "calls", "probe_begin", "probe_end",
                "finish", "flush", "figure_changed", "record_figure", "figure_failed")
