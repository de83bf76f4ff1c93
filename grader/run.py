"""Run one submission in a separate, limited process and bring back its Trace.

``Runner`` is the interface the pipeline depends on; ``SubprocessRunner`` starts a fresh Python for each
submission (``grader/_child.py``), hands it its configuration over a private pipe, reads its events over
another, captures stdout and stderr up to a cap, and kills the whole process group when the time is up.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
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


class SubprocessRunner:
    """One fresh ``python`` process per submission."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    def run(self, submission: Submission, spec: Spec, probes: Probes, limits: Limits) -> tr.Trace:
        with tempfile.TemporaryDirectory(prefix="grader-run-") as workdir:
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
            }
            if submission.cells is not None:
                config["cells"] = [
                    {"index": c.index, "number": c.number, "source": c.source, "run": c.run}
                    for c in submission.cells
                ]
            return self._run_child(config, spec, limits, workdir)

    def _run_child(self, config: dict, spec: Spec, limits: Limits, workdir: str) -> tr.Trace:
        config_read, config_write = os.pipe()
        events_read, events_write = os.pipe()
        env = dict(os.environ)
        env.update({"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"})
        argv = [self.python, "-I", "-B", "-c", _BOOTSTRAP.format(path=_package_parent()),
                str(config_read), str(events_write)]
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(config_read, events_write),
                start_new_session=True,
            )
        finally:
            os.close(config_read)
            os.close(events_write)
        try:
            with os.fdopen(config_write, "wb") as handle:
                handle.write(json.dumps(config).encode())
        except BrokenPipeError:
            pass
        # The child stops student code itself at the time limit, then probes; this is the hard stop.
        probe_budget = 2.0 * (len(config["probes"]) + 1) + 5.0
        outcome, lines, out, err = self._collect(process, events_read, limits.time_limit + probe_budget)
        seconds = time.monotonic() - started
        events, notes = tr.parse_events(lines, spec.param_names)
        if outcome is None and not any(e["event"] == "done" for e in events):
            how = _death(process.returncode)
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
            max_steps=int(spec.to_json()["max_steps"]),
        )

    def _collect(self, process: subprocess.Popen, events_fd: int, hard_limit: float):
        out, err, events = Capture(), Capture(), bytearray()
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ, out)
        selector.register(process.stderr, selectors.EVENT_READ, err)
        events_file = os.fdopen(events_fd, "rb", buffering=0)
        selector.register(events_file, selectors.EVENT_READ, events)
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
                        _("the program did not finish within {seconds:g} s and was stopped").format(seconds=hard_limit)
                        if ready else
                        _("the grader could not start within {seconds:g} s").format(seconds=STARTUP_SECONDS),
                    )
                    break
                for key, _ in selector.select(timeout=min(remaining, 0.5)):
                    data = os.read(key.fileobj.fileno(), 65536)
                    if not data:
                        selector.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if key.data is events:
                        if len(events) < 64 * 1024 * 1024:
                            events += data
                        if not ready and b'"event":"ready"' in events:
                            ready = True
                            deadline = time.monotonic() + hard_limit
                    else:
                        key.data.add(data)
        finally:
            selector.close()
            _kill_group(process)
            process.wait()
            for stream in (process.stdout, process.stderr, events_file):
                stream.close()
        return outcome, bytes(events).splitlines(), out, err


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
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
