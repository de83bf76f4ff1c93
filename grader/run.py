"""Run one submission in a separate, limited process and bring back its Trace.

``Runner`` is the interface the pipeline depends on; ``SubprocessRunner`` starts a fresh Python for each
submission (``grader/_child.py``), hands it its configuration over a private pipe, reads its events over
another, captures stdout and stderr up to a cap, and kills the whole process group when the time is up.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from grader import trace as tr
from grader.i18n import _
from grader.load import Submission
from grader.spec import Spec

OUTPUT_CAP = 64 * 1024  # bytes of stdout and of stderr kept: the head and the tail
STARTUP_SECONDS = 120.0  # importing torch on a busy machine; not charged to the student
_BOOTSTRAP = (
    "import sys; sys.path.append({path!r}); "
    "from grader._child import main; main(sys.argv[1:])"
)


@dataclass(frozen=True)
class Probes:
    """The hidden points, drawn by the parent: a list of {kind, params, x, y}."""

    points: tuple[dict, ...]


@dataclass(frozen=True)
class Limits:
    time_limit: float  # seconds of the student's program, from the moment the grader is ready


class Runner(Protocol):
    def run(self, submission: Submission, spec: Spec, probes: Probes, limits: Limits) -> tr.Trace: ...


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
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped} bytes of output left out ...]\n{tail}"
        return head + tail


def make_config(submission: Submission, spec: Spec, probes: Probes, limits: Limits, workdir: str) -> dict:
    """What the child needs to run one submission; the source is also copied into the working folder."""
    workfile = os.path.join(workdir, submission.path.name)
    with open(workfile, "w", encoding="utf-8") as handle:
        handle.write(submission.source)
    config = {
        "filename": submission.display_name,
        "source": submission.source,
        "workdir": workdir,
        "workfile": workfile,
        "bootstrap_path": _package_parent(),
        "time_limit": limits.time_limit,
        "spec": spec.to_json(),
        "probes": list(probes.points),
        "figure_png": submission.cells is not None,
        "key": secrets.token_hex(32),  # signs the child's events; student code never sees the config
        # GRADER_JAIL=off: no jail even where one is possible (to see what grading is like without it).
        "jail": os.environ.get("GRADER_JAIL", "on") != "off",
    }
    if submission.cells is not None:
        config["cells"] = [
            {"index": c.index, "number": c.number, "source": c.source, "run": c.run} for c in submission.cells
        ]
    return config


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"})
    return env


def hard_limit(config: dict, limits: Limits) -> float:
    """The child stops student code itself at the time limit, then probes; past this it is killed."""
    return limits.time_limit + 2.0 * (len(config["probes"]) + 1) + 5.0


def write_config(fd: int, config: dict) -> None:
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(config).encode())
    except BrokenPipeError:
        pass


def collect(out_fd: int, err_fd: int, events_fd: int, limit: float, kill) -> tuple[tr.Outcome | None, list[bytes], Capture, Capture]:
    """Read a child's stdout, stderr and events until all three close or time runs out (then ``kill()``).

    The student's clock starts when the child says it is ready (torch imported), not before."""
    out, err, events = Capture(), Capture(), bytearray()
    selector = selectors.DefaultSelector()
    for fd, sink in ((out_fd, out), (err_fd, err), (events_fd, events)):
        selector.register(fd, selectors.EVENT_READ, sink)
    deadline = time.monotonic() + STARTUP_SECONDS
    ready = False
    outcome = None
    open_streams = 3
    try:
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome = tr.Outcome(
                    tr.TIMEOUT,
                    _("the program did not finish within {seconds:g} s and was stopped").format(seconds=limit)
                    if ready else _("the grader could not start within {seconds:g} s").format(seconds=STARTUP_SECONDS),
                )
                break
            for key, _mask in selector.select(timeout=min(remaining, 0.5)):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                    open_streams -= 1
                    continue
                if key.data is events:
                    if len(events) < 64 * 1024 * 1024:
                        events += data
                    if not ready and b'"event":"ready"' in events:
                        ready = True
                        deadline = time.monotonic() + limit
                else:
                    key.data.add(data)
    finally:
        selector.close()
        kill()
        for fd in (out_fd, err_fd, events_fd):
            os.close(fd)
    return outcome, bytes(events).splitlines(), out, err


def finish_trace(spec: Spec, config: dict, outcome, lines, out: Capture, err: Capture, seconds: float,
                 returncode) -> tr.Trace:
    events, notes, foreign = tr.parse_events(lines, bytes.fromhex(config["key"]))
    if foreign:
        outcome = tr.Outcome(tr.TAMPERED, _("{count} lines the grader did not write").format(count=foreign))
    elif outcome is None and not any(e["event"] == "done" for e in events):
        how = _death(returncode)
        if any(e["event"] == "outcome" for e in events):
            notes.append(_("After the program ended, {how} while the grader was probing it.").format(how=how))
        else:
            outcome = tr.Outcome(tr.CRASHED, how)
    return tr.build_trace(
        events,
        spec.param_names,
        outcome=outcome,
        stdout=out.text(),
        stderr=err.text(),
        seconds=seconds,
        notes=notes,
        max_steps=spec.max_steps,
    )


class SubprocessRunner:
    """One fresh ``python`` process per submission: what a single ``grader check file.py`` uses."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    def run(self, submission: Submission, spec: Spec, probes: Probes, limits: Limits) -> tr.Trace:
        with tempfile.TemporaryDirectory(prefix="grader-run-") as workdir:
            config = make_config(submission, spec, probes, limits, workdir)
            config_read, config_write = os.pipe()
            events_read, events_write = os.pipe()
            argv = [self.python, "-I", "-B", "-c", _BOOTSTRAP.format(path=_package_parent()),
                    str(config_read), str(events_write)]
            started = time.monotonic()
            try:
                process = subprocess.Popen(
                    argv, cwd=workdir, env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, pass_fds=(config_read, events_write), start_new_session=True,
                )
            finally:
                os.close(config_read)
                os.close(events_write)
            write_config(config_write, config)

            def kill() -> None:
                _kill_group(process.pid)
                process.wait()

            outcome, lines, out, err = collect(
                os.dup(process.stdout.fileno()), os.dup(process.stderr.fileno()), events_read,
                hard_limit(config, limits), kill,
            )
            process.stdout.close()
            process.stderr.close()
            return finish_trace(spec, config, outcome, lines, out, err, time.monotonic() - started,
                                process.returncode)


class ForkServerRunner:
    """A warm process that has imported torch and matplotlib once forks a fresh child per submission.

    Each child is isolated as a ``SubprocessRunner`` child is (its own session, working folder, limits,
    private pipes); only the start-up cost is shared.  Thread-safe: a batch runs several jobs at once.
    If the warm process dies (a child may try to kill it), the next job starts a new one."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self.lock = threading.Lock()
        self.server: _Zygote | None = None

    def _zygote(self) -> "_Zygote":
        with self.lock:
            if self.server is None or not self.server.alive():
                if self.server is not None:
                    self.server.close()
                self.server = _Zygote(self.python)
            return self.server

    def run(self, submission: Submission, spec: Spec, probes: Probes, limits: Limits) -> tr.Trace:
        with tempfile.TemporaryDirectory(prefix="grader-run-") as workdir:
            config = make_config(submission, spec, probes, limits, workdir)
            started = time.monotonic()
            zygote = self._zygote()
            config_read, config_write = os.pipe()
            out_read, out_write = os.pipe()
            err_read, err_write = os.pipe()
            events_read, events_write = os.pipe()
            try:
                job, pid = zygote.fork((config_read, out_write, err_write, events_write))
            except OSError:
                for fd in (config_write, out_read, err_read, events_read):
                    os.close(fd)
                raise
            finally:
                for fd in (config_read, out_write, err_write, events_write):
                    os.close(fd)
            write_config(config_write, config)
            outcome, lines, out, err = collect(
                out_read, err_read, events_read, hard_limit(config, limits), lambda: _kill_group(pid)
            )
            returncode = zygote.exit_code(job, timeout=5.0)
            return finish_trace(spec, config, outcome, lines, out, err, time.monotonic() - started, returncode)

    def close(self) -> None:
        with self.lock:
            if self.server is not None:
                self.server.close()
                self.server = None

    def __enter__(self) -> "ForkServerRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Zygote:
    def __init__(self, python: str) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        bootstrap = _BOOTSTRAP.format(path=_package_parent())
        self.process = subprocess.Popen(
            [python, "-I", "-B", "-c", bootstrap, "zygote", str(child.fileno())],
            env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(child.fileno(),), start_new_session=True, cwd=tempfile.gettempdir(),
        )
        child.close()
        self.sock = parent
        self.send_lock = threading.Lock()
        self.cond = threading.Condition()
        self.pids: dict[int, int] = {}
        self.exits: dict[int, int] = {}
        self.next_job = 0
        self.dead = False
        self.sock.settimeout(STARTUP_SECONDS)
        try:
            ready = self.sock.recv(4096)
        except OSError:
            ready = b""
        if not ready:
            self.close()
            raise OSError("the grader's warm process did not start")
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = self.sock.recv(65536)
            except OSError:
                message = b""
            with self.cond:
                if not message:
                    self.dead = True
                    self.cond.notify_all()
                    return
                try:
                    data = json.loads(message)
                except ValueError:
                    continue
                if "pid" in data:
                    self.pids[data["job"]] = data["pid"]
                elif "exit" in data:
                    self.exits[data["job"]] = data["exit"]
                self.cond.notify_all()

    def alive(self) -> bool:
        return not self.dead and self.process.poll() is None

    def fork(self, fds: tuple[int, int, int, int]) -> tuple[int, int]:
        with self.cond:
            self.next_job += 1
            job = self.next_job
        with self.send_lock:
            socket.send_fds(self.sock, [json.dumps({"job": job}).encode()], list(fds))
        with self.cond:
            if not self.cond.wait_for(lambda: job in self.pids or self.dead, timeout=30):
                raise OSError("the grader's warm process did not answer")
            if job not in self.pids:
                raise OSError("the grader's warm process died")
            return job, self.pids.pop(job)

    def exit_code(self, job: int, timeout: float) -> int | None:
        with self.cond:
            self.cond.wait_for(lambda: job in self.exits or self.dead, timeout=timeout)
            return self.exits.pop(job, None)

    def close(self) -> None:
        self.dead = True
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        self.process.wait()


def _kill_group(pid: int) -> None:
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
