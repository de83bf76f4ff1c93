"""The boundary between student code and the observer: what student code can reach, and why it is harmless.

Student code runs in the same process as the observer (grader/child/_observer.py).  Everything in this
package except the observer is student territory: student code can reach it and change it, and nothing here
holds anything that would let it forge a result.  What keeps the observer out of reach:

* the observer's module is private (loaded under no name, private builtins, private references);
* every grader frame below or around student code (the driver in execute.py, main.run_job, the stand-in for
  backward, the capabilities, the audit hook) holds only student data, immutable values and capabilities,
  so walking frames (``sys._getframe().f_back``, a traceback, a signal handler's frame) finds nothing to
  misuse;
* a capability (``capability``) is a generator around a sealed proxy: calling it runs one observer method,
  which only records what it reads itself or plain values; student code may call any of them, to no gain;
* the observer, its channel and key are kept alive only by a reference cycle frozen out of the collector's
  reach (``gc.freeze``), so no global, closure or frame points at them, and ``gc.get_objects`` does not
  list them.
"""

from __future__ import annotations

import _signal
import _thread
import gc
import signal
import sys
import weakref


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


_UNCATCHABLE = {getattr(signal, name) for name in ("SIGKILL", "SIGSTOP") if hasattr(signal, name)}  # not on Windows
_TOOLS = (_signal.getsignal, _signal.signal, _signal.SIG_IGN, signal.default_int_handler,
          tuple(int(s) for s in signal.valid_signals() if s not in _UNCATCHABLE),
          sys.gettrace, sys.getprofile, gc.isenabled, gc.disable, gc.enable, gc.get_debug, gc.DEBUG_SAVEALL,
          _thread.get_ident, _thread.get_ident())  # imported in the main thread (a fork keeps its id)


def capability(call, keep: list, seal_with=seal):
    """A capability calling ``call`` (through a proxy made by ``seal_with``; ``keep`` holds it alive)."""
    generator = _capability(seal_with(call, keep), _TOOLS)
    next(generator)
    return generator


def use(capability, *args):
    """Call a capability from student territory.  One that another thread is using at the moment (a
    student's threads calling backward at once) does nothing this time."""
    try:
        value, pending = capability.send(args)
    except ValueError:  # "generator already executing"
        return None
    if pending is not None:
        raise pending
    return value


def forwarder(real, observe, like=None):
    """A plain function standing in for torch.autograd.backward: it runs the real backward pass itself
    (so student hooks run with no observer frame beneath them), then hands the pass to the ``observe``
    capability with the student's frames (read by ``gather``).  A pass that raises is not observed.
    Hashable and named like the original (torch keeps some of its functions in sets); no closure; its
    globals hold only the real function, the capability, ``use`` and ``gather``."""
    like = like or real
    namespace = {"__builtins__": {}, "_real": real, "_observe": observe, "_use": use, "_gather": gather}
    exec(
        f"def {like.__name__}(*args, **kwargs):\n"
        "    result = _real(*args, **kwargs)\n"
        "    _use(_observe, args, kwargs, _gather())\n"
        "    return result\n",
        namespace,
    )
    function = namespace.pop(like.__name__)
    function.__module__, function.__qualname__, function.__doc__ = like.__module__, like.__qualname__, like.__doc__
    return function


STUDENT_FILES: list = [frozenset()]  # the file names of the student's code (set by the driver)
DRIVER: list = [None]  # the driver's globals: frames from there down are the grader's (set by the driver)


def gather():
    """The locals of the student's frames below the caller (innermost first), and the line and file name of
    the innermost one: what the observer looks parameters up in.  Read here, not in the observer, because refreshing a
    frame's locals can free a student object, and its finalizer would run inside the observer."""
    spaces, line = [], None
    files, driver = STUDENT_FILES[0], DRIVER[0]
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals is not driver:
        filename = frame.f_code.co_filename
        if filename in files:
            if line is None:
                line = (frame.f_lineno, filename)
            spaces.append(frame.f_locals)
        frame = frame.f_back
    return spaces, line


class Caps:
    """The capabilities the child uses, one per observer method (student-visible, like everything the
    driver holds: each is safe to call).  ``CURRENT`` holds them for the functions installed in pyplot and
    os, which have no other way to find them."""

    __slots__ = ("begin", "start_unit", "end_unit", "end_run", "observe", "calls", "probe_begin", "probe_end",
                 "finish", "flush", "figure_changed", "record_figure", "figure_failed")


CURRENT: dict[str, Caps] = {}
