"""grader/report/text.py: what several writers show alike (safe Markdown, fences, excerpts, status words,
the first epoch's rows)."""

from __future__ import annotations

from grader.report.text import fenced, inline


def test_inline_and_fenced_helpers() -> None:
    assert inline("a|b\nc<d") == "a\\|b<br>c&lt;d"
    assert fenced("``` x ````").startswith("`````text\n")
