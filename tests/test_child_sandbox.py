"""grader/child/sandbox.py: the kernel's layers (the network namespace, the jail) hold on their own, and
every hostile program was graded in the jail where this machine allows one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cases import ROOT


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="the jail needs Linux and root")
def test_every_child_was_jailed(hostile) -> None:
    _, reports, _, _ = hostile
    for name, report in reports.items():
        assert {"limits", "audit", "network", "filesystem", "user", "landlock", "seccomp"} <= set(
            report["run"]["isolation"]), name
    listing = reports["list_named_folder"]
    assert "alice.py" not in listing["stdout"]
    assert "outside its folder" in listing["error"] or "FileNotFoundError" in listing["error"]  # refused, or hidden


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace needs root")
def test_network_namespace_leaves_no_way_out() -> None:
    code = (
        "import socket, sys\n"
        "from grader.child.sandbox import isolate_network\n"
        "assert isolate_network()\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=2)\n"
        "except OSError as exc:\n"
        "    sys.exit(0 if exc.errno == 101 else 3)  # unreachable: no interface is up; refused would mean no isolation\n"
        "sys.exit(4)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


JAILED = '''
import os, sys, threading, time
from grader.child.sandbox import jail
work, secret = sys.argv[1], sys.argv[2]
layers = jail(work, (sys.prefix, sys.base_prefix), disk_mb=2)
assert layers == ("filesystem", "user") and os.getuid() >= 1_500_000_000 and os.geteuid() == os.getuid(), "still root"
assert os.getcwd() == os.path.realpath(work)
assert open("given.txt").read() == "the submission", "what the folder held is not there"
with open("mine.txt", "w") as handle:  # its own folder is writable
    handle.write("ok")
assert open("mine.txt").read() == "ok"
try:  # but only so much
    with open("big.bin", "wb") as handle:
        handle.write(b"x" * 3 * 1024 * 1024)
except OSError as exc:
    assert exc.errno == 28, exc  # no space left on device
else:
    raise AssertionError("3 MB fitted into a folder of 2")
assert os.statvfs(".").f_flag & os.ST_NOEXEC, "code could be run from the scratch folder"
assert not os.path.exists(secret), "a file outside the jail is visible"
for attempt in (lambda: open(os.path.join(sys.prefix, "planted.py"), "w"),
                lambda: os.setuid(0), lambda: os.chroot("/"), lambda: os.kill(os.getppid(), 0)):
    try:
        attempt()
    except OSError:
        pass
    else:
        raise AssertionError("the kernel allowed it")
threads = 0
try:
    for _ in range(200):
        threading.Thread(target=time.sleep, args=(3,), daemon=True).start()
        threads += 1
except RuntimeError:
    pass
assert threads < 40, threads
print("jailed", threads)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="the jail needs Linux and root")
def test_jail_holds_without_the_audit_hook(tmp_path) -> None:
    """The kernel layer alone (no audit hook installed): another user, a file system of its own, its own
    folder writable and bounded in size and nothing else, a bounded number of threads, no way back to root."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "given.txt").write_text("the submission")
    secret = tmp_path / "other_student.py"
    secret.write_text("SECRET = 1\n")
    done = subprocess.run([sys.executable, "-c", JAILED, str(work), str(secret)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("jailed")
    assert not (work / "mine.txt").exists()  # what it wrote stayed in its own file system


def test_every_folder_imports_come_from_is_readable_but_the_checkout(monkeypatch, tmp_path) -> None:
    """Packages found through a .pth file live outside site-packages: reading them is no attempt of the
    student's.  The checkout the child was started from (solutions, tests) is not readable."""
    from grader.child import main, sandbox

    sandbox.system_roots.cache_clear()
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(ROOT), *sys.path])
    roots = main.readable()
    assert str(tmp_path) in roots and str(ROOT / "grader") in roots
    assert str(ROOT) not in roots and str(ROOT / "solutions") not in roots
    sandbox.system_roots.cache_clear()
