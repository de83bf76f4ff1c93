"""The child process: set up the observer and the sandbox, run one submission, never return.

Started as a fresh Python by grader/portable.py (``python -I -B -c BOOTSTRAP CONFIG EVENTS PROBES``, each
a descriptor, or on Windows ``handle:N``), or forked by the warm process (zygote.py, grader/forkserver.py).
It reads its ``ChildConfig`` from one private pipe, then closes it before student code starts; it writes
signed event frames to another (grader/protocol.py); the hidden probe points arrive on a third once the
program has ended.  Student stdout and stderr go to the parent's capture, never mixed with the events.
"""

from __future__ import annotations

import functools
import gc
import importlib.util
import os
import sys
import tempfile
import traceback
import types

from grader.child import execute, pyplot, walls
from grader.child.boundary import CURRENT, Caps, capability, forwarder, sealer, use
from grader.child.sandbox import (
    DENIED_EVENTS,
    DEVICES,
    JailError,
    SandboxViolation,
    isolate_network,
    jail,
    limit_resources,
    make_hook,
    read_roots,
)
from grader.protocol import ChildConfig

_REAL_EXIT = os._exit
_NETWORK_ISOLATED = [False]  # a zygote's children inherit its namespace
_OBSERVER_CODE: list = [None]  # the observer's compiled code, once per process (a zygote's children share it)
_PRELOADED: list = []  # an observer module loaded ahead by a warm process, for its next child
OBSERVER = "grader.child._observer"


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def observer_code() -> types.CodeType:
    """The observer module's code, compiled once (code objects cannot be changed)."""
    if _OBSERVER_CODE[0] is None:
        spec = importlib.util.find_spec(OBSERVER)
        _OBSERVER_CODE[0] = spec.loader.get_code(OBSERVER)
    return _OBSERVER_CODE[0]


def load_observer() -> types.ModuleType:
    """A fresh, private copy of the observer module: executed in a module object that no name leads to
    (not in sys.modules, not an attribute of the package)."""
    module = types.ModuleType(OBSERVER)
    module.__file__ = observer_code().co_filename
    exec(observer_code(), module.__dict__)
    return module


def preload_observer() -> None:
    """Load the observer now, in a warm process, for its next child to take (``take_observer``): each child
    gets its own copy of the process, and so of the module."""
    _PRELOADED[:] = [load_observer()]


def take_observer() -> types.ModuleType:
    """The observer module for this process: the preloaded one (no longer held here once taken), or a new
    one."""
    return _PRELOADED.pop() if _PRELOADED else load_observer()


def readable() -> tuple[str, ...]:
    """What student code may read besides its folder: the grader's package, matplotlib's data, and the
    system roots (computed once in a warm process)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [package]
    # Every folder imports come from (packages found through a .pth file included), but the one the child
    # was started from: a checkout of the kit holds its solutions and tests beside the package.
    started_from = os.path.realpath(os.path.dirname(package))
    paths += [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) != started_from]
    try:
        import matplotlib

        paths += [matplotlib.get_data_path(), matplotlib.get_cachedir(), matplotlib.get_configdir()]
    except Exception:  # noqa: BLE001 - no matplotlib: nothing of it to read
        pass
    return read_roots(tuple(paths))


def warm_matplotlib() -> None:
    """Load matplotlib's font list now, while the grader may still write outside the scratch folder: on the
    first run after installing, building that cache is matplotlib's doing, never the student's."""
    try:
        import matplotlib.font_manager  # noqa: F401
    except Exception:  # noqa: BLE001 - no matplotlib, or a broken one: the student's import will say so
        pass


# What starts processes, makes special files or signals through a pidfd, put out of student code's reach:
# each is replaced by a stand-in that raises its audit event, which the hook refuses and records (so the
# report names the attempt); _posixsubprocess starts programs without raising any event of its own.  A
# tripwire, as the hook is: the seccomp filter is the wall.
OUT_OF_REACH = {
    "os": ("fork", "forkpty", "posix_spawn", "posix_spawnp", "mkfifo", "mknod", "setxattr", "removexattr",
           "pidfd_open"),
    "signal": ("pidfd_send_signal",),
}


def _refusing(event: str):
    def refused(*args, **kwargs):
        sys.audit(event)  # refused by the hook, which says so
        raise SandboxViolation(DENIED_EVENTS.get(event, "start a process"))

    return refused


def out_of_reach() -> None:
    for module_name, names in OUT_OF_REACH.items():
        modules = [sys.modules.get(module_name)] + ([sys.modules.get("posix")] if module_name == "os" else [])
        for module in modules:
            for name in names:
                if module is not None and hasattr(module, name):
                    setattr(module, name, _refusing(f"{module_name}.{name}"))
    stand_in = types.ModuleType("_posixsubprocess")
    stand_in.fork_exec = _refusing("_posixsubprocess.fork_exec")
    sys.modules["_posixsubprocess"] = stand_in
    if "subprocess" in sys.modules:
        sys.modules["subprocess"]._posixsubprocess = stand_in


def guard_exit() -> None:
    """os._exit skips every cleanup: flush what the grader has buffered first, so the backward passes
    observed before it still count."""

    def exit_now(status: int = 0) -> None:
        caps = CURRENT.get("caps")
        if caps is not None:
            try:
                use(caps.flush)
            except BaseException:  # noqa: BLE001 - leaving anyway
                pass
        _REAL_EXIT(status)

    os._exit = exit_now
    system = sys.modules.get("posix") or sys.modules.get("nt")  # where os took _exit from
    if system is not None:
        system._exit = exit_now


def isolate(config: ChildConfig, roots: tuple[str, ...]) -> list[str]:
    """Limits for this process, its jail, and the kernel's walls around it; the layers in place."""
    if not _NETWORK_ISOLATED[0]:
        _NETWORK_ISOLATED[0] = isolate_network()
    limited = limit_resources(memory_mb=config.memory_mb, cpu_seconds=config.time_limit + 30, file_mb=config.file_mb)
    layers = (["limits"] if limited else []) + ["audit"] + (["network"] if _NETWORK_ISOLATED[0] else [])
    if config.jail:
        try:
            layers += jail(config.workdir, tuple(r for r in roots if not r.startswith(("/proc", "/sys", "/dev"))),
                           config.disk_mb)
        except JailError as exc:
            sys.stderr.write(f"grader: the submission could not be isolated ({exc}); it was not run.\n")
            raise
        if "filesystem" in layers:
            tempfile.tempdir = config.workdir
            os.environ.update(HOME=config.workdir, TMPDIR=config.workdir)
    if config.walls:
        readable_only = tuple(r for r in roots if r != config.workdir and not r.startswith("/dev"))
        if walls.landlock(readable_only, (config.workdir,), DEVICES):
            layers.append("landlock")
        if walls.seccomp(os.getpid()):
            layers.append("seccomp")
    return list(dict.fromkeys(layers))


def prepare(config: ChildConfig, events_fd: int, probes_fd: int | None) -> Caps:
    """Everything before student code runs: the channel, the observer, the sandbox.  Returns the
    capabilities the driver needs; the observer itself is reachable from nowhere once this returns."""
    import torch

    private = take_observer()
    channel = private.Channel(events_fd, bytes.fromhex(config.key))
    warm_matplotlib()
    roots = readable()
    hook, control = make_hook(config.workdir, roots)
    observer = private.Observer(config, channel, control, torch, probes_fd)
    torch.set_num_threads(1)
    keep, seal_here = observer.sealed, sealer()

    def cap(method):
        return capability(functools.partial(observer.dispatch, method), keep, seal_here)

    caps = Caps()
    for name in private.CAPABILITIES:
        setattr(caps, name, cap(getattr(observer, name)))
    execute.REAL_BACKWARD[0] = torch.autograd.backward
    torch.autograd.backward = forwarder(torch.autograd.backward, caps.observe)
    pyplot.FIGURE_PNG[0] = config.figure_png
    pyplot.install()
    os.chdir(config.workdir)
    sys.path[:] = [config.workdir] + [p for p in sys.path if p != config.bootstrap_path]
    execute.ALARM[0] = execute.make_alarm()  # before the walls: a watchdog is a thread
    layers = isolate(config, roots)
    out_of_reach()
    sys.addaudithook(hook)
    guard_exit()
    CURRENT["caps"] = caps
    observer.ready(layers)
    # From here on the observer lives only in the cycle observer -> keep -> sealed -> lambda -> observer,
    # which nothing else points at; frozen, the collector never frees it (and gc.get_objects never lists it).
    gc.collect()
    gc.freeze()
    return caps


def run_job(config_bytes: bytes, events_fd: int, probes_fd: int | None) -> None:
    """Run one submission in this process and report on ``events_fd``; the hidden probe points come on
    ``probes_fd`` once the program has ended.  Never returns."""
    caps = None
    try:
        caps = prepare(ChildConfig.from_json(config_bytes), events_fd, probes_fd)
        config_bytes = None
        execute.drive(caps)
    except BaseException:  # noqa: BLE001 - the grader's own failure: said on stderr, which the report keeps
        try:
            sys.__stderr__.write("grader: internal error\n" + traceback.format_exc())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        if caps is not None:
            try:
                use(caps.flush)
            except BaseException:  # noqa: BLE001
                pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - the student may have replaced or closed them
                pass
        # Leave without waiting for threads the student started or atexit hooks it registered.
        _REAL_EXIT(0)


def main(argv: list[str]) -> None:
    if argv and argv[0] == "zygote":
        from grader.child.zygote import serve

        serve(int(argv[1]))
        return
    config_fd = descriptor(argv[0], os.O_RDONLY)
    events_fd = descriptor(argv[1], os.O_WRONLY)
    probes_fd = descriptor(argv[2], os.O_RDONLY)
    run_job(read_all(config_fd), events_fd, probes_fd)


def descriptor(arg: str, flags: int) -> int:
    """A pipe end the parent handed over: a file descriptor, or on Windows an inherited handle
    (``handle:N``, see grader/portable.py ``hand_over``), opened here as a binary descriptor."""
    if arg.startswith("handle:"):
        import msvcrt

        return msvcrt.open_osfhandle(int(arg[len("handle:"):]), flags | getattr(os, "O_BINARY", 0))
    return int(arg)
