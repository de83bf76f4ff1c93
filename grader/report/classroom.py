"""classroom.json: the result format GitHub Classroom's grading reporter reads
(``classroom-resources/autograding-grading-reporter``), so the instructor's Classroom dashboard shows each
student's points out of the assignment's, not only a red or green run.  One test per check, scored with
its points; ``python -m grader.report.classroom OUT`` joins every classroom.json under a --out folder and
prints it base64-encoded, the value the reporter takes from ``<RUNNER>_RESULTS``
(integrations/github-classroom/classroom.yml).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from grader.grade import Report
from grader.i18n import _, default_language, set_language


def to_dict(report: Report) -> dict:
    return {
        "version": 1,
        "status": "pass" if report.full_marks else "fail",
        "max_score": report.max_score,
        "tests": [
            {
                "name": f"{report.submission}: {check.id}",
                "status": "pass" if check.status == "pass" else ("error" if check.status == "error" else "fail"),
                "score": check.points,
                "message": check.message,
                "test_code": check.id,
                "execution_time": f"{report.trace.seconds:.2f}s",
            }
            for check in report.checks
        ],
    }


def render(report: Report) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def joined(out: Path) -> dict:
    """Every classroom.json under ``out`` as one result (no file graded: a failed result worth 0)."""
    parts = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(out.rglob("classroom.json"))]
    if not parts:
        return {"version": 1, "status": "fail", "max_score": 0,
                "tests": [{"name": "grader", "status": "fail", "score": 0,
                           "message": _("No .py or .ipynb file of an assignment was graded.")}]}
    return {"version": 1,
            "status": "pass" if all(p["status"] == "pass" for p in parts) else "fail",
            "max_score": sum(p["max_score"] for p in parts),
            "tests": [test for p in parts for test in p["tests"]]}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m grader.report.classroom OUT", file=sys.stderr)
        return 2
    set_language(default_language())
    print(base64.b64encode(json.dumps(joined(Path(argv[0])), ensure_ascii=False).encode("utf-8")).decode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
