"""Real submissions graded in real child processes: the outcome of every check of every case in cases.py,
and odd but honest files (GBK, BOM, CRLF, tabs, a Chinese name) graded like their plain twin."""

from __future__ import annotations

import pytest
from builders import check_quietly, require_lecture
from cases import CASES, GRADED, ROOT, Case, needs_lecture

SOLUTION = ROOT / "solutions" / "backprop_linear.py"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, grading) -> None:
    if needs_lecture(case):
        require_lecture()
    report = grading.report(case)
    got = {check.id: check.status for check in report.checks if check.id in GRADED}
    messages = {check.id: check.message for check in report.checks}
    assert not any("malformed message" in note for note in report.notes), report.notes  # the protocol held
    assert got == case.expect, messages
    assert report.score == case.score, messages
    for check_id, fragment in case.message.items():
        assert fragment in messages[check_id], messages[check_id]
    if case.diagnoses is not None:
        assert tuple(sorted(d.id for d in report.diagnoses)) == tuple(sorted(case.diagnoses)), report.diagnoses
    if all(status == "pass" for status in case.expect.values()):
        assert report.diagnoses == (), report.diagnoses
    for fragment in case.notes:
        assert any(fragment in note for note in report.notes), report.notes
    if case.error:
        assert report.error and case.error in report.error, report.error
    elif all(status == "pass" for status in case.expect.values()):
        assert report.error is None
        assert report.full_marks


def _twins(folder):
    text = SOLUTION.read_text(encoding="utf-8")
    commented = text.replace("x_data = [1.0, 2.0, 3.0]", "# 训练数据（中文注释）\nx_data = [1.0, 2.0, 3.0]  # 输入")
    (folder / "gbk_backprop_linear.py").write_bytes(commented.encode("gbk"))
    (folder / "bom_backprop_linear.py").write_bytes(b"\xef\xbb\xbf" + commented.encode("utf-8"))
    (folder / "crlf_backprop_linear.py").write_bytes(commented.replace("\n", "\r\n").encode("utf-8"))
    tabs = "\n".join(line.replace("    ", "\t") if line.startswith("    ") else line for line in text.splitlines())
    (folder / "tabs_backprop_linear.py").write_text(tabs.replace("\t\t", "\t\t"), encoding="utf-8")
    (folder / "线性模型_backprop_linear.py").write_text(commented, encoding="utf-8")


def test_odd_but_honest_files_grade_like_their_twin(tmp_path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    _twins(folder)
    out = tmp_path / "out"
    code, reports = check_quietly(folder, out, "--jobs", "2")
    scores = {name: report["score"] for name, report in reports.items()}
    assert scores == {name: 10 for name in ("gbk_backprop_linear", "bom_backprop_linear", "crlf_backprop_linear",
                                            "tabs_backprop_linear", "线性模型_backprop_linear")}
    assert code == 0
