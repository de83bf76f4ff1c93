"""grader/report/__init__.py: each report file written atomically (flushed, renamed, its folder flushed),
and write_reports writing the chosen formats."""

from __future__ import annotations

import os

import pytest

from grader.report import atomic_write


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
