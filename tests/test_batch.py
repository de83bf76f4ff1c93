"""grader/batch.py: planning a class (files, student folders), grading it in parallel with each hanging
submission stopped alone, resuming, sharding, and merging the shards back."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stdout

import pytest
from builders import read_csv
from cases import CASES, ROOT

from grader import batch
from grader.batch import plan
from grader.cli import main
from grader.errors import UsageError

BY_NAME = {c.name: c for c in CASES}


def test_every_submission_is_graded_and_the_hanging_one_times_out_alone(graded_class) -> None:
    folder, out, code, _ = graded_class
    assert code == 1
    rows = {r["student"]: r for r in read_csv(out / "grades.csv")}
    assert sorted(rows) == ["alice", "bob", "carol", "dan", "erin", "frank", "mallory"]
    assert rows["alice"]["backprop_linear:score"] == "10" and rows["alice"]["backprop_linear:status"] == "graded"
    assert rows["bob"]["backprop_linear:score"] == "5" and rows["bob"]["backprop_linear:first_epoch_grads"] == "0"
    assert rows["carol"]["backprop_linear:status"] == "error" and rows["carol"]["backprop_linear:score"] == "0"
    assert rows["dan"]["backprop_linear:status"] == "timeout" and rows["dan"]["backprop_linear:runs"] == "0"
    assert rows["erin"]["backprop_linear:score"] == "10"
    # frank's folder: the assignment of each file comes from its name, not from --assignment
    assert rows["frank"]["backprop_quadratic:score"] == "2" and rows["frank"]["backprop_linear:score"] == "10"
    assert rows["alice"]["backprop_quadratic:status"] == "missing"
    assert (out / "frank" / "backprop_quadratic" / "report.md").is_file()
    dan = json.loads((out / "dan" / "entry.json").read_text())
    assert dan["seconds"] < 30  # its own limit, not the batch's


def test_resume_skips_what_did_not_change(graded_class, tmp_path) -> None:
    folder, out, _, _ = graded_class
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    before = (copy / "alice" / "report.json").stat().st_mtime_ns
    (folder / "bob.py").write_text((ROOT / "solutions" / "backprop_linear.py").read_text())  # bob fixed his file
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        main(["check", str(folder), "--assignment", "backprop_linear", "--jobs", "2", "--timeout", "2",
              "--out", str(copy), "--resume"])
    text = stdout.getvalue()
    assert text.count("[unchanged, not graded again]") == 7  # all but bob
    assert (copy / "alice" / "report.json").stat().st_mtime_ns == before
    rows = {r["student"]: r for r in read_csv(copy / "grades.csv")}
    assert rows["bob"]["backprop_linear:score"] == "10"
    (folder / "bob.py").write_text(BY_NAME["linear_grad_not_reset.py"].source(), encoding="utf-8")


def test_shards_cover_everyone_once_and_merge_back(graded_class, tmp_path) -> None:
    folder, out, _, _ = graded_class
    jobs = batch.plan([str(folder)])
    parts = [batch.shard(jobs, k, 3) for k in (1, 2, 3)]
    assert sorted(j.path for part in parts for j in part) == sorted(j.path for j in jobs)
    shard_outs = []
    for k in (1, 2):
        shard_out = tmp_path / f"shard{k}"
        shutil.copytree(out, shard_out)  # resumed from the full run: nothing is graded again
        for path in list(shard_out.rglob("entry.json")):
            path.unlink()
        for job in batch.shard(jobs, k, 2):
            rel = job.path.parent.name if job.nested else job.student
            for entry in (out / rel).rglob("entry.json"):
                target = shard_out / entry.relative_to(out)
                target.write_bytes(entry.read_bytes())
        with redirect_stdout(io.StringIO()):
            main(["check", str(folder), "--assignment", "backprop_linear", "--shard", f"{k}/2", "--resume",
                  "--timeout", "2", "--out", str(shard_out)])
        shard_outs.append(shard_out)
    rows1 = read_csv(shard_outs[0] / "grades.csv")
    rows2 = read_csv(shard_outs[1] / "grades.csv")
    assert not {r["student"] for r in rows1} & {r["student"] for r in rows2}
    merged = tmp_path / "merged"
    with redirect_stdout(io.StringIO()):
        assert main(["merge", str(shard_outs[0]), str(shard_outs[1]), "--out", str(merged)]) == 0
    assert (merged / "grades.csv").read_text() == (out / "grades.csv").read_text()
    assert (merged / "summary.md").read_text() == (out / "summary.md").read_text()


def test_plan(tmp_path) -> None:
    (tmp_path / "b.py").write_text("")
    (tmp_path / "a.py").write_text("")
    (tmp_path / "c.ipynb").write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert [j.path.name for j in plan([str(tmp_path), str(tmp_path / "a.py")])] == ["a.py", "b.py", "c.ipynb"]
    with pytest.raises(UsageError, match="no such file"):
        plan([str(tmp_path / "missing.py")])
    with pytest.raises(UsageError, match="cannot grade a .txt"):
        plan([str(tmp_path / "notes.txt")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no .py or .ipynb file"):
        plan([str(empty)])
