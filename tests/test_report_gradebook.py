"""grader/report/gradebook.py: grades.csv and the class summaries (summary.md, summary.html), from a graded
class and from hand-made entries."""

from __future__ import annotations

import csv
import io
import json

from builders import parse_html

from grader.batch import Entry
from grader.report.gradebook import grades_csv, summary_html, summary_md

LINEAR_CHECKS = ["forward", "loss", "first_epoch_grads", "training", "final_prediction", "runs", "plot"]


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


def sections(page) -> dict[str, dict]:
    """summary.html read as a teacher reads it: per assignment (an h2), its opening line and the element
    under each h3 heading."""
    found: dict[str, dict] = {}
    current = heading = None
    for element in page.root.find("main").elements():
        if element.tag == "h2":
            current = found.setdefault(element.text(), {})
        elif element.tag == "p" and current is not None and "intro" not in current:
            current["intro"] = element.text()
        elif element.tag == "h3":
            heading = element.text()
        elif element.tag in ("table", "ul") and current is not None:
            current[heading] = element
    return found


def rows(table) -> list[list[str]]:
    """The data rows of a table (header rows, made of th, left out), as the text of each cell."""
    return [[td.text() for td in tr.find_all("td")] for tr in table.find_all("tr") if tr.find_all("td")]


def items(listing) -> list[str]:
    return [li.text() for li in listing.find_all("li")]


def test_summary_html_shows_each_assignment_of_the_class(graded_class) -> None:
    _, out, _, _ = graded_class
    text = (out / "summary.html").read_text(encoding="utf-8")
    page = parse_html(text)
    assert text.startswith("<!DOCTYPE html>") and "script" not in page.tags and page.urls == []
    assert page.root.find("h1").text() == "Class summary"
    found = sections(page)
    assert list(found) == ["backprop_linear", "backprop_quadratic"]

    linear = found["backprop_linear"]
    # alice 10, bob 5, carol 0, dan 9, erin 10, frank 10, mallory 0
    assert linear["intro"] == "7 submissions, mean score 6.29 / 10, 3 with full marks."
    histogram = rows(linear["Scores"])
    assert [row[:2] for row in histogram] == [[str(s), str({0: 2, 5: 1, 9: 1, 10: 3}.get(s, 0))] for s in range(11)]
    bars = {row[0]: tr.find("span").attrs["style"] for row, tr in
            zip(histogram, [tr for tr in linear["Scores"].find_all("tr") if tr.find_all("td")])}
    assert bars["10"] == "width:200px" and bars["1"] == "width:0px" and bars["0"] == "width:133px"
    assert dict(rows(linear["Pass rate per check"])) == {
        "forward": "71%", "loss": "71%", "first_epoch_grads": "57%", "training": "57%", "final_prediction": "57%",
        "runs": "57%", "plot": "57%"}
    assert [r[0] for r in rows(linear["Pass rate per check"])] == LINEAR_CHECKS  # in report order
    assert items(linear["Most common diagnoses"]) == ["grad_not_reset: 1"]
    stopped = items(linear["Did not run to the end"])
    assert [line.split(":", 1)[0] for line in stopped] == ["carol (error)", "dan (timeout)", "mallory (error)"]
    for line, student in zip(stopped, ("carol", "dan", "mallory")):  # each error shown whole, as the entry has it
        graded = json.loads((out / student / "entry.json").read_text(encoding="utf-8"))
        assert line == " ".join(f"{student} ({graded['status']}): {graded['error']}".split())
    assert "syntax error (line 6 of carol.py)" in stopped[0] and "the time limit is 2 s" in stopped[1]
    slowest = items(linear["Slowest"])
    assert len(slowest) == 5 and all(line.endswith(" s") for line in slowest)
    seconds = [float(line.rsplit(": ", 1)[1][:-2]) for line in slowest]
    assert seconds == sorted(seconds, reverse=True)

    quadratic = found["backprop_quadratic"]  # frank's homework: gradients never reset, half the learning rate
    assert quadratic["intro"] == "1 submissions, mean score 5.00 / 10, 0 with full marks."
    assert [row[:2] for row in rows(quadratic["Scores"])] == [[str(s), "1" if s == 5 else "0"] for s in range(11)]
    assert dict(rows(quadratic["Pass rate per check"])) == {
        "forward": "100%", "loss": "100%", "first_epoch_grads": "0%", "training": "0%", "final_prediction": "0%",
        "runs": "100%", "plot": "100%"}
    assert items(quadratic["Most common diagnoses"]) == ["grad_not_reset: 1", "learning_rate: 1"]
    assert items(quadratic["Did not run to the end"]) == ["none"]
    assert [line.split(":")[0] for line in items(quadratic["Slowest"])] == ["frank"]


# -- from hand-made entries ------------------------------------------------------------------------------


def entry(student, assignment="backprop_linear", score=10.0, status="graded", error=None, diagnoses=(),
          seconds=1.0, folder=None, **statuses) -> Entry:
    checks = {c: statuses.get(c, "pass") for c in LINEAR_CHECKS}
    return Entry(student=student, assignment=assignment, submission=f"{student}.py", folder=folder or student,
                 score=score, max_score=10.0, status=status, error=error,
                 points={c: (1.0 if s == "pass" else 0.0) for c, s in checks.items()}, statuses=checks,
                 diagnoses=tuple(diagnoses), seconds=seconds, fingerprint="f")


def test_grades_csv_has_a_row_per_student_and_marks_what_is_missing() -> None:
    entries = [entry("zoe", score=7.5, training="fail"), entry("amy", "backprop_quadratic", score=4.0),
               entry("amy", score=3.0, folder="amy-1"), entry("amy", score=6.0, folder="amy-2")]
    table = list(csv.DictReader(io.StringIO(grades_csv(entries))))
    assert [r["student"] for r in table] == ["amy", "zoe"]
    amy, zoe = table
    assert amy["backprop_linear:score"] == "6"  # two files for one assignment: the better one counts
    assert amy["backprop_quadratic:score"] == "4" and amy["backprop_quadratic:status"] == "graded"
    assert zoe["backprop_linear:score"] == "7.5" and zoe["backprop_linear:training"] == "0"
    assert zoe["backprop_quadratic:status"] == "missing" and zoe["backprop_quadratic:score"] == ""


def test_summaries_count_diagnoses_and_escape_student_text() -> None:
    evil = '<script>alert(1)</script>`x`\n# heading'
    entries = [entry("ann", score=5.0, diagnoses=("grad_not_reset", "learning_rate"), training="fail"),
               entry("ben", score=4.0, diagnoses=("grad_not_reset",), training="fail"),
               entry(evil, score=0.0, status="error", error=evil + " | broken", runs="fail", seconds=3.0)]
    page = parse_html(summary_html(entries))
    assert "script" not in page.tags
    (found,) = sections(page).values()
    assert found["intro"] == "3 submissions, mean score 3.00 / 10, 0 with full marks."
    assert items(found["Most common diagnoses"]) == ["grad_not_reset: 2", "learning_rate: 1"]
    assert dict(rows(found["Pass rate per check"]))["training"] == "33%"
    assert items(found["Did not run to the end"]) == [" ".join(f"{evil} (error): {evil} | broken".split())]
    assert items(found["Slowest"])[0].startswith("<script>")  # shown as text, not run
    text = summary_md(entries)
    assert "<script>" not in text and "\\<script\\>" in text
    assert "\n# heading" not in text  # a student's line break cannot start a heading
    assert "- `grad_not_reset`: 2\n- `learning_rate`: 1" in text


def test_an_empty_list_of_diagnoses_and_failures_says_none() -> None:
    text = summary_md([entry("amy")])
    assert "### Most common diagnoses\n\n- none" in text and "### Did not run to the end\n\n- none" in text
