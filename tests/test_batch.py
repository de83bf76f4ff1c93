"""Issue 5: a class graded in one command, resumed, sharded and merged; the CI formats."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
import zipfile
import xml.etree.ElementTree as ET
from contextlib import redirect_stdout

import pytest
from builders import LINEAR, perfect, read_csv, report_for
from cases import CASES, ROOT, SUBMISSIONS

from grader import batch
from grader.cli import main
from grader.report.github import annotations, escape_data, escape_property

BY_NAME = {c.name: c for c in CASES}
EVIL = 'import sys\nprint("::error::from stdout")\nraise RuntimeError("boom ::error file=x::injected %0A::warning::again\\nsecond")\n'


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A class folder: one file per student, plus one student folder with a file per assignment."""
    root = tmp_path_factory.mktemp("class")
    folder = root / "class"
    folder.mkdir()
    (folder / "alice.py").write_text((ROOT / "solutions" / "backprop_linear.py").read_text(encoding="utf-8"))
    (folder / "bob.py").write_text(BY_NAME["linear_grad_not_reset.py"].source(), encoding="utf-8")
    (folder / "carol.py").write_text((SUBMISSIONS / "linear_syntax_error.py").read_text())
    (folder / "dan.py").write_text((SUBMISSIONS / "linear_infinite_loop.py").read_text())
    (folder / "erin.ipynb").write_text((ROOT / "solutions" / "backprop_linear.ipynb").read_text(encoding="utf-8"))
    (folder / "mallory.py").write_text(EVIL)
    (folder / "frank").mkdir()
    (folder / "frank" / "backprop_linear.py").write_text((ROOT / "solutions" / "backprop_linear.py").read_text())
    (folder / "frank" / "my_homework.py").write_text(BY_NAME["quadratic_terms_swapped.py"].source())
    out = root / "out"
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        code = main(["check", str(folder), "--assignment", "backprop_linear", "--jobs", "2", "--timeout", "2",
                     "--out", str(out), "--format", "md,json,html,junit,gradescope,github"])
    return folder, out, code, stdout.getvalue()


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


def test_gradebook_columns_and_class_summaries(graded_class) -> None:
    _, out, _, _ = graded_class
    header = next(csv.reader(open(out / "grades.csv", encoding="utf-8")))
    assert header[0] == "student"
    assert header[1:4] == ["backprop_linear:score", "backprop_linear:max_score", "backprop_linear:status"]
    assert "backprop_linear:first_epoch_grads" in header and "backprop_quadratic:forward" in header
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## `backprop_linear`" in summary and "Pass rate per check" in summary
    assert "- `grad_not_reset`: 1" in summary
    assert "dan (timeout)" in summary and "carol (error)" in summary
    html = (out / "summary.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html


def test_junit_is_valid_xunit(graded_class) -> None:
    _, out, _, _ = graded_class
    for path in out.rglob("junit.xml"):
        root = ET.parse(path).getroot()
        assert root.tag == "testsuites"
        for suite in root.findall("testsuite"):
            cases = suite.findall("testcase")
            assert suite.get("name") and int(suite.get("tests")) == len(cases) == 7
            assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
            assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
            float(suite.get("time"))
            for case in cases:
                assert case.get("name") and case.get("classname")
                for bad in case.findall("failure") + case.findall("error"):
                    assert bad.get("message") is not None
    bob = ET.parse(out / "bob" / "junit.xml").getroot()
    failed = [c.get("name") for c in bob.iter("testcase") if c.find("failure") is not None]
    assert failed == ["first_epoch_grads", "training", "final_prediction"]


def test_gradescope_results(graded_class) -> None:
    _, out, _, _ = graded_class
    data = json.loads((out / "bob" / "results.json").read_text(encoding="utf-8"))
    assert data["score"] == 5 and data["visibility"] == "visible" and data["output_format"] == "md"
    assert sum(t["score"] for t in data["tests"]) == data["score"]
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")


def test_github_output_cannot_be_hijacked(graded_class) -> None:
    _, _, _, stdout = graded_class
    lines = stdout.splitlines()
    stop = lines[0]
    assert stop.startswith("::stop-commands::") and len(stop) > 30
    token = stop.split("::")[2]
    resume = lines.index(f"::{token}::")
    for line in lines[resume + 1:]:
        assert line.startswith("::error file=") and "::" in line[2:]
    assert not any("injected" in line for line in lines[1:resume] if line.startswith("::"))
    mallory = [line for line in lines[resume + 1:] if "mallory" in line]
    assert mallory and all("\n" not in line for line in mallory)
    assert any("boom ::error file=x::injected %250A::warning::again" in line for line in mallory)


def test_escaping_rules() -> None:
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac"
    assert escape_property("x:y,z\n") == "x%3Ay%2Cz%0A"


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


def test_annotations_point_at_the_file() -> None:
    trace = dataclasses.replace(perfect(LINEAR), steps=())
    report = report_for(LINEAR, trace, "a,b:c.py")
    lines = annotations(report, "dir/a,b:c.py")
    assert lines and all(line.startswith("::error file=dir/a%2Cb%3Ac.py,title=") for line in lines)


def test_bundle(tmp_path) -> None:
    target = tmp_path / "bundle.zip"
    with redirect_stdout(io.StringIO()):
        assert main(["gradescope-bundle", "--assignment", "backprop_quadratic", "--out", str(target)]) == 0
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert {"setup.sh", "run_autograder", "kit/pyproject.toml", "kit/grader/cli.py",
                "kit/grader/specs/backprop_quadratic.toml"} <= set(names)
        run = archive.read("run_autograder").decode()
        assert "--assignment backprop_quadratic" in run and "/autograder/results/results.json" in run
        assert archive.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert not any("__pycache__" in n for n in names)

