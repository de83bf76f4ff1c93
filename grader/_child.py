"""The child process: runs one submission as ``__main__`` and reports what autograd really computed.

This is the only module that runs student code, and it only ever runs in a separate process started by
grader/run.py.  It talks to its parent over two private pipes: it reads its configuration (JSON, with the
key that signs events) from one, then closes it before student code starts; it writes signed events
(one JSON object per line) to the other.  Student stdout and stderr go to the parent's capture, never
mixed with the events.

What it observes (grader/_observer.py):
* every backward pass (``torch.autograd.backward``, which ``Tensor.backward`` calls): the loss, then
  after the pass each spec parameter's ``.grad`` and the parameter values the loss was computed at.
  Parameters are found by the names the spec gives them, in the student's frames and module globals;
* after the program ends (or raises, or runs out of time): the parameters, ``forward(probe_x)``, and
  hidden probes of ``forward`` and ``loss`` at random points the parent drew;
* the figures matplotlib holds when ``plt.show()``/``plt.close()`` is called and at the end.

The observer shares the process with student code; how it stays out of that code's reach is explained
under "the boundary" below and in grader/_observer.py.

Run as: python -I -B -c "<bootstrap>" CONFIG_FD EVENTS_FD   (see grader/run.py)
"""

from __future__ import annotations

import _signal
import _thread
import ast
import base64
import gc
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
import traceback
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

PROBE_SECONDS = 2.0  # each hidden call of forward/loss, and the final forward(probe_x)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


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


# The time limit is SIGALRM handled by signal.default_int_handler, which raises KeyboardInterrupt (a
# BaseException, so `except Exception` in student code does not swallow it).  A builtin, unlike a Python
# function, cannot be changed by student code, and it may run anywhere, even inside the observer.
TIME_LIMIT = KeyboardInterrupt


# -- the boundary: what student code can reach ------------------------------------------------------------
#
# Student code runs in the same process as the observer (grader/_observer.py).  Everything in this module
# is student territory: student code can reach it and change it, and nothing here holds anything that would
# let it forge a result.  What keeps the observer out of reach:
# * the observer's module is private (out of sys.modules, private builtins, private references);
# * every grader frame below or around student code (_drive, run_job, the stand-in for backward, the
#   capabilities, the audit hook) holds only student data, immutable values and capabilities, so walking
#   frames (sys._getframe().f_back, a traceback, a signal handler's frame) finds nothing to misuse;
# * a capability (_capability) is a generator around a sealed proxy: calling it runs one observer method,
#   which only records what it reads itself or plain values; student code may call any of them, to no gain;
# * the observer, its channel and key are kept alive only by a reference cycle frozen out of the collector's
#   reach (gc.freeze), so no global, closure or frame points at them, and gc.get_objects does not list them.

_REAL_CLOSE = None
_CURRENT: dict[str, object] = {}  # capabilities for the functions installed in pyplot and os (student-visible)


def sealer():
    """A new ``seal`` function with a class of its own.  The class is out of student code's reach (only the
    proxies lead to its instances, and they do not tell their type): a reachable class could be changed."""

    class Sealed:
        """A callable whose insides student code cannot follow.  It is only ever handed out through
        ``weakref.proxy``, which forwards calls but not the object: no ``__self__``, ``__closure__``,
        ``__globals__`` or ``__class__`` leads from it to what it calls, and every attribute lookup the
        proxy forwards is refused here."""

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

    proxy = weakref.proxy

    def seal(call, keep: list):
        """A proxy of ``call`` for student-facing places; ``keep`` holds the sealed object alive."""
        sealed = Sealed(call)
        keep.append(sealed)
        return proxy(sealed)

    return seal


def seal(call, keep: list):
    """``sealer()(call, keep)``, for a single use."""
    return sealer()(call, keep)


def _capability(sealed, tools):
    """A generator that calls ``sealed`` (a proxy of Observer.dispatch bound to one method) for each value
    sent to it, and yields (result, exception to raise in the caller).  Everything it uses is a local bound
    when it was made (``tools``: builtins only), so nothing student code can reach changes what it does;
    its frame shows a proxy and builtins, nothing more.

    Before each call it removes the Python signal handlers student code set (a handler receives the frame
    it interrupts; student code cannot set one again before the call returns: none of it runs meanwhile,
    and only the main thread may set handlers), refuses while a trace or profile function is set (one sees
    every frame) or gc.DEBUG_SAVEALL is on, and turns the collector off (no student finalizer runs
    inside).  The grader's own handler raises (the time limit): that is passed on as a fresh exception,
    with no observer frames."""
    getsignal, setsignal, ignore, keep, handled, gettrace, getprofile, isenabled, disable, enable, \
        getdebug, saveall, get_ident, main_thread = tools
    result = None
    while True:
        args = yield result
        result = (None, None)
        if gettrace() is not None or getprofile() is not None or getdebug() & saveall:
            # Refused: only code that got past the audit hook can have set a trace or profile function;
            # gc.DEBUG_SAVEALL would hand student code what the collector frees, the observer's garbage too.
            continue
        foreign = False
        if get_ident() == main_thread:  # handlers run in the main thread only, and only it may set them
            for signum in handled:
                handler = getsignal(signum)
                if handler is not None and type(handler) is not int and handler is not keep:
                    setsignal(signum, ignore)
                    foreign = True
        collecting = isenabled()
        disable()
        outcome, value, pending = None, None, None
        try:
            outcome = sealed(foreign, *args)  # (value, the student objects the observer let go of)
        except Exception:  # noqa: BLE001 - a failure of the grader's own: the call just does nothing
            pass
        except BaseException as exc:  # noqa: BLE001 - the time limit
            pending = type(exc)()
        if collecting:
            enable()
        if type(outcome) is tuple and len(outcome) == 2:
            value = outcome[0]
        outcome = None  # released here, out of the observer: a finalizer this sets off sees nothing of it
        result = (value, pending)


_TOOLS = (_signal.getsignal, _signal.signal, _signal.SIG_IGN, signal.default_int_handler,
          tuple(int(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)),
          sys.gettrace, sys.getprofile, gc.isenabled, gc.disable, gc.enable, gc.get_debug, gc.DEBUG_SAVEALL,
          _thread.get_ident, _thread.get_ident())  # imported in the main thread (a fork keeps its id)


def capability(call, keep: list, seal_with=seal):
    """A capability calling ``call`` (through a proxy made by ``seal_with``; ``keep`` holds it alive)."""
    generator = _capability(seal_with(call, keep), _TOOLS)
    next(generator)
    return generator


def _use(capability, *args):
    """Call a capability from student territory.  One that another thread is using at the moment (a
    student's threads calling backward at once) does nothing this time."""
    try:
        value, pending = capability.send(args)
    except ValueError:  # "generator already executing"
        return None
    if pending is not None:
        raise pending
    return value


def forwarder(real, before, after, like=None):
    """A plain function standing in for torch.autograd.backward: it runs the real backward pass itself
    (so student hooks run with no observer frame beneath them) between two capabilities, and reads the
    student's frames for the observer.  Hashable and named like the original (torch keeps some of its
    functions in sets); no closure; its globals hold only the real function, the two capabilities, _use
    and _gather."""
    like = like or real
    namespace = {"__builtins__": {"BaseException": BaseException}, "_real": real, "_before": before,
                 "_after": after, "_use": _use, "_gather": _gather}
    exec(
        f"def {like.__name__}(*args, **kwargs):\n"
        "    token = _use(_before, args, kwargs, _gather())\n"
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


_STUDENT_FILES: list = [frozenset()]  # the file names of the student's code (set by _drive)


def _gather():
    """The locals of the student's frames below the caller (innermost first), and the line of the innermost
    one: what the observer looks parameters up in.  Read here, not in the observer, because refreshing a
    frame's locals can free a student object, and its finalizer would run inside the observer."""
    spaces, line = [], None
    files = _STUDENT_FILES[0]
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename in files:
            if line is None:
                line = (frame.f_lineno, os.path.basename(filename))
            spaces.append(frame.f_locals)
        frame = frame.f_back
    return spaces, line


class _Caps:
    """The capabilities _drive uses (student-visible, like everything _drive holds: each is safe to call)."""

    __slots__ = ("begin", "start_unit", "end_unit", "end_run", "calls", "final_result", "probe_begin",
                 "probe_end", "finish", "flush", "figure_changed", "record_figure", "figure_failed")


# -- student territory: everything here may run with student code above or below it ----------------------


def _scalar(value):
    """A float from a tensor of one element or a Python number; None otherwise (for student results:
    whatever they do, this answers)."""
    import torch

    base = torch._C.TensorBase
    try:
        if issubclass(type(value), base):
            with torch._C.DisableTorchFunction():
                if base.numel(value) != 1:
                    return None
                return float(base.item(value))
        if issubclass(type(value), (int, float)) and type(value) is not bool:
            return float(value)
    except Exception:  # noqa: BLE001 - a student object that fails to be read is not a number
        return None
    return None


def _describe(exc: BaseException, filenames, limit: float) -> dict:
    """How a unit ended with ``exc``, as plain data (this calls the exception's own methods)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in filenames]
    where = os.path.basename(frames[-1].filename) if frames else None
    line = frames[-1].lineno if frames else None
    listing = "".join(traceback.format_list(frames)) if frames else ""
    if isinstance(exc, TIME_LIMIT):
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
    except TIME_LIMIT:
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
    units, module, limit, filenames = began
    _STUDENT_FILES[0] = filenames
    sys.modules["__main__"] = module
    sys.argv = [module.__file__]
    namespace = module.__dict__
    for unit in units:
        linecache.cache[unit["filename"]] = (len(unit["source"]), None, unit["source"].splitlines(True),
                                             unit["filename"])
    if any(unit["cell"] is not None for unit in units):
        namespace.update(display=_display, get_ipython=_Shell)
        sys.stdout, sys.stderr = _Tee(sys.stdout), _Tee(sys.stderr)
    signal.signal(signal.SIGALRM, signal.default_int_handler)
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
    except TIME_LIMIT:  # between cells
        between_units = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    _use(caps.end_run, between_units)
    signal.signal(signal.SIGALRM, signal.default_int_handler)  # in case the program replaced it
    planned = _use(caps.calls)
    if planned is None:
        return
    bindings, calls = planned
    saved = {name: namespace.get(name, _MISSING) for name in bindings}
    namespace.update(bindings)  # forward and loss as they were during training
    try:
        for index, function, args in calls:
            if index == "final":
                result, error = _guarded(function, args) if callable(function) else (None, None)
                _use(caps.final_result, _scalar(result), type(result).__name__, error)
                continue
            if not callable(function):
                continue  # the parent knows which functions exist from the "final" event
            bind = _use(caps.probe_begin, index)
            if bind is None:
                continue
            unbind = {name: namespace.get(name, _MISSING) for name in bind}
            namespace.update(bind)
            try:
                result, error = _guarded(function, args)
                value, differentiated = _scalar(result), False
                if error is None and value is not None and _requires_grad(result):
                    _, error = _guarded(lambda: _REAL_BACKWARD(result.sum()), ())
                    differentiated = error is None
            finally:
                _restore(namespace, unbind)
            _use(caps.probe_end, index, value, type(result).__name__, error, differentiated)
    finally:
        _restore(namespace, saved)
    _snapshot(caps)
    _use(caps.finish)


def _requires_grad(value) -> bool:
    import torch

    base = torch._C.TensorBase
    try:
        return issubclass(type(value), base) and bool(base.__dict__["requires_grad"].__get__(value))
    except Exception:  # noqa: BLE001
        return False


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
    if not config.get("jail", True):
        return layers
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
    import torch

    import grader
    import grader._observer as private

    del sys.modules["grader._observer"]  # no name leads to it from now on
    del grader._observer
    channel = private.Channel(events_fd, bytes.fromhex(config.pop("key")))
    readable = [os.path.dirname(os.path.abspath(__file__))]
    try:
        import matplotlib

        readable += [matplotlib.get_data_path(), matplotlib.get_cachedir(), matplotlib.get_configdir()]
    except Exception:  # noqa: BLE001 - no matplotlib: nothing of it to read
        pass
    roots = read_roots(tuple(readable))
    hook, control = make_hook(config["workdir"], roots)
    observer = private.Observer(config, channel, control)
    torch.set_num_threads(1)
    keep, seal_here = observer.sealed, sealer()

    def cap(method):
        return capability(lambda foreign, *args: observer.dispatch(foreign, method, *args), keep, seal_here)

    caps = _Caps()
    for name in _Caps.__slots__:
        setattr(caps, name, cap(getattr(observer, name)))
    _REAL_BACKWARD = torch.autograd.backward
    torch.autograd.backward = forwarder(_REAL_BACKWARD, cap(observer.before), cap(observer.after))
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
    # which nothing else points at; frozen, the collector never frees it (and gc.get_objects never lists it).
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
