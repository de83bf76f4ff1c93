"""GitHub Actions: the Markdown report on the job's summary page, and annotations for what failed.

Workflow commands are lines of stdout that start with ``::``.  Everything from the student (messages,
file names, output) is escaped by GitHub's rules before it is printed, so it cannot end a command's line
and start another; and all other output of a run is printed between ``::stop-commands::TOKEN`` and
``::TOKEN::``, so nothing in it is read as a command at all.
"""

from __future__ import annotations

import os
import secrets
import threading
from typing import TextIO

from grader.grade import Report
from grader.report.markdown import render as markdown


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(report: Report, source_path: str) -> list[str]:
    """One ``::error`` line per failed check and per diagnosis, pointing at the student's file and line."""
    lines = []
    outcome_line = report.trace.outcome.line
    for check in report.checks:
        if check.status in ("fail", "error") and check.max_points > 0:
            props = f"file={escape_property(source_path)},title={escape_property(f'{report.assignment}: {check.id}')}"
            if check.id == "runs" and outcome_line:
                props += f",line={outcome_line}"
            lines.append(f"::error {props}::{escape_data(check.message)}")
    for diagnosis in report.diagnoses:
        props = f"file={escape_property(source_path)},title={escape_property(diagnosis.id)}"
        if diagnosis.line and diagnosis.file and ", cell" not in diagnosis.file:
            props += f",line={diagnosis.line}"
        lines.append(f"::error {props}::{escape_data(diagnosis.message)}")
    return lines


class GitHubSink:
    """Collects annotations during a run, appends each report to $GITHUB_STEP_SUMMARY, and prints the
    annotations at the end, outside the stretch where workflow commands are stopped."""

    def __init__(self, stream: TextIO, environ=os.environ) -> None:
        self.stream = stream
        self.summary = environ.get("GITHUB_STEP_SUMMARY")
        self.token = secrets.token_hex(16)
        self.pending: list[str] = []
        self.lock = threading.Lock()  # reports arrive from the batch's worker threads

    def start(self) -> None:
        print(f"::stop-commands::{self.token}", file=self.stream, flush=True)

    def add(self, report: Report, source_path: str) -> None:
        lines, text = annotations(report, source_path), markdown(report) + "\n"
        with self.lock:
            self.pending += lines
            if self.summary:
                with open(self.summary, "a", encoding="utf-8") as handle:
                    handle.write(text)

    def finish(self) -> None:
        print(f"::{self.token}::", file=self.stream, flush=True)
        for line in self.pending:
            print(line, file=self.stream, flush=True)

