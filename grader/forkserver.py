"""The fast runner (Linux): a warm process that has imported torch and matplotlib once forks a fresh child
per submission (grader/child/zygote.py).  Each child is isolated as a PortableRunner child is (its own
session, working folder, limits, private pipes); only the start-up cost is shared.  The pipes go to the
warm process over an AF_UNIX socket, and a child's whole process group is killed when its time is up."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from grader import protocol
from grader.load import Submission
from grader.run import (STARTUP_SECONDS, _BOOTSTRAP, Handoff, Limits, Probes, Runner, SelectorStreams, _package_parent,
                        child_env, collect, finish_trace, kill_group, make_config, remove_left_behind, scratch_folder,
                        write_config)
from grader import trace as tr
from grader.spec import Spec


class ForkServerRunner(Runner):
    """A warm process that has imported torch and matplotlib once forks a fresh child per submission.

    Each child is isolated as a ``SubprocessRunner`` child is (its own session, working folder, limits,
    private pipes); only the start-up cost is shared.  Thread-safe: a batch runs several jobs at once.
    If the warm process dies (a child may try to kill it), the next job starts a new one."""

    def __init__(self, python: str = sys.executable) -> None:
        super().__init__()
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
        with scratch_folder() as workdir:
            config = make_config(submission, spec, probes, limits, workdir)
            started = time.monotonic()
            zygote = self._zygote()
            config_read, config_write = os.pipe()
            out_read, out_write = os.pipe()
            err_read, err_write = os.pipe()
            events_read, events_write = os.pipe()
            probes_read, probes_write = os.pipe()
            try:
                job, pid = zygote.fork((config_read, out_write, err_write, events_write, probes_read))
            except OSError:
                for fd in (config_write, out_read, err_read, events_read, probes_write):
                    os.close(fd)
                raise
            finally:
                for fd in (config_read, out_write, err_write, events_write, probes_read):
                    os.close(fd)
            write_config(config_write, config)
            self._started(pid, functools.partial(kill_group, pid))
            handoff = Handoff(probes_write, submission, spec, probes)
            try:
                streams = SelectorStreams({"out": out_read, "err": err_read, "events": events_read})
                collected = collect(streams, config, lambda: kill_group(pid), handoff)
            finally:
                self._ended(pid)
            returncode = zygote.exit_code(job, timeout=5.0)
            return finish_trace(spec, submission, collected, time.monotonic() - started, returncode, handoff)

    def close(self) -> None:
        with self.lock:
            if self.server is not None:
                self.server.close()
                self.server = None
        remove_left_behind()


class _Zygote:
    """The parent's end of the warm process: asks it for children, hears their pids and exit codes."""

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
            ready = self._message(self.sock.recv(4096))
        except OSError:
            ready = None
        if not isinstance(ready, protocol.ServerReady):
            self.close()
            raise OSError("the grader's warm process did not start")
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @staticmethod
    def _message(data: bytes):
        if not data:
            return None
        try:
            return protocol.decode_message(data)
        except protocol.ProtocolError:
            return None

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.dead = True
                    self.cond.notify_all()
                    return
                message = self._message(data)
                if isinstance(message, protocol.Forked):
                    self.pids[message.job] = message.pid
                elif isinstance(message, protocol.Exited):
                    self.exits[message.job] = message.code
                self.cond.notify_all()

    def alive(self) -> bool:
        return not self.dead and self.process.poll() is None

    def fork(self, fds: tuple[int, ...]) -> tuple[int, int]:
        with self.cond:
            self.next_job += 1
            job = self.next_job
        with self.send_lock:
            socket.send_fds(self.sock, [protocol.encode_message(protocol.ForkRequest(job))], list(fds))
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
