"""Run one submission in a separate, limited process and bring back its Trace.

``Runner`` is the interface the pipeline depends on; ``make_runner`` picks one for this system.  Two
implement it: ``PortableRunner`` (grader/portable.py) starts a fresh Python for each submission, on
Linux, macOS and Windows alike; ``ForkServerRunner`` (grader/forkserver.py, Linux) forks each child from a
warm process that imported torch once.  Either way the child (grader/child/main.py) gets its
``ChildConfig`` over a private pipe and sends signed event frames over another (grader/protocol.py); its
stdout and stderr are captured up to a cap (``collect``); it is killed when the time is up.  Both runners
are context managers: leaving the block stops whatever they keep running.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import secrets
import shutil
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader import protocol
from grader import trace as tr
from grader.i18n import _
from grader.load import Submission
from grader.plan import Plan, Point, make_plan
from grader.protocol import CellSource, ChildConfig
from grader.spec import Spec

OUTPUT_CAP = 64 * 1024  # bytes of stdout and of stderr kept: the head and the tail
STARTUP_SECONDS = 120.0  # importing torch on a busy machine; not charged to the student
DISK_CHECK_SECONDS = 0.2  # how often the scratch folder's size is checked, where the jail does not bound it
_BOOTSTRAP = (
    "import sys; sys.path.append({path!r}); "
    "from grader.child.main import main; main(sys.argv[1:])"
)


@dataclass(frozen=True)
class Probes:
    """The hidden points, drawn by the parent."""

    points: tuple[Point, ...]


@dataclass(frozen=True)
class Limits:
    time_limit: float  # seconds of the student's program, from the moment the grader is ready


class Runner:
    """Runs one submission and returns what it observed; ``close`` (or leaving a ``with`` block) stops
    whatever the runner keeps running between submissions, ``abort`` the children running now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[object, Callable[[], None]] = {}  # how to kill each child running now

    def run(self, submission: Submission, spec: Spec, probes: Probes, limits: Limits) -> tr.Trace:
        raise NotImplementedError

    def _started(self, key: object, kill: Callable[[], None]) -> None:
        with self._lock:
            self._running[key] = kill

    def _ended(self, key: object) -> None:
        with self._lock:
            self._running.pop(key, None)

    def abort(self) -> None:
        """Kill every child running now (a batch that was told to stop); their runs end at once."""
        if not hasattr(self, "_lock"):  # a runner that keeps no children
            return
        with self._lock:
            kills = list(self._running.values())
        for kill in kills:
            kill()

    def close(self) -> None:
        remove_left_behind()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_LEFT_BEHIND: list[str] = []  # scratch folders that could not be removed yet
_LEFT_LOCK = threading.Lock()
log = logging.getLogger("grader")


@contextmanager
def scratch_folder():
    """A fresh folder for one run, removed after it.  If it cannot be removed now (a process the submission
    left behind still writes into it), that is logged and it is removed later (``remove_left_behind``)."""
    path = tempfile.mkdtemp(prefix="grader-run-")
    try:
        yield path
    finally:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            log.warning("grader: could not remove the scratch folder %s yet (%s); it is removed later", path, exc)
            with _LEFT_LOCK:
                _LEFT_BEHIND.append(path)


def remove_left_behind() -> None:
    """Try again to remove the scratch folders a run left behind (their writers are gone by now)."""
    with _LEFT_LOCK:
        paths, _LEFT_BEHIND[:] = list(_LEFT_BEHIND), []
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


class Capture:
    """Keeps the first and the last ``cap // 2`` bytes of a stream, and counts what was dropped."""

    def __init__(self, cap: int = OUTPUT_CAP) -> None:
        self.half = cap // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.half:
                cut = len(self.tail) - self.half
                self.dropped += cut
                del self.tail[:cut]

    def text(self) -> str:
        """What was kept, as text anything can show (invalid UTF-8 replaced, control characters escaped)."""
        head = protocol.visible(self.head.decode("utf-8", "replace"))
        tail = protocol.visible(self.tail.decode("utf-8", "replace"))
        if self.dropped:
            return f"{head}\n[... {self.dropped} bytes of output left out ...]\n{tail}"
        return head + tail


def make_config(submission: Submission, spec: Spec, probes: Probes, limits: Limits, workdir: str) -> ChildConfig:
    """What the child needs to run one submission; the source is also copied into the working folder."""
    workfile = os.path.join(workdir, submission.path.name)
    with open(workfile, "w", encoding="utf-8") as handle:
        handle.write(submission.source)
    cells = None
    if submission.cells is not None:
        cells = tuple(CellSource(c.index, c.number, c.source, c.run) for c in submission.cells)
    return ChildConfig(
        key=secrets.token_hex(32),  # signs the child's events; student code never sees the configuration
        display_name=submission.display_name,
        workdir=workdir,
        workfile=workfile,
        source=submission.source,
        parameters=spec.param_names,
        max_steps=spec.max_steps,
        time_limit=limits.time_limit,
        bootstrap_path=_package_parent(),
        cells=cells,
        figure_png=submission.cells is not None,
        # GRADER_JAIL=off: no jail even where one is possible (to see what grading is like without it).
        jail=os.environ.get("GRADER_JAIL", "on") != "off",
        # GRADER_WALLS=off: neither Landlock nor seccomp (to see what grading is like without them).
        walls=os.environ.get("GRADER_WALLS", "on") != "off",
    )


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"})
    return env


CALLED_FUNCTIONS = 6  # the student's functions called after the run, at most (grader/plan.py: 3 ways each)


def hard_limit(config: ChildConfig, functions: int = CALLED_FUNCTIONS) -> float:
    """The child stops student code itself at the time limit, then calls its functions (each that hangs
    once is not called again); past this it is killed."""
    return config.time_limit + 2.0 * (functions + 1) + 5.0


class Handoff:
    """The calls to make after the run, planned by the parent once the child has said what the program
    trained (its Program event), then written to the child's calls pipe (``fd``, the parent's end) and the
    pipe closed.  Until then they are nowhere in the child's process."""

    def __init__(self, fd: int, submission: Submission, spec: Spec, probes: Probes) -> None:
        self.fd, self.submission, self.spec, self.points = fd, submission, spec, probes.points
        self.plan: Plan | None = None

    def send(self, events: list) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            observed = tr.observe(events, self.spec.max_steps)
            self.plan = make_plan(self.spec, self.submission, observed.kinds, observed.program, self.points)
            data = protocol.probe_calls_text(tuple(call.wire for call in self.plan.calls))
            view = memoryview(data)
            while view:  # the child reads as it comes: the pipe need not hold it all at once
                view = view[os.write(fd, view):]
        except OSError:  # the child is gone
            pass
        finally:
            os.close(fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def write_config(fd: int, config: ChildConfig) -> None:
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(config.to_json().encode())
    except BrokenPipeError:
        pass


@dataclass
class Collected:
    """What a child left behind: its events, its captured output, and an outcome the parent imposed."""

    events: list
    reader: protocol.FrameReader
    out: Capture
    err: Capture
    outcome: tr.Outcome | None


def folder_bytes(path: str, most: int = 10_000) -> int:
    """What the files under ``path`` take on disk (links not followed; at most ``most`` entries looked at)."""
    total, seen, todo = 0, 0, [path]
    while todo and seen < most:
        try:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    seen += 1
                    info = entry.stat(follow_symlinks=False)
                    total += getattr(info, "st_blocks", 0) * 512 or info.st_size
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
        except OSError:
            continue
    return total


class SelectorStreams:
    """A child's stdout, stderr and events pipes, read as they become readable (POSIX: pipes can be
    selected on).  ``read(timeout)`` gives (name, bytes) pairs, ``b""`` once a pipe has closed; ``close``
    closes the parent's ends."""

    def __init__(self, fds: dict[str, int]) -> None:
        self.fds = fds
        self.selector = selectors.DefaultSelector()
        for name, fd in fds.items():
            self.selector.register(fd, selectors.EVENT_READ, name)

    def read(self, timeout: float) -> list[tuple[str, bytes]]:
        got = []
        for key, _mask in self.selector.select(timeout=timeout):
            data = os.read(key.fd, 65536)
            if not data:
                self.selector.unregister(key.fd)
            got.append((key.data, data))
        return got

    def close(self) -> None:
        self.selector.close()
        for fd in self.fds.values():
            os.close(fd)


class ThreadStreams:
    """The same, each pipe read by a thread of its own: what works on every system (Windows cannot select
    on pipes).  Each thread closes its pipe when the pipe ends; ``close``, after the child was killed, waits
    for them a moment (a process the program left behind may hold a pipe open: its thread is left to end
    when that process does)."""

    def __init__(self, fds: dict[str, int]) -> None:
        self.arrived: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._pump, args=(name, fd), daemon=True, name=f"grader-{name}")
                        for name, fd in fds.items()]
        for thread in self.threads:
            thread.start()

    def _pump(self, name: str, fd: int) -> None:
        try:
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                self.arrived.put((name, data))
                if not data:
                    return
        finally:
            os.close(fd)

    def read(self, timeout: float) -> list[tuple[str, bytes]]:
        try:
            got = [self.arrived.get(timeout=max(timeout, 0.0))]
        except queue.Empty:
            return []
        while True:
            try:
                got.append(self.arrived.get_nowait())
            except queue.Empty:
                return got

    def close(self, wait: float = 0.5) -> None:
        deadline = time.monotonic() + wait
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


def collect(streams, config: ChildConfig, kill: Callable[[], None], handoff: Handoff | None = None,
            on_ready: Callable[[], None] | None = None) -> Collected:
    """Read a child's stdout, stderr and events (``streams``: SelectorStreams or ThreadStreams) until all
    three close or time runs out (then ``kill()``).

    The student's clock starts when the child's Ready event arrives (torch imported), not before; then
    ``on_ready`` is called.  The calls to make after the run go to the child (``handoff``) when its Program
    event arrives, not before.  Where the child's scratch folder is the parent's to see (no jail), its size
    is checked as it runs."""
    out, err = Capture(), Capture()
    reader = protocol.FrameReader(bytes.fromhex(config.key))
    sinks = {"out": out, "err": err, "events": reader}
    events: list = []
    deadline = time.monotonic() + STARTUP_SECONDS
    ready = False
    outcome = None
    open_streams = len(sinks)
    measured = time.monotonic()
    try:
        while open_streams:
            if time.monotonic() - measured > DISK_CHECK_SECONDS:
                measured = time.monotonic()
                if folder_bytes(config.workdir) > config.disk_mb * 1024 * 1024:
                    outcome = tr.Outcome(tr.OVER_DISK, _("{mb} MB at most").format(mb=config.disk_mb))
                    break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome = tr.Outcome(
                    tr.TIMEOUT,
                    _("the program did not finish within {seconds:g} s and was stopped").format(
                        seconds=hard_limit(config))
                    if ready else _("the grader could not start within {seconds:g} s").format(seconds=STARTUP_SECONDS),
                )
                break
            for name, data in streams.read(min(remaining, DISK_CHECK_SECONDS)):
                sink = sinks[name]
                if not data:
                    open_streams -= 1
                    if sink is reader:
                        events += reader.close()
                    continue
                if sink is reader:
                    arrived = reader.feed(data)
                    events += arrived
                    if not ready and any(isinstance(e, protocol.Ready) for e in arrived):
                        ready = True
                        deadline = time.monotonic() + hard_limit(config)
                        if on_ready is not None:
                            on_ready()
                    if handoff is not None and any(isinstance(e, protocol.Program) for e in arrived):
                        handoff.send(events)
                else:
                    sink.add(data)
    finally:
        kill()
        streams.close()
        if handoff is not None:
            handoff.close()
    return Collected(events, reader, out, err, outcome)


def finish_trace(spec: Spec, submission: Submission, collected: Collected, seconds: float, returncode,
                 handoff: Handoff | None = None) -> tr.Trace:
    """The Trace of a run: the events folded, the plan applied, and how it ended when the child could not
    say."""
    outcome, reader = collected.outcome, collected.reader
    notes = [_("The grader's channel carried a malformed message ({reason}); it was ignored.").format(reason=problem)
             for problem in dict.fromkeys(reader.problems)]
    if reader.foreign:
        outcome = tr.Outcome(tr.TAMPERED, _("{count} lines the grader did not write").format(count=reader.foreign))
    elif outcome is None and not any(isinstance(e, protocol.Done) for e in collected.events):
        how = _death(returncode)
        if any(isinstance(e, protocol.Ended) for e in collected.events):
            notes.append(_("After the program ended, {how} while the grader was probing it.").format(how=how))
        else:
            outcome = tr.Outcome(tr.CRASHED, how)
    observed = tr.observe(collected.events, spec.max_steps)
    plan = handoff.plan if handoff is not None and handoff.plan is not None else make_plan(
        spec, submission, observed.kinds, observed.program, ())
    return tr.build_trace(observed, spec, plan, outcome=outcome, stdout=collected.out.text(),
                          stderr=collected.err.text(), seconds=seconds, notes=notes)


def make_runner(warm: bool = False) -> Runner:
    """The runner for this system.  ``warm``: several submissions (a class, a watch), where a warm process
    that forks each child pays torch's import once; that needs Linux (fork after torch is unsafe on macOS,
    Windows has no fork).  Everywhere else, and when GRADER_RUNNER=portable, a fresh Python per submission."""
    portable = os.environ.get("GRADER_RUNNER", "") == "portable" or not sys.platform.startswith("linux") \
        or not hasattr(os, "fork") or not hasattr(socket, "AF_UNIX")
    if warm and not portable:
        from grader.forkserver import ForkServerRunner

        return ForkServerRunner()
    from grader.portable import PortableRunner

    return PortableRunner()


FILE_WALLS = ("filesystem", "landlock")  # either keeps a submission from other students' files


def survey_walls(python: str = sys.executable) -> tuple[str, ...]:
    """The walls a child would get on this system, as the grader is set (GRADER_JAIL, GRADER_WALLS): tried
    in a small process of its own, before anything is graded (once per setting and process)."""
    return _survey(python, os.environ.get("GRADER_JAIL", "on"), os.environ.get("GRADER_WALLS", "on"))


@functools.lru_cache(maxsize=None)
def _survey(python: str, jail: str, walls: str) -> tuple[str, ...]:
    code = ("import json, sys; sys.path.append({path!r}); from grader.child.walls import survey; "
            "print(json.dumps(survey({jail}, {walls})))").format(
        path=_package_parent(), jail=jail != "off", walls=walls != "off")
    try:
        done = subprocess.run([python, "-I", "-B", "-c", code], capture_output=True, text=True, timeout=60,
                              env=child_env(), stdin=subprocess.DEVNULL)
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else []
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        found = []
    if os.name == "nt":
        from grader.portable import job_objects

        found += ["limits"] if job_objects() else []  # set by the parent there, around the child
    found = [w for w in found if w in protocol.ISOLATION_LAYERS]
    return tuple(dict.fromkeys([w for w in found if w == "limits"] + ["audit"] + found))


def has_file_isolation(walls) -> bool:
    return any(w in walls for w in FILE_WALLS)


def kill_group(pid: int) -> None:
    """SIGKILL to a child's process group (POSIX): the child and what it started."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _death(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return _("the process was killed by signal {name}").format(name=name)
    return _("the process ended abruptly (exit status {code}), for example through os._exit()").format(code=returncode)


def _package_parent() -> str:
    return str(Path(__file__).resolve().parent.parent)
