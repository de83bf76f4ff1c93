"""Shared fixtures: every case of tests/cases.py is graded once per session, two at a time, by one warm
fork server for the whole session (a few cases by the one-process-per-run runner, which grades single files)."""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, Case, lecture_available, needs_lecture  # noqa: E402

from grader.grade import Report, grade  # noqa: E402
from grader.i18n import set_language, using  # noqa: E402
from grader.load import load  # noqa: E402
from grader.run import ForkServerRunner, SubprocessRunner  # noqa: E402
from grader.spec import all_specs, get_spec  # noqa: E402


class Grading:
    """Grades cases in the background as soon as the session starts; ``report(case)`` waits for one."""

    # Graded by a fresh Python each, as `grader check FILE` does: a script, a notebook, a failing program.
    ON_SUBPROCESS = frozenset({"backprop_linear.py", "skeleton_quadratic.py", "backprop_quadratic_nb.ipynb",
                               "linear_infinite_loop.py", "linear_sys_exit.py", "lecture_homework.py"})

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server = ForkServerRunner()
        self.pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
        self.futures: dict[str, Future] = {}
        self.submissions: dict[str, object] = {}

    def submit(self, case: Case) -> None:
        if case.name not in self.futures:
            self.futures[case.name] = self.pool.submit(self._grade, case)

    def _grade(self, case: Case) -> Report:
        with using("en"):  # whatever language a test sets meanwhile in the main thread
            return self._grade_in_english(case)

    def _grade_in_english(self, case: Case) -> Report:
        path = self.folder / case.name
        content = case.source()
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        forced = get_spec(case.assignment) if case.assignment else None
        submission = load(path, all_specs(), forced)
        self.submissions[case.name] = submission
        runner = SubprocessRunner() if case.name in self.ON_SUBPROCESS else self.server
        return grade(submission, get_spec(submission.assignment), runner, time_limit=case.timeout)

    def report(self, case: Case) -> Report:
        self.submit(case)
        return self.futures[case.name].result()


@pytest.fixture(scope="session")
def grading(tmp_path_factory) -> Grading:
    grading = Grading(tmp_path_factory.mktemp("cases"))
    for case in CASES:
        if not needs_lecture(case) or lecture_available():
            grading.submit(case)
    yield grading
    grading.pool.shutdown(wait=True, cancel_futures=True)
    grading.server.close()


@pytest.fixture(autouse=True)
def english_by_default():
    """Each test starts in English, whatever an earlier one chose."""
    set_language("en")
    yield
    set_language("en")
