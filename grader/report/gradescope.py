"""results.json as Gradescope's autograder specification defines it (one test per check)."""

from __future__ import annotations

import json

from grader.grade import Report
from grader.report.markdown import render as markdown


def to_dict(report: Report) -> dict:
    return {
        "score": report.score,
        "execution_time": round(report.trace.seconds, 3),
        "output": markdown(report),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": check.id,
                "name_format": "text",
                "score": check.points,
                "max_score": check.max_points,
                "status": "passed" if check.status == "pass" else "failed",
                "output": check.message,
                "output_format": "text",
                "visibility": "visible",
            }
            for check in report.checks
        ],
        "extra_data": {"assignment": report.assignment, "diagnoses": [d.id for d in report.diagnoses]},
    }


def render(report: Report) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2, allow_nan=False) + "\n"
