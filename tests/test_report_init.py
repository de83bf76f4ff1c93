"""grader/report/__init__.py: each report file written atomically (flushed, renamed, its folder flushed),
and write_reports writing the chosen formats."""

from __future__ import annotations

import dataclasses
import os

import pytest
from builders import LINEAR, perfect, report_for
from cases import notebook

from grader.report import DEFAULT_FORMATS, GRADED_NOTEBOOK, STREAM_FORMATS, WRITERS, atomic_write, write_reports


def test_atomic_write_replaces_whole_files(tmp_path) -> None:
    target = tmp_path / "deep" / "report.json"
    atomic_write(target, "one")
    atomic_write(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


@pytest.mark.skipif(os.name != "posix", reason="folders are flushed on POSIX only")
def test_atomic_write_reaches_the_disk_before_the_rename(tmp_path, monkeypatch) -> None:
    """What survives a power cut: the content is flushed before the rename makes it visible, and the
    folder is flushed after, so the rename itself is on disk."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd))
        real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "report.json"
    atomic_write(target, "one")
    kinds = [kind for kind, _ in calls]
    assert kinds == ["fsync", "replace", "fsync"], calls
    if os.path.exists("/proc/self/fd"):
        assert calls[0][1].endswith(".tmp") and calls[2][1] == os.path.realpath(tmp_path)


def test_a_failed_write_leaves_the_old_file_and_no_litter(tmp_path, monkeypatch) -> None:
    target = tmp_path / "report.json"
    atomic_write(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_write_reports_writes_the_chosen_formats(tmp_path) -> None:
    report = report_for(LINEAR, perfect(LINEAR))
    written = write_reports(report, tmp_path / "a")
    assert {fmt: p.name for fmt, p in written.items()} == {"md": "report.md", "json": "report.json",
                                                          "html": "report.html"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["report.html", "report.json", "report.md"]
    for fmt, path in written.items():
        filename, render = WRITERS[fmt]
        assert path.name == filename and path.read_text(encoding="utf-8") == render(report)
    only = write_reports(report, tmp_path / "b", ("junit", "gradescope"))
    assert sorted(p.name for p in only.values()) == ["junit.xml", "results.json"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["junit.xml", "results.json"]


def test_a_notebook_always_gets_its_graded_notebook(tmp_path) -> None:
    nb = notebook(["w = 1"])
    report = dataclasses.replace(report_for(LINEAR, perfect(LINEAR)), notebook=nb)
    written = write_reports(report, tmp_path, ("json",))
    assert sorted(written) == ["ipynb", "json"] and written["ipynb"].name == "graded.ipynb"
    assert written["ipynb"].read_text(encoding="utf-8") == GRADED_NOTEBOOK[1](report)


def test_every_format_of_the_command_has_a_writer_or_a_stream() -> None:
    assert set(DEFAULT_FORMATS) <= set(WRITERS)
    assert set(WRITERS) == {"json", "md", "html", "junit", "gradescope", "classroom"} and STREAM_FORMATS == ("github",)
