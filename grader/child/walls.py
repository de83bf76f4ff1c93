"""Walls the kernel enforces around the child, for any user: Landlock and a seccomp filter (Linux).

Applied by the child once everything the grader needs is open and loaded, just before student code runs;
they hold for good, whatever the code does next (native code included), and they need no root:

* **Landlock** (Linux 5.13+): the child may read only the folders it was given (Python, its packages, the
  grader), write only its scratch folder, execute nothing; no TCP connection or port (ABI 4+); no signal to
  a process outside its own domain and no abstract Unix socket of another (ABI 6+).  Written here with
  ctypes: the binding on PyPI (``landlock`` 1.0.0.dev5) is a development release that knows file rules
  only, and the kit needs the network rules and the scopes too.  Three system calls, with numbers that
  are the same on every architecture.
* **seccomp** (libseccomp through ``pyseccomp``, a maintained ctypes binding with the API of libseccomp's
  own Python module, so no compiler is needed): no program started (execve), no process made (fork,
  vfork, clone without CLONE_THREAD; clone3 answers ENOSYS so that the C library falls back to clone), no
  other process traced, read, written or signalled (ptrace, process_vm_*, pidfd_*, kill and tgkill to
  another pid), no device or FIFO made (mknod), no mount, namespace or root change, no socket but a Unix
  one, and none of the usual ways around a sandbox (bpf, perf_event_open, userfaultfd, io_uring, keys,
  handles, extended attributes).  Each refused call fails with EPERM: the program gets a PermissionError.

``apply`` returns the walls that are in place, for the report; a wall the system cannot offer is left out,
never pretended.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys

try:  # now, while programs may still run: finding libseccomp asks ldconfig, which Landlock then forbids
    import pyseccomp as _seccomp
except (ImportError, OSError, RuntimeError):  # not installed, or no libseccomp on this system
    _seccomp = None

# -- Landlock --------------------------------------------------------------------------------------------

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

# File access rights, and the ABI that introduced each.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}  # 5 and on: all 16
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = READ_FILE | READ_DIR
WRITE = (WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM | REFER | TRUNCATE)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The Landlock ABI this kernel offers (0: none, or not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    except (OSError, AttributeError):
        return 0
    return max(version, 0)


def landlock(read: tuple[str, ...], write: tuple[str, ...], devices: tuple[str, ...] = ()) -> int:
    """Restrict this process for good: read (files, folder listings) only beneath ``read``, write only
    beneath ``write`` (and to ``devices``, such as /dev/null), execute nothing; no TCP; no signal or
    abstract socket outside this process.  Returns the ABI used (0: Landlock is not there, nothing done).
    Paths that do not exist are skipped."""
    abi = landlock_abi()
    if abi < 1:
        return 0
    libc = _libc()
    handled = FS_BY_ABI.get(abi, (1 << 16) - 1)
    attr = _RulesetAttr(handled, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        rules = [(p, READ) for p in read] + [(p, READ | WRITE) for p in write] + [(p, READ_FILE | WRITE_FILE)
                                                                                   for p in devices]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= READ_FILE | WRITE_FILE | TRUNCATE  # a file takes file rights only
                rule = _PathBeneath(access & handled, fd)
                if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(fd)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return abi


# -- seccomp ---------------------------------------------------------------------------------------------

CLONE_THREAD = 0x00010000
AF_UNIX = 1
REFUSED = (
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open",
    "pidfd_send_signal", "pidfd_getfd", "tkill", "mknod", "mknodat", "mount", "umount2", "mount_setattr",
    "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "unshare", "setns", "pivot_root",
    "chroot", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "name_to_handle_at", "open_by_handle_at", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "acct", "swapon", "swapoff", "reboot", "syslog", "iopl",
    "ioperm", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "quotactl",
    "process_madvise", "kcmp", "lookup_dcookie", "personality", "vhangup",
)
SIGNALS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")  # first argument: the target process


_PREPARED: list = []  # a filter with every rule but those about this process's own pid (see prepare)


def prepare_seccomp():
    """The filter's rules that do not depend on the process (most of the cost: some 70 system calls looked
    up by name), ready for ``seccomp`` to finish: a warm process prepares it once, and each child it forks
    inherits a copy of it."""
    sc = _seccomp
    if sc is None or not sys.platform.startswith("linux"):
        return None
    refuse = sc.ERRNO(errno.EPERM)
    rules = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in REFUSED:
        try:
            rules.add_rule(refuse, name)
        except (OSError, ValueError, RuntimeError):  # not a system call of this architecture
            continue
    rules.add_rule(refuse, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))  # a process, not a thread
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # its flags cannot be read: the C library falls back to clone
    rules.add_rule(refuse, "socket", sc.Arg(0, sc.NE, AF_UNIX))
    rules.add_rule(refuse, "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    _PREPARED[:] = [rules]
    return rules


def seccomp(pid: int) -> bool:
    """Install the filter for this process (and its threads to come); True when it is in place."""
    sc = _seccomp
    if not _PREPARED and prepare_seccomp() is None:
        return False
    rules = _PREPARED.pop()
    refuse = sc.ERRNO(errno.EPERM)
    for name in SIGNALS:  # only to itself (0, negative and other pids: another process or a group)
        rules.add_rule(refuse, name, sc.Arg(0, sc.GT, pid))
        rules.add_rule(refuse, name, sc.Arg(0, sc.LT, pid))
    rules.load()
    return True


# -- what this system offers -------------------------------------------------------------------------------


def survey(jail: bool = True, walls: bool = True) -> list[str]:
    """The walls a child would get here, tried in a throw-away process (a namespace, once made, is for
    good): "filesystem" (a jail: as root, or in a user namespace), "user" (as root), "network",
    "landlock", "seccomp"; "limits" where the system has resource limits.  ``jail``/``walls``: whether the
    grader is set to use them at all."""
    found = []
    try:
        import resource  # noqa: F401 - POSIX only: Windows has none (the parent uses a job object there)

        found.append("limits")
    except ImportError:
        pass
    if walls and landlock_abi() >= 1:
        found.append("landlock")
    if walls and _seccomp is not None and sys.platform.startswith("linux"):
        found.append("seccomp")
    if not jail or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return found
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the trial: make the namespaces the jail would make, say which, leave
        os.close(read)
        libc, layers = _libc(), b""
        try:
            if os.geteuid() == 0 and libc.unshare(0x00020000) == 0:  # CLONE_NEWNS
                layers = b"filesystem user" + (b" network" if libc.unshare(0x40000000) == 0 else b"")
            elif libc.unshare(0x10000000 | 0x00020000 | 0x40000000) == 0:  # user, mount, network
                layers = b"filesystem network"
            os.write(write, layers)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        said = handle.read().decode().split()
    os.waitpid(pid, 0)
    return found + said
