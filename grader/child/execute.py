"""Running the student's code: the script or each notebook cell, then the grader's calls of its functions.

``drive`` is the only frame from which student code is called: it holds capabilities and student data,
nothing else (see boundary.py).  How each unit of code ended is described here as plain data
(``describe``) and handed to the observer, which decides what to report.
"""

from __future__ import annotations

import _thread
import ast
import linecache
import os
import signal
import sys
import threading
import time
import traceback

from grader.child import absent, ipython, pyplot
from grader.child.boundary import DRIVER, STUDENT_FILES, Caps, use
from grader.child.sandbox import SandboxViolation
from grader.child.values import requires_grad, scalar

PROBE_SECONDS = 2.0  # each hidden call of the student's functions after the run
TIMED_OUT = f"it did not return within {PROBE_SECONDS:g} s"
# The time limit is SIGALRM handled by signal.default_int_handler, which raises KeyboardInterrupt (a
# BaseException, so `except Exception` in student code does not swallow it).  A builtin, unlike a Python
# function, cannot be changed by student code, and it may run anywhere, even inside the observer.  Where
# there is no SIGALRM (Windows), a thread interrupts the main thread the same way (``Watchdog``); either
# way the parent's own clock is the wall.
TIME_LIMIT = KeyboardInterrupt
REAL_BACKWARD: list = [None]  # torch.autograd.backward as torch defines it (set before student code runs)
_MISSING = object()


class Alarm:
    """The time limit as SIGALRM: ``arm(seconds)`` (0 disarms); ``install`` puts the handler back."""

    @staticmethod
    def install() -> None:
        signal.signal(signal.SIGALRM, signal.default_int_handler)

    @staticmethod
    def arm(seconds: float) -> None:
        signal.setitimer(signal.ITIMER_REAL, seconds)


class Watchdog:
    """The time limit without SIGALRM: a thread, started once before student code runs, that interrupts
    the main thread (``_thread.interrupt_main``: SIGINT's handler, which raises KeyboardInterrupt) when
    the deadline set by ``arm`` has passed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadline = None
        threading.Thread(target=self._watch, name="grader-time-limit", daemon=True).start()

    @staticmethod
    def install() -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def arm(self, seconds: float) -> None:
        with self._cond:
            self._deadline = time.monotonic() + seconds if seconds > 0 else None
            self._cond.notify()

    def _watch(self) -> None:
        while True:
            with self._cond:
                while self._deadline is None or time.monotonic() < self._deadline:
                    wait = None if self._deadline is None else self._deadline - time.monotonic()
                    self._cond.wait(wait)
                self._deadline = None
            _thread.interrupt_main()


def make_alarm():
    """The time limit this system allows (call before the audit hook: the watchdog starts a thread)."""
    return Alarm() if hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM") else Watchdog()


ALARM: list = [None]  # set by main.prepare


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:500] if text else type(exc).__name__


def refusal(what: str, detail: str) -> dict:
    """A refusal of the sandbox as a sentence the parent translates: its catalog phrase, and the path or
    value involved."""
    if detail:
        return {"template": "{what} ({detail})", "args": {"what": what, "detail": detail}}
    return {"template": "{what}", "args": {"what": what}}


def describe(exc: BaseException, filenames, limit: float) -> dict:
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
    ended = {"status": "exception", "exc_type": type(exc).__name__, "message": one_line(exc), "line": line,
             "file": where, "traceback": listing + "".join(traceback.format_exception_only(type(exc), exc))}
    if isinstance(exc, SandboxViolation):  # said as a phrase the parent can translate
        ended["denied"] = refusal(exc.what, exc.detail)
    return ended


def run_unit(unit: dict, namespace: dict, filenames, limit: float) -> tuple[dict, str | None]:
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
        return describe(exc, filenames, limit), None
    return {"status": "finished"}, None


def guarded(function, args):
    """Call student code with a short time limit: (result, error text or None)."""
    ALARM[0].arm(PROBE_SECONDS)
    try:
        return function(*args), None
    except TIME_LIMIT:
        return None, TIMED_OUT
    except BaseException as exc:  # noqa: BLE001
        try:
            return None, f"{type(exc).__name__}: {one_line(exc)}"
        except BaseException:  # noqa: BLE001 - an exception whose str() itself fails
            return None, "the call failed"
    finally:
        ALARM[0].arm(0)


def restore(space: dict, saved: dict) -> None:
    """Put names back as they were (``_MISSING``: the name was not there)."""
    for name, value in saved.items():
        if value is _MISSING:
            space.pop(name, None)
        else:
            space[name] = value


def drive(caps: Caps) -> None:
    """Run the student's program, then the calls the grader makes of its functions."""
    began = use(caps.begin)
    if began is None:
        return
    units, module, limit, filenames = began
    STUDENT_FILES[0] = filenames
    DRIVER[0] = globals()  # the student's frames all lie above run_unit's
    sys.modules["__main__"] = module
    sys.argv = [module.__file__]
    namespace = module.__dict__
    for unit in units:
        linecache.cache[unit["filename"]] = (len(unit["source"]), None, unit["source"].splitlines(True),
                                             unit["filename"])
    if any(unit["cell"] is not None for unit in units):
        ipython.install(namespace, sys)
    finder = absent.install()
    run_program(caps, units, namespace, filenames, limit, finder)
    ALARM[0].install()  # in case the program replaced the handler
    call_functions(caps, namespace)
    pyplot.snapshot(caps)
    use(caps.finish)


def run_program(caps: Caps, units: list, namespace: dict, filenames, limit: float, finder=None) -> None:
    """The script, or the cells one after another until one fails, within the time limit."""
    ALARM[0].install()
    ALARM[0].arm(limit)
    between_units = False
    try:
        for index, unit in enumerate(units):
            cell = unit["cell"]
            if cell is not None and not cell.get("run", True):
                continue
            use(caps.start_unit, index)
            ended, shown = run_unit(unit, namespace, filenames, limit)
            output = {}
            if cell is not None:
                pyplot.snapshot(caps)
                pyplot.close_all()
                output = {"result": shown, "stdout": ipython.taken(sys.stdout), "stderr": ipython.taken(sys.stderr)}
            if use(caps.end_unit, index, ended, output):
                break
    except TIME_LIMIT:  # between cells
        between_units = True
    finally:
        ALARM[0].arm(0)
    use(caps.end_run, between_units, absent.stood_in(finder) if finder is not None else ())


def call_functions(caps: Caps, namespace: dict) -> None:
    """The calls the grader asks for after the run, one by one.  A function that did not return in time
    is not called again: its later calls are answered with the same error."""
    numbers = use(caps.calls)
    if numbers is None:
        return
    hung: dict = {}
    for index in numbers:
        probe(caps, namespace, index, hung)


def probe(caps: Caps, namespace: dict, index: int, hung: dict) -> None:
    """One hidden call with the parameters the observer put in place, then autograd's gradients of it."""
    begun = use(caps.probe_begin, index)
    if begun is None:
        return
    bind, function, args = begun
    if id(function) in hung:
        use(caps.probe_end, index, None, "", hung[id(function)], False)
        return
    unbind = {name: namespace.get(name, _MISSING) for name in bind}
    namespace.update(bind)
    value, differentiated, result = None, False, None
    try:
        result, error = guarded(function, args)
        if error == TIMED_OUT:
            hung[id(function)] = error
        value = scalar(result)
        if error is None and value is not None and requires_grad(result):
            _, error = guarded(lambda: REAL_BACKWARD[0](result.sum()), ())
            differentiated = error is None
    finally:
        restore(namespace, unbind)
    use(caps.probe_end, index, value, type(result).__name__, error, differentiated)
