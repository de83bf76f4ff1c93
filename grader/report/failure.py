"""The report of a submission the grader failed on: no points, what failed, and that it is not a grade.

Written when grading, parsing or reporting one submission raised, so that the submission still has a
report and a row in the gradebook (status ``grader-error``) and the batch goes on.  It reads no Report:
whatever broke may have broken that too.
"""

from __future__ import annotations

import json

from grader import __version__
from grader.i18n import _
from grader.report.text import inline


def explanation(reason: str) -> str:
    return _("The grader failed on this submission and could not grade it ({reason}). This is not a grade: "
             "the instructor will look at it.").format(reason=reason)


def render_md(title: str, submission: str, assignment: str, max_score: float, reason: str) -> str:
    return "\n".join([
        f"# {title}",
        "",
        _("Submission: `{name}` · assignment `{assignment}`").format(name=submission.replace("`", "'"),
                                                                  assignment=assignment),
        "",
        _("**Score: {score} / {max}**").format(score=0, max=f"{max_score:g}"),
        "",
        f"> ⚠️ {inline(explanation(reason))}",
        "",
    ])


def render_json(submission: str, assignment: str, max_score: float, reason: str) -> str:
    data = {"kit": {"name": "backprop-grader", "version": __version__}, "assignment": assignment,
            "submission": submission, "score": 0, "max_score": max_score, "status": "grader-error",
            "error": explanation(reason), "checks": [], "diagnoses": []}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
