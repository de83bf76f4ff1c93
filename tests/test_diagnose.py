"""grader/diagnose.py: each detector names its mistake, in English and in Chinese, with the student's line;
the fallback says where the trace departs; every detector in the registry is exercised."""

from __future__ import annotations

import dataclasses
import re

import pytest
from builders import LINEAR, perfect, report_for
from cases import CASES

from grader.diagnose import diagnose
from grader.i18n import using

CJK = re.compile(r"[\u4e00-\u9fff]")
DIAGNOSED = [c for c in CASES if c.diagnoses]


@pytest.mark.parametrize("case", DIAGNOSED, ids=[c.name for c in DIAGNOSED])
def test_diagnosis_in_both_languages(case, grading) -> None:
    report = grading.report(case)
    submission = grading.submissions[case.name]
    english = {d.id: d.message for d in report.diagnoses}
    assert set(case.diagnoses) <= set(english)
    with using("zh"):
        spec = report.spec
        chinese = {d.id: d.message for d in diagnose(spec, report.trace, report.checks, submission)}
    for diagnosis_id in case.diagnoses:
        assert CJK.search(chinese[diagnosis_id]), chinese[diagnosis_id]
        assert not CJK.search(english[diagnosis_id]), english[diagnosis_id]


def test_diagnoses_point_at_the_student_line(grading) -> None:
    by_name = {c.name: c for c in CASES}
    sign = grading.report(by_name["linear_update_sign.py"]).diagnoses[0]
    assert sign.line and "w.data = w.data + 0.01 * w.grad.data" in sign.message
    replaced = grading.report(by_name["linear_param_replaced.py"]).diagnoses[0]
    assert "`w = w - 0.01 * w.grad`" in replaced.message
    lr = next(d for d in grading.report(by_name["linear_lr_changed.py"]).diagnoses if d.id == "learning_rate")
    assert lr.evidence["estimated"] == pytest.approx(0.02, rel=1e-3)
    swapped = grading.report(by_name["quadratic_terms_swapped.py"]).diagnoses[0]
    assert "w1's gradient is what w2's should be" in swapped.message


def test_no_usual_mistake_says_so_and_where() -> None:
    trace = perfect(LINEAR)
    steps = list(trace.steps)
    steps[40] = dataclasses.replace(steps[40], grads={"w": steps[40].grads["w"] + 0.5})
    trace = dataclasses.replace(trace, steps=tuple(steps))
    report = report_for(LINEAR, trace, "x.py")
    assert [d.id for d in report.diagnoses] == ["unexplained"]
    assert "step 41 (epoch 13, sample x=2, y=4)" in report.diagnoses[0].message
