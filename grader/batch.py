"""Grading many submissions: plan the jobs, run them in parallel, remember each result.

A batch is a list of paths: a file is one student's submission (the student id is its name without
extension); a folder holds one file per student, or one folder per student with a file per assignment.
Each graded submission leaves its reports and an ``entry.json`` (what the gradebook needs) in its report
folder, written last and atomically; ``--resume`` skips a submission whose entry has the same fingerprint
(file content, assignment, kit version, time limit).  The gradebook and summaries are built from the
entries alone, so shards graded on different machines merge back into one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from grader import __version__
from grader.errors import UsageError
from grader.grade import Report, grade
from grader.i18n import _
from grader.load import SOURCE_SUFFIXES, Submission, load
from grader.report import atomic_write, write_reports
from grader.run import Runner
from grader.spec import Spec, get_spec
from grader.trace import FINISHED, TIMEOUT

ENTRY = "entry.json"


@dataclass(frozen=True)
class Job:
    student: str
    path: Path
    nested: bool  # the student's folder holds a file per assignment: reports go to OUT/<student>/<assignment>
    explicit: bool = False  # named on the command line: a file that cannot be graded is a usage error


@dataclass(frozen=True)
class Entry:
    """One graded submission, as the gradebook sees it."""

    student: str
    assignment: str
    submission: str
    folder: str  # report folder, relative to OUT
    score: float
    max_score: float
    status: str  # graded | timeout | error
    error: str | None
    points: dict  # check id -> points
    statuses: dict  # check id -> pass | fail | error
    diagnoses: tuple
    seconds: float
    fingerprint: str
    kit_version: str = __version__

    @property
    def full_marks(self) -> bool:
        return self.status == "graded" and self.score >= self.max_score

    @staticmethod
    def from_json(data: dict) -> "Entry":
        fields = {k: data[k] for k in Entry.__dataclass_fields__ if k in data}
        fields["diagnoses"] = tuple(fields.get("diagnoses", ()))
        return Entry(**fields)


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "__"))


def plan(paths: Iterable[str]) -> list[Job]:
    jobs: list[Job] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            if path.suffix not in SOURCE_SUFFIXES:
                raise UsageError(_("{path}: cannot grade a {kind} file; give a .py or .ipynb file").format(
                    path=path, kind=path.suffix or _("extension-less")))
            jobs.append(Job(path.stem, path, nested=False, explicit=True))
        elif path.is_dir():
            entries = sorted(p for p in path.iterdir() if _visible(p))
            found = [Job(p.stem, p, False) for p in entries if p.is_file() and p.suffix in SOURCE_SUFFIXES]
            for folder in (p for p in entries if p.is_dir()):
                files = sorted(f for f in folder.iterdir() if f.is_file() and _visible(f) and f.suffix in SOURCE_SUFFIXES)
                found += [Job(folder.name, f, True) for f in files]
            if not found:
                raise UsageError(_("{path}: the folder holds no .py or .ipynb file to grade").format(path=path))
            jobs += found
        elif path.exists():
            raise UsageError(_("{path}: not a file or a folder").format(path=path))
        else:
            raise UsageError(_("{path}: no such file or folder").format(path=path))
    seen: set[Path] = set()
    unique = []
    for job in jobs:
        key = job.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(job)
    return unique


def shard(jobs: Sequence[Job], k: int, n: int) -> list[Job]:
    """The K-th of N shards (1-based): by a hash of the student id, so a student's files stay together
    and a shard does not change when other students are added."""
    return [j for j in jobs if int(hashlib.sha256(j.student.encode()).hexdigest(), 16) % n == k - 1]


def fingerprint(data: bytes, assignment: str, time_limit: float | None) -> str:
    digest = hashlib.sha256(data)
    digest.update(f"\0{assignment}\0{__version__}\0{time_limit}".encode())
    return digest.hexdigest()


def entry_for(report: Report, student: str, folder: str, fp: str) -> Entry:
    status = report.trace.outcome.status
    return Entry(
        student=student,
        assignment=report.assignment,
        submission=report.submission,
        folder=folder,
        score=report.score,
        max_score=report.max_score,
        status="graded" if status == FINISHED else ("timeout" if status == TIMEOUT else "error"),
        error=report.error,
        points={c.id: c.points for c in report.checks},
        statuses={c.id: c.status for c in report.checks},
        diagnoses=tuple(d.id for d in report.diagnoses),
        seconds=round(report.trace.seconds, 3),
        fingerprint=fp,
    )


def read_entry(folder: Path) -> Entry | None:
    try:
        return Entry.from_json(json.loads((folder / ENTRY).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def read_entries(out: Path) -> list[Entry]:
    """Every entry under a report folder (a batch's OUT, or a shard's)."""
    entries = [read_entry(p.parent) for p in sorted(out.rglob(ENTRY))]
    return [e for e in entries if e is not None]


@dataclass(frozen=True)
class JobResult:
    """What became of one job: its entry (graded now or resumed), or the problem that kept it from being
    graded, and where its report is."""

    entry: Entry | None
    skipped: bool = False  # resumed: the entry was already there
    problem: str | None = None  # could not even be loaded (no assignment)
    job: Job | None = None
    report_path: Path | None = None


class Slots(Runner):
    """A runner that lets at most ``count`` submissions run at once, whatever the number of threads."""

    def __init__(self, runner: Runner, count: int) -> None:
        self.runner, self.slots = runner, threading.BoundedSemaphore(count)

    def run(self, submission: Submission, spec: Spec, probes, limits):
        with self.slots:
            return self.runner.run(submission, spec, probes, limits)


def _load(job: Job, specs: Sequence[Spec], forced: Spec | None) -> Submission:
    """In a student's folder each file's name says its assignment; --assignment is the fallback there.
    A file given alone or in a flat folder is the assignment --assignment names, when it names one."""
    if job.nested and forced is not None:
        try:
            return load(job.path, specs, None)
        except UsageError:
            return load(job.path, specs, forced)
    return load(job.path, specs, forced)


def run_batch(
    jobs: Sequence[Job],
    specs: Sequence[Spec],
    out: Path,
    runner: Runner,
    *,
    forced: Spec | None,
    formats: Sequence[str],
    workers: int,
    resume: bool,
    time_limit: float | None,
    seed: int | None,
    on_done: Callable[[JobResult], None],
    on_report: Callable[[Report], None] | None = None,
) -> list[JobResult]:
    """Load every job (in order, so report folders are the same on every run), then grade them in parallel.
    ``on_done`` is called as each finishes, ``on_report`` with each new report once its files are written;
    the results come back in job order."""
    results: list[JobResult | None] = [None] * len(jobs)
    todo = []
    used: dict[str, int] = {}
    for index, job in enumerate(jobs):
        try:
            submission = _load(job, specs, forced)
        except UsageError as exc:
            if job.explicit:
                raise
            results[index] = JobResult(None, problem=exc.message, job=job)
            on_done(results[index])
            continue
        base = f"{job.student}/{submission.assignment}" if job.nested else job.student
        used[base] = used.get(base, 0) + 1
        folder = base if used[base] == 1 else f"{base}-{used[base]}"
        fp = fingerprint(job.path.read_bytes(), submission.assignment, time_limit)
        previous = read_entry(out / folder) if resume else None
        if previous is not None and previous.fingerprint == fp:
            results[index] = JobResult(previous, skipped=True, job=job, report_path=out / folder)
            on_done(results[index])
            continue
        todo.append((index, job, submission, folder, fp))

    def one(job: Job, submission: Submission, folder: str, fp: str) -> JobResult:
        report = grade(submission, get_spec(submission.assignment), runner, time_limit=time_limit, seed=seed)
        written = write_reports(report, out / folder, formats)
        if on_report is not None:
            on_report(report)
        entry = entry_for(report, job.student, folder, fp)
        atomic_write(out / folder / ENTRY, json.dumps(asdict(entry), ensure_ascii=False, indent=1) + "\n")
        shown = written.get("md") or next(iter(written.values()), out / folder)
        return JobResult(entry, job=job, report_path=shown)

    # ``workers`` children run at once; twice as many threads, so that one writing its reports (waiting
    # for the disk) never keeps a child from starting.
    runner = Slots(runner, max(1, workers))
    with ThreadPoolExecutor(max_workers=2 * max(1, workers)) as pool:
        futures = {pool.submit(one, job, sub, folder, fp): index for index, job, sub, folder, fp in todo}
        for future in as_completed(futures):
            results[futures[future]] = result = future.result()
            on_done(result)
    return [r for r in results if r is not None]
