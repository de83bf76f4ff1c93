"""A class folder holding every honest oddity and every trick against the outputs, next to a correct victim:
the batch grades to the end, every student gets a report folder and a row of their own, and no output
can be turned against its reader."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from contextlib import redirect_stdout

import pytest
from cases import ROOT

from grader.cli import main

SOLUTION = (ROOT / "solutions" / "backprop_linear.py").read_text(encoding="utf-8")
LINK = "[Grade revised: log in here](https://evil.example/login) ![](https://evil.example/p.png) www.evil.example"
FULL = 10.0

ODDITIES = {
    # honest files
    "victim": SOLUTION,
    "surrogate_message": SOLUTION + 'raise ValueError("bad \\udc80 byte")\n',
    "surrogate_label": SOLUTION.replace("plt.plot(", 'plt.plot(costs, label="cost \\ud800")\nplt.plot(', 1),
    "constant_plot": SOLUTION + "plt.figure()\nplt.plot([1e20] * 100)\nplt.show()\n",
    # tricks against the outputs
    "link_in_message": SOLUTION + f"raise RuntimeError({LINK!r})\n",
    "control_bytes": SOLUTION + 'raise RuntimeError("a\\x00b\\x1b[31mred\\x07")\n',
    "=1+2": SOLUTION,
    "@SUM(1,1)": SOLUTION,
    "+3": SOLUTION,
    "-2": SOLUTION,
    "alice": SOLUTION,
    "alice-2": SOLUTION,
    # a disk filler: 24 files of 15 MB
    "disk_filler": "import os\nfor i in range(24):\n    with open(f'f{i}', 'wb') as h:\n        h.write(os.urandom(15 * 2**20))\n",
}


def write_class(folder) -> None:
    folder.mkdir()
    for name, text in ODDITIES.items():
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    (folder / "alice.ipynb").write_text((ROOT / "solutions" / "backprop_linear.ipynb").read_text(encoding="utf-8"),
                                        encoding="utf-8")
    # A name unpacked from an archive made on Chinese Windows: GBK bytes, not UTF-8.
    with open(os.path.join(os.fsencode(folder), "张三作业.py".encode("gbk")), "w", encoding="utf-8") as handle:
        handle.write(SOLUTION)


@pytest.fixture(scope="module", params=["jail", "no jail"])
def graded(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("oddities")
    folder = root / "class"
    write_class(folder)
    out = root / "out"
    env = {"GRADER_JAIL": "off"} if request.param == "no jail" else {}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with redirect_stdout(io.StringIO()) as printed:
            code = main(["check", str(folder), "--assignment", "backprop_linear", "--jobs", "2", "--timeout", "10",
                         "--out", str(out), "--format", "md,json,html,junit,gradescope"])
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return root, out, code, printed.getvalue()


def rows(out) -> dict[str, dict]:
    with open(out / "grades.csv", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_every_student_has_a_row_and_a_folder_of_their_own(graded) -> None:
    _, out, code, printed = graded
    table = rows(out)
    students = {"victim", "surrogate_message", "surrogate_label", "constant_plot", "link_in_message",
                "control_bytes", "'=1+2", "'@SUM(1,1)", "'+3", "'-2", "alice", "alice-2", "disk_filler", "张三作业"}
    assert set(table) == students, printed
    entries = [json.loads(p.read_text(encoding="utf-8")) for p in out.rglob("entry.json")]
    assert len(entries) == len(ODDITIES) + 2  # alice.ipynb, and the GBK-named file
    assert len({e["folder"] for e in entries}) == len(entries)  # no folder shared
    folders = {e["submission"].rsplit("/", 1)[-1]: e["folder"] for e in entries}
    assert folders["alice.py"] != folders["alice.ipynb"] and folders["alice-2.py"] == "alice-2"
    assert all(e["status"] != "grader-error" for e in entries), [e["error"] for e in entries]
    assert code == 1  # some lost points; none failed the grader


def test_correct_work_gets_full_marks_whatever_its_name(graded) -> None:
    _, out, _, _ = graded
    table = rows(out)
    for student in ("victim", "'=1+2", "'@SUM(1,1)", "'+3", "'-2", "alice-2", "张三作业", "surrogate_label",
                    "constant_plot"):
        assert float(table[student]["backprop_linear:score"]) == FULL, student
    assert float(table["alice"]["backprop_linear:score"]) == FULL  # the better of alice.py and alice.ipynb


def test_no_cell_of_grades_csv_is_a_formula(graded) -> None:
    _, out, _, _ = graded
    with open(out / "grades.csv", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row


def test_the_disk_filler_is_stopped_and_told(graded) -> None:
    _, out, _, _ = graded
    report = json.loads((out / "disk_filler" / "report.json").read_text(encoding="utf-8"))
    assert "wrote more into its folder than it may" in report["error"], report["error"]


def test_no_report_shows_a_link_or_an_image_made_of_student_text(graded) -> None:
    from markdown_it import MarkdownIt

    _, out, _, _ = graded
    render = MarkdownIt("gfm-like").render  # GitHub's flavour: tables, and web addresses made links
    for path in list(out.rglob("*.md")):
        html = render(path.read_text(encoding="utf-8"))
        assert "<a " not in html and "<img" not in html, path
    report = (out / "link_in_message" / "report.md").read_text(encoding="utf-8")
    assert "Grade revised" in report  # shown, as text


def test_every_output_is_valid_and_holds_no_control_character(graded) -> None:
    _, out, _, _ = graded
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")  # valid UTF-8: no lone surrogate was written
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text), path
        if path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".xml":
            import xml.etree.ElementTree as ET

            ET.fromstring(text.encode("utf-8"))
    control = json.loads((out / "control_bytes" / "report.json").read_text(encoding="utf-8"))
    assert "a\\x00b\\x1b[31mred\\x07" in control["error"]  # made visible, not dropped


def test_resume_never_blocks_on_a_fifo_and_regrades_what_it_cannot_read(graded, tmp_path) -> None:
    root, out, _, _ = graded
    entry = out / "victim" / "entry.json"
    saved = entry.read_bytes()
    entry.unlink()
    os.mkfifo(entry)
    try:
        with redirect_stdout(io.StringIO()):
            main(["check", str(root / "class" / "victim.py"), "--assignment", "backprop_linear", "--resume",
                  "--out", str(out)])
        assert stat.S_ISREG(os.lstat(entry).st_mode)  # graded again: the FIFO was replaced by a real entry
    finally:
        if not stat.S_ISREG(os.lstat(entry).st_mode):
            entry.unlink()
            entry.write_bytes(saved)
