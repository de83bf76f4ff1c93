"""grader/report/markdown.py: report.md shows the score, the checks, the gradient table, what went wrong and
the program's output; student text cannot break it; it is written in Chinese when asked."""

from __future__ import annotations

import dataclasses

from builders import LINEAR, QUADRATIC, perfect, report_for

from grader.i18n import using
from grader.report import markdown
from grader.trace import EXCEPTION, Outcome


def test_markdown_shows_score_checks_and_the_gradient_table() -> None:
    text = write_md(QUADRATIC, perfect(QUADRATIC))
    assert "**Score: 10 / 10**" in text
    assert "| `first_epoch_grads` | ✅ pass | 2 / 2 |" in text
    assert "| w1.grad (yours) | w1.grad (expected) |" in text
    assert "| 2 | 2 | 4 | 22.88 | 22.88 | 11.44 | 11.44 | 5.72 | 5.72 |" in text


def write_md(spec, trace) -> str:
    return markdown.render(report_for(spec, trace))


def test_student_text_cannot_break_the_markdown() -> None:
    evil = "<script>alert(1)</script> | ``` \n# heading"
    trace = dataclasses.replace(
        perfect(LINEAR),
        outcome=Outcome(EXCEPTION, evil, exc_type="ValueError", line=3, traceback="x\n```\n" + evil),
        stdout="```\n" + evil,
    )
    text = write_md(LINEAR, trace)
    assert "<script>" not in text.split("## Where")[0]  # escaped in the table and the error line
    assert "\\<script\\>" in text  # shown as text
    assert "````text" in text  # the fence outgrows the backticks inside


def test_a_chinese_report() -> None:
    trace = dataclasses.replace(perfect(LINEAR), steps=())
    with using("zh"):
        report = report_for(LINEAR, trace, "作业.py")
        text = markdown.render(report)
    assert text.startswith("# 反向传播与 autograd：线性模型 y = w * x")
    assert "**得分：" in text and "| 检查项 | 结果 | 得分 | 说明 |" in text
    assert "没有观察到训练步骤" in text


def test_a_failed_run_shows_its_error_diagnosis_traceback_notes_and_output() -> None:
    trace = perfect(LINEAR)
    steps = list(trace.steps)
    steps[40] = dataclasses.replace(steps[40], grads={"w": steps[40].grads["w"] + 0.5})
    stdout = "\n".join(f"epoch {i}" for i in range(100))
    trace = dataclasses.replace(
        trace, steps=tuple(steps), stdout=stdout, stderr="a warning\n", notes=("The grader noticed this.",),
        outcome=Outcome(EXCEPTION, "boom", exc_type="ValueError", line=3, traceback="Traceback (most recent call last):\nValueError: boom"))
    text = write_md(LINEAR, trace)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## What went wrong", "## First-epoch gradients", "## Where your program stopped", "## Notes",
                        "## Output (stdout)", "## Errors (stderr)"]
    assert "> ⚠️ Your program stopped with ValueError (line 3): boom." in text
    assert "- **no usual mistake matches** (`unexplained`) — No usual mistake matches" in text
    assert "| `runs` | ❌ fail | 0 / 1 |" in text
    assert "```text\nTraceback (most recent call last):\nValueError: boom\n```" in text
    assert "- The grader noticed this." in text
    assert "epoch 0\n" in text and "epoch 99\n" in text and "[... 60 lines left out ...]" in text
    assert "epoch 50\n" not in text


def test_a_missing_gradient_is_a_dash_in_the_table() -> None:
    text = write_md(LINEAR, dataclasses.replace(perfect(LINEAR), steps=perfect(LINEAR).steps[:1]))
    assert "| 1 | 1 | 2 | -2 | -2 |" in text and "| 3 | 3 | 6 | — | -16.2288 |" in text
