"""Grade real submissions in real child processes and compare the outcome of every check."""

from __future__ import annotations

import pytest
from builders import require_lecture
from cases import CASES, GRADED, Case, needs_lecture


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
