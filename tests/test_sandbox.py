"""Issue 6 (first layer): hostile submissions are stopped or neutralised and reported as such; odd but
honest files are graded like their plain twins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import weakref

import pytest
from builders import check_quietly, status
from cases import ROOT

from grader.protocol import FrameReader, sign

HOSTILE = ROOT / "tests" / "hostile"
SOLUTION = ROOT / "solutions" / "backprop_linear.py"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "class"
    folder.mkdir()
    for path in HOSTILE.glob("*.py"):
        (folder / path.name).write_text(path.read_text())
    victim = root / "victim" / "alice.py"
    victim.parent.mkdir()
    victim.write_text("SECRET = 'alice solution'\n")
    (folder / "read_named_file.py").write_text(f"print(open({str(victim)!r}).read())\n")
    # No audit event guards listing a folder: only the jail hides the class's files.
    (folder / "list_named_folder.py").write_text(f"import os\nprint(os.listdir({str(victim.parent)!r}))\n")
    out = root / "out"
    started = time.monotonic()
    code, reports = check_quietly(folder, out, "--assignment", "backprop_linear", "--jobs", "2", "--timeout", "5",
                          formats="md,json")
    elapsed = time.monotonic() - started
    return root, reports, code, elapsed


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("fork_bomb", "start a process"),
        ("memory_bomb", "more memory than it may"),
        ("run_subprocess", "start another program"),
        ("run_ctypes", "native code"),
        ("network", "network"),
        ("write_outside", "write outside its folder"),
        ("read_named_file", "read a file outside its folder"),
        ("os_exit_at_start", "ended abruptly"),
        ("os_exit_in_training", "ended abruptly"),
        ("print_flood", "ran too long"),
        ("asks_input", "asked for input"),
        ("thread_bomb", "thread"),
        ("native_module", "native code"),
        ("forge_channel", "private channel"),
        ("reach_the_grader", "look inside the grader"),
        ("disarm_sandbox", "look inside the grader"),
        ("fool_paths", "write outside its folder"),  # the hook's refusal, not the jail's
    ],
)
def test_each_attempt_is_stopped_and_named(hostile, name, fragment) -> None:
    _, reports, _, _ = hostile
    report = reports[name]
    assert report["error"] and fragment in report["error"], report["error"]
    assert report["score"] < report["max_score"]
    assert status(report, "runs") == "fail"


def test_attempts_are_listed_in_the_notes(hostile) -> None:
    _, reports, _, _ = hostile
    assert any("tried to start a process" in n for n in reports["fork_bomb"]["notes"])
    assert "alice solution" not in reports["read_named_file"]["stdout"]


def test_what_ran_before_a_sudden_exit_still_counts(hostile) -> None:
    _, reports, _, _ = hostile
    report = reports["os_exit_in_training"]
    assert report["run"]["backward_passes"] == 2
    assert "Only 2 of the 3" in next(c["message"] for c in report["checks"] if c["id"] == "first_epoch_grads")


def test_cheating_cannot_pass_a_check(hostile) -> None:
    _, reports, _, _ = hostile
    fake = reports["monkeypatch_backward"]
    for check_id in ("first_epoch_grads", "training", "final_prediction"):
        assert status(fake, check_id) != "pass"
    atexit = reports["atexit_fake_output"]
    assert "predict (after training)" not in atexit["stdout"] and atexit["score"] <= 1
    fake_report = reports["fake_report"]
    assert fake_report["score"] <= 1 and fake_report["kit"]["name"] == "backprop-grader"
    assert fake_report["submission"].endswith("fake_report.py")
    patched = next(c["message"] for c in reports["patch_item"]["checks"] if c["id"] == "first_epoch_grads")
    assert "w.grad is -9.84, expected -7.84" in patched  # the real gradient, not the -2.0 item() claims
    probe = reports["exit_in_probe"]
    assert status(probe, "forward") == "fail" and status(probe, "training") == "pass"
    forged = reports["forge_channel"]
    assert forged["score"] == 0 and forged["outcome"]["status"] == "tampered"
    assert all(c["status"] == "fail" for c in forged["checks"])
    assert reports["reach_the_grader"]["stdout"].startswith("reached the channel: False")
    walker = reports["walk_frames"]
    assert walker["stdout"].startswith("reached the grader: False"), walker["stdout"] + walker["stderr"]
    assert any("signal handler" in note for note in walker["notes"])
    # Its finalizer ran, and not inside the observer (there, asking for a frame would have been refused).
    assert "finalizer ran" in walker["stderr"] and not any("look inside" in n for n in walker["notes"])
    spied = reports["patch_internals"]  # builtins and library functions replaced: grading is unchanged
    assert "observer seen by a spy: False" in spied["stdout"] and "observer seen" not in spied["stderr"]
    assert spied["score"] == 10, spied["error"]


def _signed(key: bytes, events: list[dict]) -> list[bytes]:
    """One frame per event, signed in sequence as the child signs them."""
    payloads = [json.dumps([e], separators=(",", ":")).encode() for e in events]
    return [sign(key, i, payload) + b" " + payload for i, payload in enumerate(payloads)]


def _read(key: bytes, lines: list[bytes]) -> tuple[list, int]:
    reader = FrameReader(key)
    events = reader.feed(b"".join(line + b"\n" for line in lines)) + reader.close()
    return [e.KIND for e in events], reader.foreign


def test_the_channel_accepts_only_what_the_grader_signed() -> None:
    key, other = os.urandom(32), os.urandom(32)
    genuine = _signed(key, [{"event": "ready"}, {"event": "extra_steps", "count": 1}, {"event": "done"}])
    assert _read(key, genuine) == (["ready", "extra_steps", "done"], 0)
    unsigned = b'[{"event":"final","params":{},"leaf":{},"prediction":8.0}]'
    forged = [genuine[0], unsigned, b"0" * 32 + b" " + unsigned, _signed(other, [{"event": "done"}])[0],
              genuine[0], genuine[1], genuine[2]]  # a line replayed out of sequence is not genuine either
    assert _read(key, forged) == (["ready", "extra_steps", "done"], 4)


@pytest.mark.skipif(sys.gettrace() is not None, reason="a capability refuses to run under a trace function")
def test_sealed_callables_lead_nowhere() -> None:
    from grader.child.boundary import capability, forwarder, seal

    class Secret:
        key = b"k"

        def act(self, x):
            return x + 1

    keep: list = []
    sealed = seal(Secret().act, keep)
    assert sealed(1) == 2
    for name in ("__self__", "__func__", "__closure__", "__globals__", "__class__", "_call", "__reduce_ex__"):
        with pytest.raises(AttributeError):
            getattr(sealed, name)
    with pytest.raises(AttributeError):
        object.__getattribute__(sealed, "_call")
    assert type(sealed) is weakref.CallableProxyType  # type() names the proxy, not what it hides
    calls = []
    # What a sealed call returns: (its result, the student objects it let go of).
    observe = capability(lambda foreign, args, kwargs, gathered: (calls.append(("observe", args)), []), keep)
    stand_in = forwarder(Secret().act, observe)
    assert stand_in(2) == 3 and hash(stand_in) and stand_in.__name__ == "act" and stand_in.__closure__ is None
    assert calls == [("observe", (2,))]  # after the real call, with its arguments

    def failing(x):
        raise ValueError(x)

    with pytest.raises(ValueError):
        forwarder(failing, observe)(5)
    assert calls == [("observe", (2,))]  # a call that raised is not observed
    assert set(stand_in.__globals__) == {"__builtins__", "_real", "_observe", "_use", "_gather"}
    assert type(observe.gi_frame.f_locals["sealed"]) is weakref.CallableProxyType  # all a frame shows


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="the jail needs Linux and root")
def test_every_child_was_jailed(hostile) -> None:
    _, reports, _, _ = hostile
    for name, report in reports.items():
        assert {"limits", "audit", "network", "filesystem", "user"} <= set(report["run"]["isolation"]), name
    listing = reports["list_named_folder"]
    assert "alice.py" not in listing["stdout"] and "FileNotFoundError" in listing["error"]


def test_threads_left_running_do_not_hold_the_grader(hostile) -> None:
    _, reports, _, _ = hostile
    report = reports["thread_left_running"]
    assert report["score"] == 10 and report["run"]["seconds"] < 20


def test_output_flood_is_trimmed(hostile) -> None:
    _, reports, _, _ = hostile
    stdout = reports["print_flood"]["stdout"]
    assert "bytes of output left out" in stdout and len(stdout) < 100_000


def leftover_children(grading) -> list[str]:
    """The grader's child processes still alive, but for this test session's own (its warm process, and the
    children it or this process is running right now for other tests)."""
    ours = {os.getpid()}
    if grading.server.server is not None:
        ours.add(grading.server.server.process.pid)
    listing = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in listing.splitlines() if "from grader.child.main import main" in line]
    return [" ".join(row) for row in rows if int(row[0]) not in ours and int(row[1]) not in ours]


def test_machine_left_clean_and_time_bounded(hostile, grading) -> None:
    root, reports, code, elapsed = hostile
    assert code == 1 and len(reports) == 27
    assert not (root / "grader-reports-fake.json").exists()
    assert not list(root.parent.glob("grader-reports-fake.json"))
    assert leftover_children(grading) == []
    assert elapsed < 120


def _twins(folder):
    text = SOLUTION.read_text(encoding="utf-8")
    commented = text.replace("x_data = [1.0, 2.0, 3.0]", "# 训练数据（中文注释）\nx_data = [1.0, 2.0, 3.0]  # 输入")
    (folder / "gbk_backprop_linear.py").write_bytes(commented.encode("gbk"))
    (folder / "bom_backprop_linear.py").write_bytes(b"\xef\xbb\xbf" + commented.encode("utf-8"))
    (folder / "crlf_backprop_linear.py").write_bytes(commented.replace("\n", "\r\n").encode("utf-8"))
    tabs = "\n".join(line.replace("    ", "\t") if line.startswith("    ") else line for line in text.splitlines())
    (folder / "tabs_backprop_linear.py").write_text(tabs.replace("\t\t", "\t\t"), encoding="utf-8")
    (folder / "线性模型_backprop_linear.py").write_text(commented, encoding="utf-8")


def test_odd_but_honest_files_grade_like_their_twin(tmp_path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    _twins(folder)
    out = tmp_path / "out"
    code, reports = check_quietly(folder, out, "--jobs", "2")
    scores = {name: report["score"] for name, report in reports.items()}
    assert scores == {name: 10 for name in ("gbk_backprop_linear", "bom_backprop_linear", "crlf_backprop_linear",
                                            "tabs_backprop_linear", "线性模型_backprop_linear")}
    assert code == 0


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
uid = jail(work, (sys.prefix, sys.base_prefix))
assert uid and os.getuid() == uid and os.geteuid() == uid, "still root"
assert os.getcwd() == os.path.realpath(work)
with open("mine.txt", "w") as handle:  # its own folder is writable
    handle.write("ok")
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
    folder writable and nothing else, a bounded number of threads, no way back to root."""
    work = tmp_path / "work"
    work.mkdir()
    secret = tmp_path / "other_student.py"
    secret.write_text("SECRET = 1\n")
    done = subprocess.run([sys.executable, "-c", JAILED, str(work), str(secret)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("jailed") and (work / "mine.txt").read_text() == "ok"


def test_without_the_jail_the_grader_still_cannot_be_fooled(tmp_path, monkeypatch) -> None:
    """Where there is no jail (not root: GitHub's runners, a laptop), what keeps the observer and the
    channel safe is the same: run the attacks on them with the jail switched off."""
    monkeypatch.setenv("GRADER_JAIL", "off")
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("forge_channel", "reach_the_grader", "walk_frames", "patch_internals", "disarm_sandbox",
                 "fool_paths"):
        (folder / f"{name}.py").write_text((HOSTILE / f"{name}.py").read_text())
    out = tmp_path / "out"
    _, reports = check_quietly(folder, out, "--assignment", "backprop_linear", "--jobs", "2", "--timeout", "10")
    assert len(reports) == 6
    for name, report in reports.items():
        assert "filesystem" not in report["run"]["isolation"], name
    assert reports["forge_channel"]["outcome"]["status"] == "tampered"
    assert reports["reach_the_grader"]["stdout"].startswith("reached the channel: False")
    assert reports["walk_frames"]["stdout"].startswith("reached the grader: False")
    assert "observer seen by a spy: False" in reports["patch_internals"]["stdout"]
    assert reports["patch_internals"]["score"] == 10
    assert "look inside the grader" in reports["disarm_sandbox"]["error"]
    assert "write outside its folder" in reports["fool_paths"]["error"]


THREADED = '''import threading
import torch

w = torch.tensor([1.0], requires_grad=True)


def work():
    for _ in range(50):
        (w * 2.0).sum().backward()


threads = [threading.Thread(target=work) for _ in range(3)]
for thread in threads:
    thread.start()
work()
for thread in threads:
    thread.join()
print("all done", w.grad.item())
'''


def test_threads_calling_backward_at_once_are_graded_not_broken(tmp_path) -> None:
    """Backward passes from several threads at once: the grader observes one at a time and lets the
    others pass unrecorded; the program runs to its end, and the grader finishes its report."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "threaded.py").write_text(THREADED)
    (folder / "backprop_linear.py").write_text(SOLUTION.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    report = check_quietly(folder, out, "--assignment", "backprop_linear", "--jobs", "2")[1]["threaded"]
    assert report["error"] is None and "all done 400.0" in report["stdout"], report["error"]
    assert 0 < report["run"]["backward_passes"] <= 200
    assert "generator already executing" not in report["stderr"]


def test_a_result_that_fails_to_be_read_is_reported_not_fatal(tmp_path) -> None:
    """The grader's calls of forward/loss touch whatever they return; a result whose methods raise is a
    failed probe, and the report still gets finished."""
    program = tmp_path / "weird_result.py"
    program.write_text(
        "import torch\n"
        "w = torch.tensor([1.0], requires_grad=True)\n"
        "class Weird(torch.Tensor):\n"
        "    def sum(self, *args, **kwargs):\n"
        "        raise RuntimeError('no sum for you')\n"
        "def forward(x):\n"
        "    return (x * w).as_subclass(Weird)\n"
        "(2.0 * w).sum().backward()\n"
    )
    out = tmp_path / "out"
    report = check_quietly(program, out, "--assignment", "backprop_linear")[1]["weird_result"]
    assert report["error"] is None, report["error"]
    assert "no sum for you" in next(c["message"] for c in report["checks"] if c["id"] == "forward")
