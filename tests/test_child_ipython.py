"""grader/child/ipython.py: what notebook cells expect of IPython, as plain Python: each cell's output kept
for the graded notebook (and passed on), display() and get_ipython() harmless."""

from __future__ import annotations

import io
import types

from grader.child.ipython import Shell, Tee, display, install, taken


def test_a_cells_output_is_kept_and_passed_on() -> None:
    real = io.StringIO()
    tee = Tee(real)
    tee.write("one\n")
    print("two", file=tee)
    assert real.getvalue() == "one\ntwo\n"
    assert tee.take() == "one\ntwo\n" and tee.take() == ""  # each cell gets only its own
    assert not tee.isatty()


def test_a_flood_is_cut_and_said(monkeypatch) -> None:
    monkeypatch.setattr(Tee, "CAP", 10)
    real = io.StringIO()
    tee = Tee(real)
    tee.write("0123456")
    tee.write("789abcdef")
    assert real.getvalue() == "0123456789abcdef"  # the run's own output is capped elsewhere
    assert tee.take() == "0123456789\n[... 6 characters left out ...]\n"


def test_a_replaced_stream_gives_nothing() -> None:
    assert taken(io.StringIO("student's own")) == ""
    tee = Tee(io.StringIO())
    tee.write("x")
    assert taken(tee) == "x"


def test_display_and_get_ipython_are_harmless(capsys) -> None:
    display([1, 2], "a")
    assert capsys.readouterr().out == "[1, 2]\n'a'\n"
    shell = Shell()
    assert shell.run_line_magic("matplotlib", "inline") is None and shell.system("rm -rf /") is None


def test_install_gives_a_namespace_and_streams_what_cells_expect() -> None:
    namespace: dict = {}
    fake_sys = types.SimpleNamespace(stdout=io.StringIO(), stderr=io.StringIO())
    install(namespace, fake_sys)
    assert namespace["display"] is display and isinstance(namespace["get_ipython"](), Shell)
    assert type(fake_sys.stdout) is Tee and type(fake_sys.stderr) is Tee
