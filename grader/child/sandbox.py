"""Limits, a jail and an audit-hook policy for the child process (stdlib only; used by grader/child/main.py).

What it does, once torch is imported and just before student code runs:
* resource limits: memory (RLIMIT_DATA, on top of what torch already holds), CPU time, the size of any file
  written, no core dumps;
* on Linux as root: a network namespace with no way out, and a jail (``jail``): a file system of its own
  holding Python, its packages and the scratch folder (the only writable place), a user of its own, at most
  JAIL_PROCESSES threads and processes.  These the kernel enforces, whatever the code does;
* an audit hook (PEP 578), active from the moment student code starts, that refuses with PermissionError:
  starting processes (os.system, subprocess, os.fork, os.exec*, posix_spawn, pty), opening sockets,
  loading native code through ctypes, signalling other processes, writing, renaming or deleting files
  outside the submission's scratch folder, reading files outside that folder and the Python, site
  packages and system data directories, and the ways to reach the grader's own objects (gc, other
  threads' frames, trace and profile functions, and any frame at all while the observer runs).

The hook is built so that student code cannot switch it off or fool it by changing this module, builtins or
os.path (see make_hook).  It remains a tripwire, not a wall: a file swapped by a second thread between its
check and the open gets past it, and so does native code.  Where the jail applies, the kernel is the wall
for files; see the README's sandbox section.
"""

from __future__ import annotations

import functools
import os
import signal
import site
import sys
import threading
import types

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
    "os.posix_spawnp": N_("start another program"),
    "_posixsubprocess.fork_exec": N_("start another program"),
    "os.mkfifo": N_("make a special file"),
    "os.mknod": N_("make a special file"),
    "os.pidfd_open": N_("signal another process"),
    "signal.pidfd_send_signal": N_("signal another process"),
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
    # Every other ctypes event (cdata, addressof, string_at...) is refused too: see make_hook.
    "os.setxattr": N_("change files outside its folder"),
    "os.removexattr": N_("change files outside its folder"),
    "_winapi.CreateProcess": N_("start another program"),
    # Ways to reach the grader's own objects in this process (and forge what it reports).
    "gc.get_objects": N_("look inside the grader"),
    "gc.get_referrers": N_("look inside the grader"),
    "gc.get_referents": N_("look inside the grader"),
    "sys._current_frames": N_("look inside the grader"),
    "sys.settrace": N_("look inside the grader"),
    "sys.setprofile": N_("look inside the grader"),
}
PATH_EVENTS = {  # event -> indexes of the path arguments
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.replace": (0, 1),
    "os.chmod": (0,), "os.chown": (0,), "os.link": (0, 1), "os.symlink": (0, 1), "os.truncate": (0,),
    "os.utime": (0,), "shutil.rmtree": (0,), "shutil.move": (0, 1), "shutil.copyfile": (1,),
}
# Threads a submission may start, where Python raises an audit event for it (not 3.11).  In the jail the
# kernel bounds threads and processes (JAIL_PROCESSES); elsewhere each thread's stack counts against the
# memory limit, which bounds threads too.
MAX_THREADS = 16
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class SandboxViolation(PermissionError):
    """Raised inside student code for what grading does not allow; the report names the attempt.
    ``what`` is a catalog phrase ("start a process"), ``detail`` the path or value involved, if any."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"not allowed while grading: {what}" + (f" ({detail})" if detail else ""))
        self.what, self.detail = what, detail


def read_roots(extra_read: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The folders student code may read besides its own: Python's, its packages', the system's data, and
    this process's own entry in /proc."""
    return tuple(sorted({*system_roots(extra_read), os.path.realpath(f"/proc/{os.getpid()}")}))


@functools.lru_cache(maxsize=None)
def system_roots(extra_read: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The part of ``read_roots`` that is the same for every process (a warm process computes it once)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), *extra_read,
             "/usr", "/etc", "/dev", "/sys/devices/system/cpu", "/proc/cpuinfo"}  # torch learns the CPU there
    try:
        roots.add(site.getusersitepackages())
    except AttributeError:
        pass
    return tuple(sorted({os.path.realpath(r) for r in roots if r}))


class Control:
    """The grader's side of the audit hook: switch it on, mark the thread the observer runs in, read what
    was refused.  Only the grader holds this object."""

    def __init__(self, activate, observing, attempts) -> None:
        self.activate, self.observing, self.attempts = activate, observing, attempts


def make_hook(workdir: str, roots: tuple[str, ...]):
    """The audit hook, and its Control.

    The hook is one closure that calls no Python function and reads no global: its rules, and the builtins
    and C functions it uses, are values bound when it was made; it resolves paths itself (lstat, readlink).
    So replacing anything in ``grader.child.sandbox``, ``builtins``, ``os`` or ``os.path`` cannot switch a rule
    off or fool one, and student code that sees the hook's frame (from a ``__fspath__`` it calls, a signal
    handler) finds only immutable values.  What it cannot see: a file swapped between its check and the
    open by a second thread (the jail is the wall for files)."""
    # On Windows paths are resolved by a Python function (a tripwire only there, as the reports say); here the
    # hook resolves them itself with C functions, so no function student code could change is called.
    windows = _windows_resolver() if os.name == "nt" else None
    sep, null = os.sep, os.devnull
    workdir = windows(workdir) if windows else os.path.realpath(workdir)
    roots = tuple(windows(r) for r in roots) if windows else tuple(roots)
    own = (workdir,)
    readable = own + roots
    pid = os.getpid()
    denied = types.MappingProxyType(dict(DENIED_EVENTS))
    path_events = types.MappingProxyType(dict(PATH_EVENTS))
    write_flags = WRITE_FLAGS
    max_threads = MAX_THREADS
    violation = SandboxViolation
    fspath, getpid, getcwd, lstat = os.fspath, os.getpid, os.getcwd, os.lstat  # C functions, bound now
    readlink = getattr(os, "readlink", None)
    get_ident, encoding, os_error = threading.get_ident, sys.getfilesystemencoding(), OSError
    file_type, symlink = 0o170000, 0o120000
    pathlike = (str, bytes, os.PathLike)
    is_instance, length, to_str, to_tuple, to_bool, any_, int_ = isinstance, len, str, tuple, bool, any, int
    phrases = (N_("start more threads"), N_("load native code (ctypes)"), N_("signal another process"),
               N_("change files outside its folder"), N_("write outside its folder"),
               N_("read a file outside its folder"), N_("reach the process's memory (ctypes)"),
               N_("open a folder outside its folder"))
    directory = 0o040000
    frame_events = frozenset({"sys._getframe", "object.__getattr__"})
    code_attributes = frozenset({"__code__", "__defaults__"})
    # Every event a rule below looks at; the others (builtins.id, by far the most frequent, and the frame
    # events outside the observer's thread) leave at once.
    watched = frame_events | frozenset(denied) | frozenset(path_events) | frozenset(
        {"_thread.start_new_thread", "open", "import", "os.kill", "os.killpg", "sqlite3.connect", "os.listdir",
         "os.scandir"})
    active, observing_thread, attempts, threads = False, None, (), 0

    def hook(event: str, args: tuple) -> None:
        nonlocal attempts, threads
        if not active or (event not in watched and not event.startswith("ctypes.")):
            return
        refusal = None
        checks = ()  # (path, where, phrase, whether it must be inside where or outside it)
        folders_outside = False  # an open of a folder outside the scratch folder (a base for dir_fd) is refused
        if event in frame_events:
            if get_ident() != observing_thread:
                return
            if event == "object.__getattr__" and length(args) > 1 and args[1] in code_attributes:
                return  # the observer describes the student's functions; a function's code leads to no frame
            # Nothing else the observer does asks for a frame; code that does while it runs (a student
            # finalizer its work set off) would find the observer's frames.
            refusal = (denied["sys._current_frames"], "")
        elif event in denied:
            refusal = (denied[event], "")
        elif event.startswith("ctypes."):  # reading or writing memory at an address: the observer's too
            refusal = (phrases[6], "")
        elif event == "_thread.start_new_thread":
            threads += 1
            if threads > max_threads:
                refusal = (phrases[0], to_str(max_threads))
        elif event == "open":
            path, mode, flags = (to_tuple(args) + (None, None, None))[:3]
            if path is not None and not is_instance(path, int_):
                writing = to_bool(mode and any_(c in to_str(mode) for c in "wax+")) or to_bool(
                    is_instance(flags, int_) and flags & write_flags)
                if writing:
                    checks = ((path, own, phrases[4], True),)
                else:
                    checks = ((path, readable, phrases[5], True),)
                    folders_outside = True
        elif event == "import":
            # A compiled module the submission wrote into its folder would run outside every rule here.
            filename = args[1] if length(args) > 1 else None
            if is_instance(filename, to_str) and not filename.endswith((".py", ".pyc")):
                checks = ((filename, own, phrases[1], False),)
        elif event == "os.kill" or event == "os.killpg":  # its own process, or its own group
            if args and args[0] not in (0, pid, getpid()):
                refusal = (phrases[2], "")
        elif event == "sqlite3.connect":  # a database is a file it writes
            name = args[0] if args else None
            if is_instance(name, pathlike) and fspath(name) not in (":memory:", b":memory:", ""):
                checks = ((name, own, phrases[4], True),)
        elif event == "os.listdir" or event == "os.scandir":
            if args and is_instance(args[0], pathlike):
                checks = ((args[0], readable, phrases[5], True),)
        elif event in path_events:
            checks = to_tuple((args[i], own, phrases[3], True) for i in path_events[event]
                              if i < length(args) and is_instance(args[i], pathlike))
        for path, where, phrase, inside in checks:
            path = fspath(path)
            if is_instance(path, bytes):
                path = path.decode(encoding, "surrogateescape")
            if path == null:
                continue
            if windows is not None:
                real = windows(path)
            else:  # the real path, resolved here with lstat and readlink (os.path.realpath could be changed)
                todo = ((path if path.startswith("/") else getcwd() + "/" + path).split("/"))[::-1]
                real, hops = "", 0
                while todo:
                    part = todo.pop()
                    if part == "" or part == ".":
                        continue
                    if part == "..":
                        real = real.rpartition("/")[0]
                        continue
                    candidate = real + "/" + part
                    try:
                        mode = lstat(candidate).st_mode
                    except os_error:
                        mode = 0
                    if mode & file_type == symlink and hops < 40:
                        hops += 1
                        try:
                            target = readlink(candidate)
                        except os_error:
                            real = candidate
                            continue
                        if target.startswith("/"):
                            real = ""
                        todo.extend(target.split("/")[::-1])
                        continue
                    real = candidate
                real = real or "/"
            within = any_(real == root or real.startswith(root.rstrip(sep) + sep) for root in where)
            if within != inside:
                refusal = (phrase, path)
                break
            if folders_outside and not any_(real == root or real.startswith(root + sep) for root in own):
                try:
                    is_folder = lstat(real).st_mode & file_type == directory
                except os_error:
                    is_folder = False
                if is_folder:
                    refusal = (phrases[7], path)
                    break
        if refusal is not None:
            if length(attempts) < 50:
                attempts = attempts + (refusal[0],)
            raise violation(*refusal)

    def activate() -> None:
        nonlocal active
        active = True

    def observing(on: bool) -> None:
        nonlocal observing_thread
        observing_thread = get_ident() if on else None

    def refused() -> tuple[str, ...]:
        return attempts

    return hook, Control(activate, observing, refused)


def _windows_resolver(getcwd=None, final_path=None):
    """The audit hook's path resolution on Windows: the longest existing head of the path resolved by the
    system (``nt._getfinalpathname`` follows links and junctions), the rest appended, all in one case.  A
    tripwire only (ntpath is Python code student code could change); Linux's walls are not on Windows, and
    the reports say so.  ``getcwd`` and ``final_path`` stand in for nt's in tests."""
    import ntpath

    if getcwd is None:
        import nt

        getcwd, final_path = nt.getcwd, nt._getfinalpathname
    isabs, join, normpath, normcase, split, os_error = (
        ntpath.isabs, ntpath.join, ntpath.normpath, ntpath.normcase, ntpath.split, OSError)

    def resolve(path: str) -> str:
        head, rest = normpath(path if isabs(path) else join(getcwd(), path)), []
        while True:
            try:
                real = final_path(head)
                break
            except (os_error, ValueError):
                head, part = split(head)
                if not part:
                    real = head
                    break
                rest.append(part)
        if real.startswith("\\\\?\\UNC\\"):
            real = "\\\\" + real[8:]
        elif real.startswith("\\\\?\\"):
            real = real[4:]
        return normcase(join(real, *reversed(rest)))

    return resolve


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


# -- the jail: a file system of its own, and a user of its own (Linux; with root, or a user namespace) -----

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
PR_SET_NO_NEW_PRIVS = 38
JAIL_UID_BASE = 1_500_000_000  # + the child's pid: a user no file and no other process belongs to
JAIL_PROCESSES = 32  # threads and processes that user may have at once (RLIMIT_NPROC counts both)
DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/etc",
          "/proc/cpuinfo", "/sys/devices/system/cpu")  # torch reads these two to learn the CPU


class JailError(OSError):
    """The jail could not be built; the child stops rather than run student code half-isolated."""


def _user_namespace(libc) -> bool:
    """Without root: a user namespace of this process's own, in which it is root (and so may build the
    jail), with a mount and a network namespace owned by it.  False where the kernel does not allow it
    (unprivileged user namespaces off, a thread already running, a container's seccomp profile)."""
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0:
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w", encoding="ascii") as handle:
            handle.write(text)
    return True


def _drop_capabilities(libc) -> None:
    """No capability left (a user namespace's root holds them all inside it): capset with empty sets."""
    import ctypes

    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable, twice (64 capabilities)
    if libc.capset(header, data) != 0:
        raise JailError(ctypes.get_errno(), "dropping capabilities")


def jail(workdir: str, readable: tuple[str, ...], disk_mb: int = 64) -> tuple[str, ...]:
    """Confine this process for good: a private mount namespace whose root is an empty read-only tmpfs
    holding read-only binds of ``readable`` (Python, its packages, the grader) and of a few system
    folders, and at ``workdir`` a writable tmpfs of ``disk_mb`` holding what the folder held (the
    submission).  As root, it then becomes a user of its own (no file on the machine is its own, other
    processes are out of reach), limited to JAIL_PROCESSES threads and processes, with no way back to root;
    without root, it builds the same in a user namespace of its own (with a network namespace too) and then
    drops every capability.  Returns the layers in place: ("filesystem", "user") as root, ("filesystem",
    "network") without, () where neither is possible (not Linux; no namespace may be made here).
    Raises JailError when isolation was possible but failed.  Call before the audit hook (uses ctypes)."""
    if not sys.platform.startswith("linux"):
        return ()
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)

    def mount(source, target, fstype, flags, data=None) -> None:
        args = [None if a is None else os.fsencode(a) for a in (source, target, fstype)]
        if libc.mount(args[0], args[1], args[2], flags, None if data is None else data.encode()) != 0:
            errno = ctypes.get_errno()
            raise JailError(errno, f"mount {source} on {target}: {os.strerror(errno)}")

    workdir = os.path.realpath(workdir)
    as_root = os.geteuid() == 0 and libc.unshare(CLONE_NEWNS) == 0  # not so in a container without CAP_SYS_ADMIN
    if not as_root and not _user_namespace(libc):
        return ()
    uid = JAIL_UID_BASE + os.getpid() if as_root else 0  # 0: root of its own user namespace, itself outside
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # What goes in, opened now: once the new root covers /tmp, these paths may no longer resolve.
    wanted = sorted({os.path.realpath(p) for p in (*readable, *SYSTEM, *DEVICES) if p and os.path.lexists(p)})
    wanted = [p for p in wanted if not any(p.startswith(q.rstrip("/") + "/") for q in wanted if q != p)]
    links = {p: os.readlink(p) for p in (*SYSTEM,) if os.path.islink(p)}  # /lib -> usr/lib on merged /usr
    opened: list[tuple[str, int]] = []
    # The scratch folder's files (the parent wrote the submission there), to copy into the jail's own.
    scratch = {}
    for name in os.listdir(workdir):
        with open(os.path.join(workdir, name), "rb") as handle:
            scratch[name] = handle.read()
    try:
        for path in wanted:
            opened.append((path, os.open(path, os.O_PATH | os.O_CLOEXEC)))
        new_root = "/tmp"  # any folder will do: in this namespace alone, a tmpfs now covers it
        mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
        for path, fd in opened:
            target = new_root + path
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(target, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
                open(target, "wb").close()
            flags = MS_NOSUID | (0 if path in DEVICES else MS_NODEV) | MS_RDONLY
            mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            mount(None, target, None, MS_BIND | MS_REMOUNT | flags)
        # The only writable place: bounded in size, and nothing in it may be executed or mapped as code (a
        # compiled module written there would be native code outside every rule).
        os.makedirs(new_root + workdir, mode=0o755, exist_ok=True)
        mount("tmpfs", new_root + workdir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              f"size={disk_mb}m,mode=700,uid={uid},gid={uid}")
        for name, data in scratch.items():
            target = os.path.join(new_root + workdir, name)
            with open(target, "wb") as handle:
                handle.write(data)
            os.chown(target, uid, uid)
        for path, target in links.items():
            if not os.path.lexists(new_root + path):
                os.symlink(target, new_root + path)
        mount(None, new_root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.chdir(new_root)
        os.chroot(".")
    finally:
        for _, fd in opened:  # an open folder outside the new root would be a way out of it
            os.close(fd)
    os.chdir(workdir)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if not as_root:
        _drop_capabilities(libc)
        return ("filesystem", "network")
    try:
        limit_processes()
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise JailError(exc.errno, f"changing user: {exc}") from exc
    return ("filesystem", "user")


def limit_processes() -> None:
    """At most JAIL_PROCESSES threads and processes for the jail's user (no limit without ``resource``:
    seccomp refuses new processes anyway)."""
    try:
        import resource
    except ImportError:
        return
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    most = JAIL_PROCESSES if hard == resource.RLIM_INFINITY else min(JAIL_PROCESSES, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (most, most))


def limit_resources(memory_mb: int, cpu_seconds: float, file_mb: int) -> bool:
    """Memory on top of what the process already holds (torch), CPU seconds, file size; no core files.
    False where the system has no such limits (Windows: there the parent puts the child in a job object)."""
    try:
        import resource
    except ImportError:
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            held = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmData:"))
    except (OSError, StopIteration, ValueError):  # no /proc (macOS): the peak resident size, in bytes there
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        held = peak if sys.platform == "darwin" else peak * 1024
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
    return True
