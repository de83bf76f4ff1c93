"""grader/batch.py: planning a class (files, student folders), grading it in parallel with each hanging
submission stopped alone, report folders, resuming, sharding, and merging the shards back; the last
tests use a runner that returns a prepared trace, so no process is started."""

from __future__ import annotations

import io
import json
import os
import shutil
from contextlib import redirect_stdout

import pytest
from builders import perfect, read_csv
from cases import CASES, ROOT, notebook

from grader import batch
from grader.batch import plan
from grader.cli import main
from grader.errors import UsageError
from grader.run import Runner
from grader.spec import all_specs

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
    assert rows["frank"]["backprop_quadratic:score"] == "5" and rows["frank"]["backprop_linear:score"] == "10"
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


# -- without processes: a runner that returns a prepared trace -------------------------------------------


class Prepared(Runner):
    """Returns a correct run for every submission, and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.graded: list[str] = []

    def run(self, submission, spec, probes, limits):
        self.graded.append(submission.path.name)
        return perfect(spec)


def batch_of(tmp_path, files: dict[str, str]) -> list:
    for name, text in files.items():
        path = tmp_path / "class" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return plan([str(tmp_path / "class")])


def run(jobs, out, runner, **options):
    done = []
    settings = dict(forced=None, formats=("json",), workers=2, resume=False, time_limit=None, seed=1)
    settings.update(options)
    outcome = batch.run_batch(jobs, all_specs(), out, runner, on_done=done.append, **settings)
    assert not outcome.interrupted
    return list(outcome.results), done


def test_run_batch_reports_every_job_in_order(tmp_path) -> None:
    jobs = batch_of(tmp_path, {"amy.py": "w = 1\n", "ben.ipynb": notebook(["w1 = 1\nw2 = 1\nb = 1"]),
                               "notes.py": "print('no parameters')\n",
                               "cal/backprop_linear.py": "", "cal/my_homework.py": "", "cal/second_linear.py": ""})
    runner = Prepared()
    results, done = run(jobs, tmp_path / "out", runner)
    assert len(done) == len(results) == 6 and sorted(runner.graded) == sorted(
        ["amy.py", "ben.ipynb", "backprop_linear.py", "my_homework.py", "second_linear.py"])
    assert [r.job for r in results] == jobs  # in job order, whatever order they finished in
    skipped = next(r for r in results if r.job.path.name == "notes.py")
    assert skipped.entry is None and "--assignment" in skipped.problem
    folders = sorted(r.entry.folder for r in results if r.entry)
    # Two of cal's files are backprop_linear: each folder says its file, no report overwrites another.
    assert folders == ["amy", "ben", "cal/backprop_linear~backprop_linear.py", "cal/backprop_linear~second_linear.py",
                       "cal/backprop_quadratic"]
    for r in results:
        if r.entry:
            assert r.entry.full_marks and r.report_path == tmp_path / "out" / r.entry.folder / "report.json"
            assert batch.read_entry(tmp_path / "out" / r.entry.folder) == r.entry


def test_a_file_named_on_the_command_line_must_have_an_assignment(tmp_path) -> None:
    path = tmp_path / "notes.py"
    path.write_text("print('no parameters')\n")
    with pytest.raises(UsageError, match="--assignment"):
        run(plan([str(path)]), tmp_path / "out", Prepared())


def test_resume_needs_the_same_file_assignment_and_time_limit(tmp_path) -> None:
    jobs = batch_of(tmp_path, {"amy.py": "w = 1\n"})
    out = tmp_path / "out"
    runner = Prepared()
    run(jobs, out, runner)
    results, _ = run(jobs, out, runner, resume=True)
    assert results[0].skipped and runner.graded == ["amy.py"]
    run(jobs, out, runner, resume=True, time_limit=3.0)
    (tmp_path / "class" / "amy.py").write_text("w = 2\n")
    run(jobs, out, runner, resume=True, time_limit=3.0)
    assert runner.graded == ["amy.py"] * 3


def test_fingerprints_change_with_what_the_grade_depends_on() -> None:
    base = batch.fingerprint(b"w = 1", "backprop_linear", None)
    assert base == batch.fingerprint(b"w = 1", "backprop_linear", None)
    assert len({base, batch.fingerprint(b"w = 2", "backprop_linear", None),
                batch.fingerprint(b"w = 1", "backprop_quadratic", None),
                batch.fingerprint(b"w = 1", "backprop_linear", 5.0)}) == 4


def test_a_shard_depends_only_on_its_students(tmp_path) -> None:
    jobs = batch_of(tmp_path, {f"s{i}.py": "" for i in range(20)} | {"cal/a_linear.py": "", "cal/b_quadratic.py": ""})
    parts = [batch.shard(jobs, k, 4) for k in range(1, 5)]
    assert sorted(j.path for part in parts for j in part) == sorted(j.path for j in jobs)
    assert all(part for part in parts)
    assert len({k for k, part in enumerate(parts) for j in part if j.student == "cal"}) == 1  # a student's files together
    fewer = [j for j in jobs if j.student != "s3"]
    assert [batch.shard(fewer, k, 4) for k in range(1, 5)] == [[j for j in part if j.student != "s3"] for part in parts]


def test_an_unreadable_entry_is_no_entry(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "entry.json").write_text("{not json")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "entry.json").write_text(json.dumps({"student": "b"}))
    assert batch.read_entry(tmp_path / "a") is None and batch.read_entry(tmp_path / "b") is None
    assert batch.read_entry(tmp_path / "missing") is None and batch.read_entries(tmp_path) == []


class Failing(Prepared):
    """A correct run for everyone but the students named, for whom the grader itself fails."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = failing

    def run(self, submission, spec, probes, limits):
        if submission.path.stem in self.failing:
            raise OSError("the grader's warm process died")
        return super().run(submission, spec, probes, limits)


def test_a_job_the_grader_fails_on_still_ends_in_an_entry_and_a_report(tmp_path) -> None:
    jobs = batch_of(tmp_path, {"amy.py": "w = 1\n", "bob.py": "w = 1\n", "cat.py": "w = 1\n"})
    results, done = run(jobs, tmp_path / "out", Failing("bob"))
    by_student = {r.job.student: r.entry for r in results}
    assert [by_student[s].status for s in ("amy", "bob", "cat")] == ["graded", "grader-error", "graded"]
    bob = by_student["bob"]
    assert bob.score == 0 and bob.error == "OSError: the grader's warm process died" and not bob.full_marks
    assert batch.read_entry(tmp_path / "out" / "bob") == bob
    report = (tmp_path / "out" / "bob" / "report.md").read_text(encoding="utf-8")
    assert "could not grade it (OSError: the grader's warm process died)" in report and "This is not a grade" in report
    assert json.loads((tmp_path / "out" / "bob" / "report.json").read_text())["status"] == "grader-error"


def test_a_report_that_cannot_be_written_is_a_grader_error_too(tmp_path, monkeypatch) -> None:
    jobs = batch_of(tmp_path, {"amy.py": "w = 1\n", "bob.py": "w = 1\n"})
    real = batch.write_reports

    def write_reports(report, folder, formats):
        if folder.name == "bob":
            raise UnicodeEncodeError("utf-8", "\udc80", 0, 1, "surrogates not allowed")
        return real(report, folder, formats)

    monkeypatch.setattr(batch, "write_reports", write_reports)
    results, _ = run(jobs, tmp_path / "out", Prepared())
    assert [r.entry.status for r in results] == ["graded", "grader-error"]
    assert "UnicodeEncodeError" in results[1].entry.error


def test_an_interrupted_batch_keeps_what_ended_and_records_nothing_else(tmp_path) -> None:
    jobs = batch_of(tmp_path, {f"s{i}.py": "w = 1\n" for i in range(6)})
    runner = Prepared()
    aborted = []
    runner.abort = lambda: aborted.append(True)
    done = []

    def on_done(result):
        done.append(result)
        if len(done) == 2:
            raise KeyboardInterrupt

    outcome = batch.run_batch(jobs, all_specs(), tmp_path / "out", runner, forced=None, formats=("json",), workers=1,
                              resume=False, time_limit=None, seed=1, on_done=on_done)
    assert outcome.interrupted and aborted
    assert 2 <= len(outcome.entries) <= 6
    recorded = {p.parent.name for p in (tmp_path / "out").rglob("entry.json")}
    assert {e.folder for e in outcome.entries} <= recorded


def test_report_folders_are_unique_and_the_same_on_every_run(tmp_path) -> None:
    paths = [tmp_path / "a" / "alice.py", tmp_path / "a" / "alice.ipynb", tmp_path / "a" / "alice-2.py",
             tmp_path / "b" / "alice.py", tmp_path / "a" / "...py", tmp_path / "a" / "bob.py"]
    bases = ["alice", "alice", "alice-2", "alice", "..", "bob"]
    folders = batch.report_folders(bases, paths)
    assert folders == batch.report_folders(bases, paths)
    assert len(set(folders)) == len(folders)
    assert folders[1] == "alice~alice.ipynb" and folders[2] == "alice-2" and folders[5] == "bob"
    assert folders[0].startswith("alice~") and folders[3].startswith("alice~") and folders[0] != folders[3]
    assert folders[4] == "_.."  # never the parent folder


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on Windows")
def test_resume_reads_only_regular_files(tmp_path) -> None:
    folder = tmp_path / "amy"
    folder.mkdir()
    os.mkfifo(folder / "entry.json")  # would block a plain read for ever
    assert batch.read_entry(folder) is None
    (folder / "entry.json").unlink()
    (folder / "entry.json").mkdir()
    assert batch.read_entry(folder) is None


def test_the_command_says_when_the_grader_failed(tmp_path, monkeypatch, capsys) -> None:
    import grader.cli as cli

    path = tmp_path / "bob.py"
    path.write_text((ROOT / "solutions" / "backprop_linear.py").read_text())
    monkeypatch.setattr(cli, "make_runner", lambda warm=False: Failing("bob"))
    assert main(["check", str(path), "--out", str(tmp_path / "out")]) == 4
    assert "could not grade it" in (tmp_path / "out" / "bob" / "report.md").read_text(encoding="utf-8")
