"""The portable runner: a fresh Python for each submission, on Linux, macOS and Windows alike.

The child, its observation, the probes and the checks are the same everywhere; what differs from system
to system is kept here, in three small parts:

* ``hand_over``: the child inherits its private pipes (its configuration, its events, the calls to make
  after the run) by number on POSIX (``pass_fds``), as handles on Windows (listed in STARTUPINFO's handle
  list, and turned back into descriptors by the child: grader/child/main.py ``descriptor``);
* ``Tree``: the child and whatever it starts, killed together: its own session and ``killpg`` where the
  system has them; on Windows a job object (with pywin32, which Anaconda ships), which also bounds its
  memory once torch is loaded, else the child alone;
* its pipes are read by threads (run.py ``ThreadStreams``): Windows cannot select on pipes.

The wall-clock limit is the parent's (run.py ``collect``).  The walls the child builds (jail, Landlock,
seccomp, resource limits) are the child's own doing, so on Linux a portable child has them too; on macOS
and Windows it has what the system offers, and the reports say which (run.py ``survey_walls``).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from dataclasses import replace

from grader import trace as tr
from grader.load import Submission
from grader.run import (_BOOTSTRAP, Handoff, Limits, Probes, Runner, ThreadStreams, _package_parent, child_env,
                        collect, finish_trace, kill_group, make_config, scratch_folder, write_config)
from grader.spec import Spec


def hand_over(fds: tuple[int, ...]) -> tuple[dict, list[str]]:
    """How the child inherits the pipe ends ``fds``: Popen's options, and the arguments naming them."""
    if os.name != "nt":
        return {"pass_fds": tuple(fds)}, [str(fd) for fd in fds]
    import msvcrt

    handles = [msvcrt.get_osfhandle(fd) for fd in fds]
    for handle in handles:
        os.set_handle_inheritable(handle, True)  # only the handles listed below reach the child
    info = subprocess.STARTUPINFO(lpAttributeList={"handle_list": handles})
    return {"startupinfo": info, "close_fds": True}, [f"handle:{handle}" for handle in handles]


@functools.lru_cache(maxsize=None)
def job_objects() -> bool:
    """Whether this Windows Python can put a child in a job object (pywin32 is installed)."""
    try:
        import win32job  # noqa: F401
    except ImportError:
        return False
    return True


class WindowsJob:
    """A job object around the child: everything in it dies when it is killed (or when the grader goes), and
    its memory can be bounded (``limit_memory``).  pywin32 is a maintained wrapper of these calls, where
    ctypes would mean restating Windows' structures by hand."""

    def __init__(self, process: subprocess.Popen) -> None:
        import win32api
        import win32con
        import win32job

        self.api = win32job
        self.job = win32job.CreateJobObject(None, "")
        self.handle = win32api.OpenProcess(
            win32con.PROCESS_SET_QUOTA | win32con.PROCESS_TERMINATE | win32con.PROCESS_QUERY_INFORMATION,
            False, process.pid)
        self._limit(win32job.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE)
        win32job.AssignProcessToJobObject(self.job, self.handle)

    def _limit(self, flags: int, memory: int | None = None) -> None:
        kind = self.api.JobObjectExtendedLimitInformation
        info = self.api.QueryInformationJobObject(self.job, kind)
        info["BasicLimitInformation"]["LimitFlags"] |= flags
        if memory is not None:
            info["ProcessMemoryLimit"] = memory
        self.api.SetInformationJobObject(self.job, kind, info)

    def limit_memory(self, memory_mb: int) -> bool:
        """Bound the child's memory to what it holds now (torch loaded) plus ``memory_mb``."""
        import win32process

        try:
            held = win32process.GetProcessMemoryInfo(self.handle)["PagefileUsage"]
            self._limit(self.api.JOB_OBJECT_LIMIT_PROCESS_MEMORY, held + memory_mb * 1024 * 1024)
        except Exception:  # noqa: BLE001 - pywintypes.error: the run goes on without the limit, and says so
            return False
        return True

    def kill(self) -> None:
        try:
            self.api.TerminateJobObject(self.job, 1)
        except Exception:  # noqa: BLE001 - already gone
            pass


class Tree:
    """The child and whatever it starts, to be killed together."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.job = None
        if os.name == "nt" and job_objects():
            try:
                self.job = WindowsJob(process)
            except Exception:  # noqa: BLE001 - pywintypes.error: killed alone, and no memory limit (reports say)
                self.job = None
        self.limited = False  # whether the parent bounded its memory (Windows)

    @staticmethod
    def options() -> dict:
        """Popen's options for a child that can be killed with what it starts."""
        if hasattr(os, "killpg"):
            return {"start_new_session": True}
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}

    def limit_memory(self, memory_mb: int) -> None:
        if self.job is not None:
            self.limited = self.job.limit_memory(memory_mb)

    def kill(self) -> None:
        if self.job is not None:
            self.job.kill()
        elif hasattr(os, "killpg"):
            kill_group(self.process.pid)
        else:
            try:
                self.process.kill()
            except OSError:
                pass
        self.process.wait()


class PortableRunner(Runner):
    """One fresh ``python`` process per submission, on any system: what a single ``grader check file.py``
    uses, and every grading where the fork server cannot run."""

    def __init__(self, python: str = sys.executable) -> None:
        super().__init__()
        self.python = python

    def run(self, submission: Submission, spec: Spec, probes: Probes, limits: Limits) -> tr.Trace:
        with scratch_folder() as workdir:
            config = make_config(submission, spec, probes, limits, workdir)
            config_read, config_write = os.pipe()
            events_read, events_write = os.pipe()
            probes_read, probes_write = os.pipe()
            inherit, names = hand_over((config_read, events_write, probes_read))
            argv = [self.python, "-I", "-B", "-c", _BOOTSTRAP.format(path=_package_parent()), *names]
            started = time.monotonic()
            try:
                process = subprocess.Popen(
                    argv, cwd=workdir, env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, **inherit, **Tree.options())
            except OSError:
                for fd in (config_write, events_read, probes_write):
                    os.close(fd)
                raise
            finally:
                for fd in (config_read, events_write, probes_read):
                    os.close(fd)
            tree = Tree(process)
            write_config(config_write, config)
            self._started(tree, tree.kill)
            handoff = Handoff(probes_write, submission, spec, probes)
            streams = ThreadStreams({"out": os.dup(process.stdout.fileno()), "err": os.dup(process.stderr.fileno()),
                                     "events": events_read})
            try:
                collected = collect(streams, config, tree.kill, handoff,
                                    on_ready=functools.partial(tree.limit_memory, config.memory_mb))
            finally:
                self._ended(tree)
            process.stdout.close()
            process.stderr.close()
            trace = finish_trace(spec, submission, collected, time.monotonic() - started, process.returncode, handoff)
            if tree.limited and "limits" not in trace.isolation:
                trace = replace(trace, isolation=("limits", *trace.isolation))
            return trace
