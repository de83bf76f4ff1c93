"""The programs of tests/hostile/, graded as a class: each attack is stopped or neutralised and named in
the report, what ran before it still counts, cheating passes no check, the machine is left clean, and
the observer and its channel hold without the jail too."""

from __future__ import annotations

import os
import subprocess

import pytest
from builders import check_quietly, status
from cases import HOSTILE


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
        ("ctypes_memory", "reach the process's memory (ctypes)"),
        ("posixsubprocess", "start another program"),
        ("dir_fd_escape", "outside its folder (/proc/self)"),  # a folder to open, or (in the jail) nothing there
        ("sqlite_outside", "write outside its folder"),
        ("special_files", "make a special file"),
        ("kill_the_grader", "signal another process"),
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
    assert any("tried to signal another process" in n for n in reports["kill_the_grader"]["notes"])
    assert "killpg refused" in reports["kill_the_grader"]["stdout"]  # the group kill first, refused too
    assert not os.path.exists("/tmp/grader-sqlite-escape.db")


def test_the_hidden_points_are_nowhere_in_the_process_while_it_runs(hostile) -> None:
    _, reports, _, _ = hostile
    thief = reports["read_every_fd"]
    assert "stole probe points: False" in thief["stdout"], thief["stdout"] + thief["stderr"]
    assert thief["score"] == 10, [c["message"] for c in thief["checks"]]  # and its probes still ran
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
    assert code == 1 and len(reports) == len(list(HOSTILE.glob("*.py"))) + 2  # and the two that read a classmate
    assert not (root / "grader-reports-fake.json").exists()
    assert not list(root.parent.glob("grader-reports-fake.json"))
    assert leftover_children(grading) == []
    assert elapsed < 120


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


def test_the_stand_in_list_cannot_flood_the_report(hostile) -> None:
    """The list of modules stood in for is student territory: whatever it says, the note stays bounded."""
    _, reports, _, _ = hostile
    report = reports["absent_standin_abuse"]
    assert report["score"] == 10
    note = next(n for n in report["notes"] if n.startswith("Your program imports"))
    assert len(note) < 3000 and "object" not in note
