"""Limits and a Python audit-hook policy for the child process (stdlib only; used by grader/_child.py).

What it does, once torch is imported and just before student code runs:
* resource limits: memory (RLIMIT_DATA, on top of what torch already holds), CPU time, the size of any file
  written, no core dumps;
* an audit hook (PEP 578) that, while student code or a probe of it runs, refuses with PermissionError:
  starting processes (os.system, subprocess, os.fork, os.exec*, posix_spawn, pty), opening sockets,
  loading native code through ctypes, signalling other processes, writing, renaming or deleting files
  outside the submission's scratch folder, and reading files outside that folder and the Python, site
  packages and system data directories (so not another student's submission, nor the solutions).

What it does not do: an audit hook is not a security boundary against code that is determined to break
out in-process (a native extension, or tampering with the interpreter through gc/frames).  It stops the
usual accidents and attempts, and it makes each attempt visible.  See the README's sandbox section.
"""

from __future__ import annotations

import os
import resource
import signal
import site
import sys

def N_(message: str) -> str:
    """Marks a phrase for the catalog (grader/i18n.py); the parent translates it."""
    return message


DENIED_EVENTS = {
    "os.system": N_("run a shell command"),
    "os.exec": N_("start another program"),
    "os.posix_spawn": N_("start another program"),
    "os.spawn": N_("start another program"),
    "os.fork": N_("start a process"),
    "os.forkpty": N_("start a process"),
    "subprocess.Popen": N_("start another program"),
    "pty.spawn": N_("start another program"),
    "socket.__new__": N_("open a network socket"),
    "socket.connect": N_("open a network connection"),
    "socket.bind": N_("open a network socket"),
    "socket.getaddrinfo": N_("reach the network"),
    "socket.gethostbyname": N_("reach the network"),
    "ctypes.dlopen": N_("load native code (ctypes)"),
    "ctypes.dlsym": N_("load native code (ctypes)"),
    "ctypes.call_function": N_("call native code (ctypes)"),
    "_winapi.CreateProcess": N_("start another program"),
}
PATH_EVENTS = {  # event -> indexes of the path arguments
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.replace": (0, 1),
    "os.chmod": (0,), "os.chown": (0,), "os.link": (0, 1), "os.symlink": (0, 1), "os.truncate": (0,),
    "os.utime": (0,), "shutil.rmtree": (0,), "shutil.move": (0, 1), "shutil.copyfile": (1,),
}
# Threads a submission may start, where Python raises an audit event for it (not 3.11).  Everywhere, each
# thread's stack counts against the memory limit, which bounds threads too (RLIMIT_NPROC does not bind root).
MAX_THREADS = 16
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class SandboxViolation(PermissionError):
    """Raised inside student code for what grading does not allow; the report names the attempt.
    ``what`` is a catalog phrase ("start a process"), ``detail`` the path or value involved, if any."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"not allowed while grading: {what}" + (f" ({detail})" if detail else ""))
        self.what, self.detail = what, detail


class Policy:
    def __init__(self, workdir: str, extra_read: tuple[str, ...] = ()) -> None:
        self.workdir = os.path.realpath(workdir)
        roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), *extra_read,
                 "/usr", "/etc", "/dev", "/sys/devices/system/cpu", "/proc/self", f"/proc/{os.getpid()}"}
        try:
            roots.add(site.getusersitepackages())
        except AttributeError:
            pass
        self.read_roots = tuple(sorted({os.path.realpath(r) for r in roots if r}))
        self.active = False
        self.threads = 0
        self.attempts: list[str] = []
        self.pid = os.getpid()

    def inside(self, path: str, roots: tuple[str, ...]) -> bool:
        real = os.path.realpath(path)
        return any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots)

    def deny(self, what: str, detail: str = "") -> None:
        if len(self.attempts) < 50:
            self.attempts.append(what)
        raise SandboxViolation(what, detail)

    def hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            self.check_open(args)
        elif event == "import":
            # A compiled module the submission wrote into its folder would run outside every rule here.
            filename = args[1] if len(args) > 1 else None
            if isinstance(filename, str) and not filename.endswith((".py", ".pyc")) \
                    and self.inside(filename, (self.workdir,)):
                self.deny(N_("load native code (ctypes)"), filename)
        elif event in DENIED_EVENTS:
            self.deny(DENIED_EVENTS[event])
        elif event == "_thread.start_new_thread":
            self.threads += 1
            if self.threads > MAX_THREADS:
                self.deny(N_("start more threads"), str(MAX_THREADS))
        elif event == "os.kill":
            if args and args[0] not in (0, self.pid, os.getpid()):
                self.deny(N_("signal another process"))
        elif event in PATH_EVENTS:
            for i in PATH_EVENTS[event]:
                if i < len(args) and isinstance(args[i], (str, bytes, os.PathLike)):
                    path = os.fsdecode(args[i])
                    if not self.inside(path, (self.workdir,)):
                        self.deny(N_("change files outside its folder"), path)

    def check_open(self, args: tuple) -> None:
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        if path is None or isinstance(path, int):
            return
        path = os.fsdecode(path)
        writing = bool(mode and any(c in str(mode) for c in "wax+")) or bool(
            isinstance(flags, int) and flags & WRITE_FLAGS
        )
        if writing:
            if not (self.inside(path, (self.workdir,)) or path == "/dev/null"):
                self.deny(N_("write outside its folder"), path)
        elif not self.inside(path, (self.workdir,) + self.read_roots):
            self.deny(N_("read a file outside its folder"), path)


def isolate_network() -> bool:
    """Move this process into a network namespace of its own: no interface but a loopback that is down,
    so no connection can leave it, whatever the code does.  Needs root (CAP_SYS_ADMIN); elsewhere the
    audit hook is what stops sockets.  Call before the audit hook is installed (it uses ctypes)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(0x40000000) == 0  # CLONE_NEWNET
    except (OSError, AttributeError):
        return False


def limit_resources(memory_mb: int, cpu_seconds: float, file_mb: int) -> None:
    """Memory on top of what the process already holds (torch), CPU seconds, file size; no core files."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            held = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmData:"))
    except (OSError, StopIteration, ValueError):
        held = 0
    settings = (
        (resource.RLIMIT_DATA, held + memory_mb * 1024 * 1024),
        (resource.RLIMIT_CPU, int(cpu_seconds) + 1),
        (resource.RLIMIT_FSIZE, file_mb * 1024 * 1024),
        (resource.RLIMIT_CORE, 0),
    )
    for kind, value in settings:
        try:
            soft, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(kind, (value, hard if hard != resource.RLIM_INFINITY else value))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with an error, not a kill
