"""Grade the end-to-end cases (tests/cases.py; all, or those named) with the runner the kit picks where the
POSIX-only parts are missing, in a process where they are hidden (posix_hidden.py), its children too
(CHILD_PYTHON hides them there).  Prints one JSON line per case.  Run by tests/test_portable.py:

    python grade_cases.py FOLDER CHILD_PYTHON [CASE ...]
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import posix_hidden  # noqa: E402

posix_hidden.hide()
sys.path.insert(0, str(HERE.parent))

from cases import CASES, lecture_available, needs_lecture  # noqa: E402

from grader.grade import grade  # noqa: E402
from grader.i18n import using  # noqa: E402
from grader.load import load  # noqa: E402
from grader.portable import PortableRunner  # noqa: E402
from grader.run import make_runner  # noqa: E402
from grader.spec import all_specs, get_spec  # noqa: E402


def outcome(case, folder: Path, runner) -> dict:
    forced = get_spec(case.assignment) if case.assignment else None
    with using("en"):
        submission = load(case.write(folder), all_specs(), forced)
        report = grade(submission, get_spec(submission.assignment), runner, time_limit=case.timeout)
    return {"name": case.name, "checks": {c.id: c.status for c in report.checks}, "score": report.score,
            "diagnoses": sorted(d.id for d in report.diagnoses), "error": report.error is not None,
            "error_text": report.error or "", "isolation": list(report.trace.isolation)}


def main(folder: str, python: str, names: list[str]) -> None:
    runner = make_runner(warm=True)
    print(json.dumps({"runner": type(runner).__name__, "still_there": posix_hidden.hidden()}), flush=True)
    if not isinstance(runner, PortableRunner):
        return
    runner.python = python
    cases = [c for c in CASES if (not names or c.name in names) and (not needs_lecture(c) or lecture_available())]
    with runner, ThreadPoolExecutor(max_workers=2) as pool:
        for result in pool.map(lambda case: outcome(case, Path(folder), runner), cases):
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
