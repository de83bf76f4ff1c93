"""Issue 4: diagnoses in both languages, the HTML report, the catalog, --format and --lang."""

from __future__ import annotations

import base64
import dataclasses
import re
import string

import pytest
from builders import LINEAR, parse_html, perfect, report_for
from cases import CASES, ROOT

from grader.authoring.catalog import compile_mo, extract, po_path, read_po
from grader.cli import main
from grader.diagnose import diagnose
from grader.i18n import default_language, using
from grader.report import html as html_report
from grader.report import markdown

CJK = re.compile(r"[\u4e00-\u9fff]")
DIAGNOSED = [c for c in CASES if c.diagnoses]


# -- the catalog -----------------------------------------------------------------------------------------


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def test_every_message_has_a_chinese_translation() -> None:
    catalog = read_po(po_path("zh"))
    missing = [m for m in extract() if not catalog.get(m)]
    assert not missing, f"messages without a Chinese translation (run python -m grader.authoring.catalog extract): {missing}"


def test_translations_keep_the_placeholders() -> None:
    catalog = read_po(po_path("zh"))
    wrong = {m: t for m, t in catalog.items() if m and t and _fields(m) != _fields(t)}
    assert not wrong


def test_compiled_catalog_is_up_to_date() -> None:
    po = po_path("zh")
    assert po.with_suffix(".mo").read_bytes() == compile_mo(read_po(po)), "run python -m grader.authoring.catalog compile"


@pytest.mark.parametrize(
    "env, lang",
    [({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN"}, "en"), ({}, "en"),
     ({"LANGUAGE": "zh_TW:en"}, "zh"), ({"LANG": "C.UTF-8"}, "en")],
)
def test_default_language_follows_the_locale(env, lang) -> None:
    assert default_language(env) == lang


# -- the diagnoses in both languages -----------------------------------------------------------------


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


# -- the HTML report ---------------------------------------------------------------------------------


def test_html_of_a_never_reset_gradient_shows_the_plot_and_the_diagnosis(grading) -> None:
    case = next(c for c in CASES if c.name == "linear_grad_not_reset.py")
    page = html_report.render(grading.report(case))
    parsed = parse_html(page)
    assert page.startswith("<!DOCTYPE html>") and 'name="viewport"' in page
    assert "grad_not_reset" in page and "the gradient is never reset" in page
    images = [u for u in parsed.urls if u.startswith("data:image/")]
    assert len(images) >= 2  # the loss chart and the student's own figure
    svg = base64.b64decode(next(u for u in images if u.startswith("data:image/svg+xml")).split(",", 1)[1]).decode()
    assert svg.count("<polyline") >= 2  # the student's loss and the reference
    assert all(u.startswith("data:") for u in parsed.urls), "nothing may be loaded from the network"
    assert "script" not in parsed.tags


def test_html_escapes_student_output() -> None:
    evil = '<script>alert("x")</script><img src="http://evil.example/p.png">'
    trace = dataclasses.replace(perfect(LINEAR), stdout=evil, stderr=evil)
    report = report_for(LINEAR, trace, evil + ".py")
    page = html_report.render(report)
    parsed = parse_html(page)
    assert "script" not in parsed.tags and "evil.example" not in " ".join(parsed.urls)
    assert "&lt;script&gt;" in page


def test_a_chinese_report() -> None:
    trace = dataclasses.replace(perfect(LINEAR), steps=())
    with using("zh"):
        report = report_for(LINEAR, trace, "作业.py")
        text = markdown.render(report)
        page = html_report.render(report)
    assert text.startswith("# 反向传播与 autograd：线性模型 y = w * x")
    assert "**得分：" in text and "| 检查项 | 结果 | 得分 | 说明 |" in text
    assert "没有观察到训练步骤" in text
    assert '<html lang="zh-CN">' in page and "哪里出了问题" in page


def test_format_and_lang_options(tmp_path, capsys) -> None:
    case = next(c for c in CASES if c.name == "linear_grad_not_reset.py")
    path = tmp_path / case.name
    path.write_text(case.source(), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["check", str(path), "--out", str(out), "--format", "html", "--lang", "zh"]) == 1
    assert sorted(p.name for p in (out / "linear_grad_not_reset").iterdir()) == ["entry.json", "report.html"]
    assert "梯度从未清零" in (out / "linear_grad_not_reset" / "report.html").read_text(encoding="utf-8")
    assert main(["check", str(path), "--format", "md,pdf"]) == 2
    assert "unknown format pdf" in capsys.readouterr().err
    assert main(["check", str(ROOT / "nope.py"), "--lang", "zh"]) == 2
    assert "没有这个文件或文件夹" in capsys.readouterr().err
