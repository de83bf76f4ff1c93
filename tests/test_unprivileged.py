"""The walls hold for any user: Landlock and the seccomp filter alone (no audit hook) refuse what a submission
must not do, as root and as a user without privileges; without root the jail is built in a user namespace;
and a class graded by an unprivileged user gets the same walls and the same verdicts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cases import HOSTILE, ROOT
from conftest import run_as

WALLS_ALONE = r'''
import errno, json, os, socket, sys, threading
sys.path.insert(0, sys.argv[3])
from grader.child import walls
work, secret = sys.argv[1], sys.argv[2]
os.chdir(work)
packages = [p for p in sys.path if p and os.path.isdir(p)]
said = {"landlock": walls.landlock(tuple(packages), (work,), ("/dev/null",)), "seccomp": walls.seccomp(os.getpid())}


def attempt(name, action):
    try:
        action()
        said[name] = "allowed"
    except OSError as exc:
        said[name] = errno.errorcode.get(exc.errno, str(exc.errno))


def fork():
    if os.fork() == 0:
        os._exit(0)


attempt("read a classmate's file", lambda: open(secret).read())
attempt("list the root folder", lambda: os.listdir("/"))
attempt("write outside", lambda: open("/tmp/written-by-a-submission", "w"))
attempt("run a program", lambda: os.execv("/bin/true", ["true"]))
attempt("make a process", fork)
attempt("signal the parent", lambda: os.kill(os.getppid(), 0))
attempt("signal a group", lambda: os.killpg(os.getpgid(os.getppid()), 0))
attempt("open a network socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
attempt("make a FIFO", lambda: os.mkfifo("fifo"))
attempt("write its own folder", lambda: open("mine.txt", "w").write("ok"))
attempt("read its own file", lambda: open("mine.txt").read())
thread = threading.Thread(target=lambda: said.__setitem__("a thread", "ran"))
thread.start()
thread.join()
attempt("signal itself", lambda: os.kill(os.getpid(), 0))
print(json.dumps(said))
'''
REFUSED = ("read a classmate's file", "list the root folder", "write outside", "run a program", "make a process",
           "signal the parent", "signal a group", "open a network socket", "make a FIFO")
ALLOWED = ("write its own folder", "read its own file", "signal itself")


def shared_folder(user=None) -> Path:
    """A folder the test user may work in (pytest's own are closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="grader-unprivileged-"))
    if user is not None:
        os.chown(folder, user[0], user[1])
    return folder


def walls_alone(run, user=None) -> dict:
    folder = shared_folder(user)
    try:
        work = folder / "work"
        work.mkdir()
        secret = folder / "classmate.py"
        secret.write_text("SECRET = 1\n")
        if user is not None:
            os.chown(work, user[0], user[1])
            os.chown(secret, user[0], user[1])  # readable to that user, but for the walls
        done = run([sys.executable, "-c", WALLS_ALONE, str(work), str(secret), str(ROOT)])
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check(said: dict) -> None:
    assert said["landlock"] >= 6 and said["seccomp"], said
    for name in REFUSED:
        assert said[name] in ("EPERM", "EACCES"), (name, said)
    for name in ALLOWED:
        assert said[name] == "allowed", (name, said)
    assert said["a thread"] == "ran"
    assert not os.path.exists("/tmp/written-by-a-submission")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Landlock and seccomp are Linux's")
def test_the_walls_alone_refuse_as_root_too() -> None:
    check(walls_alone(lambda argv: subprocess.run(argv, capture_output=True, text=True, timeout=60)))


def test_the_walls_alone_refuse_for_a_user_without_privileges(unprivileged) -> None:
    check(walls_alone(lambda argv: run_as(unprivileged, argv, timeout=60), unprivileged))


JAILED = r'''
import os, sys
sys.path.insert(0, sys.argv[3])
from grader.child.sandbox import jail
work, secret = sys.argv[1], sys.argv[2]
layers = jail(work, (sys.prefix, sys.base_prefix, *[p for p in sys.path if p and os.path.isdir(p)]), disk_mb=2)
assert layers == ("filesystem", "network"), layers
assert not os.path.exists(secret), "a classmate's file is visible"
assert open("given.txt").read() == "the submission"
open("mine.txt", "w").write("ok")
try:
    open("big.bin", "wb").write(b"x" * 3 * 2**20)
except OSError as exc:
    assert exc.errno == 28, exc
else:
    raise AssertionError("3 MB fitted into a folder of 2")
import socket
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
except OSError as exc:
    assert exc.errno == 101, exc  # unreachable: a network namespace with no interface up
print("jailed without root")
'''


def test_without_root_the_jail_is_built_in_a_user_namespace(unprivileged) -> None:
    folder = shared_folder(unprivileged)
    try:
        work = folder / "work"
        work.mkdir()
        (work / "given.txt").write_text("the submission")
        os.chown(work, unprivileged[0], unprivileged[1])
        secret = folder / "classmate.py"
        secret.write_text("SECRET = 1\n")
        done = run_as(unprivileged, [sys.executable, "-c", JAILED, str(work), str(secret), str(ROOT)], timeout=60)
        if "unshare" in done.stderr or done.returncode and "layers" in done.stderr and "()" in done.stderr:
            pytest.skip("this kernel allows no unprivileged user namespace")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "jailed without root"
        assert not (work / "mine.txt").exists()  # its writes stayed in its own file system
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ATTACKS = ("fork_bomb", "run_subprocess", "posixsubprocess", "run_ctypes", "ctypes_memory", "network", "write_outside",
           "dir_fd_escape", "sqlite_outside", "special_files", "kill_the_grader", "forge_channel", "reach_the_grader",
           "read_every_fd")


def test_a_class_graded_by_a_user_without_privileges(unprivileged) -> None:
    """The same walls as root (but a user of its own), the same refusals, correct work at full marks, and
    nothing left behind."""
    folder = shared_folder(unprivileged)
    try:
        submissions = folder / "class"
        submissions.mkdir()
        (submissions / "alice.py").write_text((ROOT / "solutions" / "backprop_linear.py").read_text())
        for name in ATTACKS:
            (submissions / f"{name}.py").write_text((HOSTILE / f"{name}.py").read_text())
        out = folder / "out"
        for path in [submissions, *submissions.iterdir()]:
            os.chown(path, unprivileged[0], unprivileged[1])
        grader = [sys.executable, "-c", "import sys; from grader.cli import main; sys.exit(main(sys.argv[1:]))"]
        done = run_as(unprivileged, grader + ["check", str(submissions), "--assignment", "backprop_linear", "--jobs",
                                              "2", "--timeout", "5", "--out", str(out), "--format", "json"],
                      cwd=folder, timeout=300)
        assert done.returncode == 1, done.stderr
        reports = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/report.json")}
        assert len(reports) == len(ATTACKS) + 1
        for name, report in reports.items():
            assert {"filesystem", "network", "landlock", "seccomp"} <= set(report["run"]["isolation"]), name
            assert "user" not in report["run"]["isolation"]  # no user of its own without root
        assert reports["alice"]["score"] == 10 and reports["read_every_fd"]["score"] == 10
        for name in ATTACKS:
            if name != "read_every_fd":
                assert reports[name]["score"] < 10 and reports[name]["error"], name
        assert "stole probe points: False" in reports["read_every_fd"]["stdout"]
        assert reports["forge_channel"]["outcome"]["status"] == "tampered"
        assert "walls: limits, audit, landlock, seccomp, filesystem, network" in done.stderr
        assert not os.path.exists("/tmp/grader-sqlite-escape.db") and not os.path.exists("/tmp/grader-reports-fake.json")
        leftovers = subprocess.run(["pgrep", "-u", str(unprivileged[0])], capture_output=True, text=True).stdout
        assert leftovers.strip() == ""  # nothing outlived grading
    finally:
        shutil.rmtree(folder, ignore_errors=True)
