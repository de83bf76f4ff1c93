"""report.json: the whole result as strict JSON (no NaN or Infinity literals)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from grader.diagnose import title as diagnosis_title
from grader.grade import Report
from grader.report.text import first_epoch_rows, saved_at
from grader.protocol import encode_number, plain


def to_dict(report: Report) -> dict[str, Any]:
    trace = report.trace
    return {
        "kit": {"name": "backprop-grader", "version": report.kit_version},
        "assignment": report.assignment,
        "title": report.title,
        "submission": report.submission,
        "saved_at": saved_at(report),
        "score": report.score,
        "max_score": report.max_score,
        "error": report.error,
        "outcome": asdict(trace.outcome),
        "checks": [asdict(check) for check in report.checks],
        "diagnoses": [{**asdict(diagnosis), "title": diagnosis_title(diagnosis.id)} for diagnosis in report.diagnoses],
        "first_epoch": first_epoch_rows(report),
        "final": {
            "params": {k: encode_number(v) for k, v in trace.final_params.items()},
            "prediction": encode_number(trace.prediction),
            "expected_params": dict(report.reference.final_params),
            "expected_prediction": report.reference.prediction,
        },
        "run": {"seconds": round(trace.seconds, 3), "backward_passes": trace.backward_count,
                "isolation": list(trace.isolation)},
        "notes": list(report.notes),
        "stdout": trace.stdout,
        "stderr": trace.stderr,
    }


def render(report: Report) -> str:
    return json.dumps(plain(to_dict(report)), ensure_ascii=False, indent=2, allow_nan=False) + "\n"
