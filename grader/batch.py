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
import os
import stat
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from grader import __version__
from grader.check import at_line
from grader.diagnose import title as diagnosis_title
from grader.errors import UsageError
from grader.grade import Report, grade
from grader.i18n import _
from grader.load import SOURCE_SUFFIXES, Submission, load, readable_name
from grader.protocol import visible
from grader.report import atomic_write, atomic_write_all, failure, write_reports
from grader.run import Runner
from grader.spec import Spec, find_spec
from grader.trace import FINISHED, TIMEOUT

ENTRY = "entry.json"
GRADED, TIMED_OUT, ERROR, GRADER_ERROR = "graded", "timeout", "error", "grader-error"
# What became of a graded submission: it ran to its end; its time ran out; it stopped (an exception, a
# crash, a file that cannot be run); or the grader itself failed on it (the reason is in the entry).
STATUSES = (GRADED, TIMED_OUT, ERROR, GRADER_ERROR)


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
    status: str  # graded | timeout | error | grader-error (see STATUSES)
    error: str | None
    points: dict  # check id -> points
    statuses: dict  # check id -> pass | fail | error
    diagnoses: tuple
    seconds: float
    fingerprint: str
    kit_version: str = __version__
    isolation: tuple = ()  # the walls its child had (grader/protocol.py ISOLATION_LAYERS)
    hint: str | None = None  # the first diagnosis in a few words, with the line to look at (console line)

    @property
    def full_marks(self) -> bool:
        return self.status == GRADED and self.score >= self.max_score

    @staticmethod
    def from_json(data: dict) -> "Entry":
        fields = {k: data[k] for k in Entry.__dataclass_fields__ if k in data}
        fields["diagnoses"] = tuple(fields.get("diagnoses", ()))
        fields["isolation"] = tuple(fields.get("isolation", ()))
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
            jobs.append(Job(readable_name(path.stem), path, nested=False, explicit=True))
        elif path.is_dir():
            entries = sorted(p for p in path.iterdir() if _visible(p))
            found = [Job(readable_name(p.stem), p, False) for p in entries if p.is_file() and p.suffix in SOURCE_SUFFIXES]
            for folder in (p for p in entries if p.is_dir()):
                files = sorted(f for f in folder.iterdir() if f.is_file() and _visible(f) and f.suffix in SOURCE_SUFFIXES)
                found += [Job(readable_name(folder.name), f, True) for f in files]
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
        status=GRADED if status == FINISHED else (TIMED_OUT if status == TIMEOUT else ERROR),
        error=report.error,
        points={c.id: c.points for c in report.checks},
        statuses={c.id: c.status for c in report.checks},
        diagnoses=tuple(d.id for d in report.diagnoses),
        seconds=round(report.trace.seconds, 3),
        fingerprint=fp,
        isolation=tuple(report.trace.isolation),
        hint=hint(report),
    )


def hint(report: Report) -> str | None:
    """``id: a few words (line N of file)`` for the first diagnosis, in the report's language."""
    if not report.diagnoses:
        return None
    first = report.diagnoses[0]
    where = at_line(first.line, first.file) if first.file else ""
    return f"{first.id}: {diagnosis_title(first.id)}{where}"


def failed_entry(job: Job, submission: Submission, spec: Spec, folder: str, fp: str, reason: str) -> Entry:
    """The entry of a submission the grader failed on: no points, and why."""
    return Entry(
        student=job.student, assignment=spec.name, submission=submission.display_name, folder=folder, score=0.0,
        max_score=spec.max_score, status=GRADER_ERROR, error=reason, points={c.id: 0.0 for c in spec.checks},
        statuses={c.id: "error" for c in spec.checks}, diagnoses=(), seconds=0.0, fingerprint=fp,
    )


def write_entry(folder: Path, entry: Entry) -> None:
    atomic_write(folder / ENTRY, json.dumps(asdict(entry), ensure_ascii=False, indent=1) + "\n")


def read_entry(folder: Path) -> Entry | None:
    """The entry a report folder holds, or None: a missing, unreadable or malformed file, or anything but
    a regular file (a FIFO left there would block a plain read)."""
    path = folder / ENTRY
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(1_000_000)
        return Entry.from_json(json.loads(data.decode("utf-8")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
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
    interrupted: bool = False  # the batch was stopped before this job ended: nothing was recorded


@dataclass(frozen=True)
class BatchRun:
    """The results of a batch, in job order, and whether it was stopped before every job ended."""

    results: tuple[JobResult, ...]
    interrupted: bool = False

    @property
    def entries(self) -> list[Entry]:
        return [r.entry for r in self.results if r.entry is not None]


class Slots(Runner):
    """A runner that lets at most ``count`` submissions run at once, whatever the number of threads."""

    def __init__(self, runner: Runner, count: int) -> None:
        self.runner, self.slots = runner, threading.BoundedSemaphore(count)
        self.stopped = False

    def run(self, submission: Submission, spec: Spec, probes, limits):
        with self.slots:
            if self.stopped:  # told to stop while this one waited for its turn: it never starts
                raise InterruptedError("the batch was stopped")
            return self.runner.run(submission, spec, probes, limits)

    def abort(self) -> None:
        self.stopped = True
        self.runner.abort()


def _load(job: Job, specs: Sequence[Spec], forced: Spec | None) -> Submission:
    """In a student's folder each file's name says its assignment; --assignment is the fallback there.
    A file given alone or in a flat folder is the assignment --assignment names, when it names one."""
    if job.nested and forced is not None:
        try:
            return load(job.path, specs, None)
        except UsageError:
            return load(job.path, specs, forced)
    return load(job.path, specs, forced)


def _folder_name(name: str) -> str:
    """A name that stays one folder below OUT (no '.' or '..', nothing hidden)."""
    return "_" + name if name.startswith(".") or not name else name


def report_folders(bases: Sequence[str], paths: Sequence[Path]) -> list[str]:
    """One report folder per job, never shared, the same on every run of the same files: the job's base
    (the student, or student/assignment); where several jobs share a base, each adds its file's name
    (alice~alice.py, alice~alice.ipynb), and where that is shared too, a digest of the file's path."""
    firsts = [_folder_name(base) for base in bases]
    names = list(firsts)
    steps = (lambda i: f"{firsts[i]}~{readable_name(paths[i].name)}",
             lambda i: f"{firsts[i]}~{hashlib.sha256(os.fsencode(paths[i].resolve())).hexdigest()[:10]}")
    for step in steps:
        counts = Counter(names)
        shared = [i for i, name in enumerate(names) if counts[name] > 1]
        for i in shared:
            names[i] = step(i)
    if len(set(names)) != len(names):  # two paths with one digest: not in this universe
        raise RuntimeError("report folders collide")
    return names


def _failure(job: Job, submission: Submission, spec: Spec, out: Path, name: str, fp: str,
             exc: BaseException) -> JobResult:
    """What is recorded when grading, parsing or reporting one submission raised: an entry saying why, and
    a report if one can still be written."""
    reason = visible(f"{type(exc).__name__}: {exc}", 500)
    entry = failed_entry(job, submission, spec, name, fp, reason)
    folder, shown = out / name, None
    try:
        atomic_write_all(folder, {
            "report.md": failure.render_md(spec.title_in(), submission.display_name, spec.name, spec.max_score, reason),
            "report.json": failure.render_json(submission.display_name, spec.name, spec.max_score, reason),
        })
        write_entry(folder, entry)
        shown = folder / "report.md"
    except Exception:  # noqa: BLE001 - the folder itself is the trouble: the gradebook still gets the entry
        pass
    return JobResult(entry, job=job, report_path=shown)


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
) -> BatchRun:
    """Load every job, then grade them in parallel.  ``on_done`` is called as each finishes, ``on_report``
    with each new report once its files are written; the results come back in job order.

    Every job that was loaded ends in an entry, whatever goes wrong with it (status grader-error, with the
    reason).  A Ctrl-C stops the children that run and returns what ended before it, marked interrupted."""
    results: list[JobResult | None] = [None] * len(jobs)
    loaded = []
    for index, job in enumerate(jobs):
        try:
            loaded.append((index, job, _load(job, specs, forced)))
        except UsageError as exc:
            if job.explicit:
                raise
            results[index] = JobResult(None, problem=exc.message, job=job)
            on_done(results[index])
    bases = [f"{job.student}/{sub.assignment}" if job.nested else job.student for _, job, sub in loaded]
    todo = []
    for (index, job, submission), folder in zip(loaded, report_folders(bases, [job.path for _, job, _ in loaded])):
        try:
            fp = fingerprint(job.path.read_bytes(), submission.assignment, time_limit)
        except OSError as exc:  # gone or unreadable since it was loaded
            results[index] = JobResult(None, problem=visible(f"{job.path}: {exc.strerror}"), job=job)
            on_done(results[index])
            continue
        previous = read_entry(out / folder) if resume else None
        if previous is not None and previous.fingerprint == fp:
            results[index] = JobResult(previous, skipped=True, job=job, report_path=out / folder)
            on_done(results[index])
            continue
        todo.append((index, job, submission, folder, fp))
    stop = threading.Event()

    def one(job: Job, submission: Submission, folder: str, fp: str) -> JobResult:
        try:
            report = grade(submission, find_spec(submission.assignment, specs), runner, time_limit=time_limit,
                           seed=seed)
            if stop.is_set():
                return JobResult(None, job=job, interrupted=True)
            written = write_reports(report, out / folder, formats)
            if on_report is not None:
                on_report(report)
            entry = entry_for(report, job.student, folder, fp)
            write_entry(out / folder, entry)
            return JobResult(entry, job=job, report_path=written.get("md") or next(iter(written.values()), out / folder))
        except Exception as exc:  # noqa: BLE001 - one submission's trouble never ends the batch
            if stop.is_set():
                return JobResult(None, job=job, interrupted=True)
            return _failure(job, submission, find_spec(submission.assignment, specs), out, folder, fp, exc)

    # ``workers`` children run at once; twice as many threads, so that one writing its reports (waiting
    # for the disk) never keeps a child from starting.
    runner = Slots(runner, max(1, workers))
    interrupted = False
    with ThreadPoolExecutor(max_workers=2 * max(1, workers)) as pool:
        futures = {pool.submit(one, job, sub, folder, fp): index for index, job, sub, folder, fp in todo}
        try:
            for future in as_completed(futures):
                results[futures[future]] = result = future.result()
                on_done(result)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for future in futures:
                future.cancel()
            runner.abort()  # the running children end at once; their jobs record nothing
            for future, index in futures.items():
                if not future.cancelled() and results[index] is None:
                    result = future.result()
                    if result.entry is not None:
                        results[index] = result
    return BatchRun(tuple(r for r in results if r is not None), interrupted)
