"""How fast is a class graded?  Prints the time of `grader check DIR` against its floor, and against plain
`python submission.py`; then one `grader check file.py` against one `python file.py`.

    python benchmarks/batch_speed.py                      # everything: N = 200, --jobs = cores (~2 min)
    python benchmarks/batch_speed.py --skip-python --skip-single  # the floor and the ratios (~30 s)
    python benchmarks/batch_speed.py --n 50 --profile     # and where the grader's time goes (py-spy)

The submissions are the reference solution and mistaken variants of it (wrong learning rate, no reset,
flipped sign, unsquared loss, no output at all), in turn.  Every figure uses the same --jobs.

- grader check: the whole command, its warm process's start-up included.
- floor: benchmarks/floor.py, the same submissions run by a bare fork of a process that has warmed up as
  the grader's warm process does (no observer, no sandbox, no report); the whole command too.
- steady state: both print one line per finished submission, timed here as they arrive; the time from
  the first to the last, over N - 1, is the cost of one more submission once start-up is paid.  (Timing
  a batch of 2 and subtracting it would need one more run and add the start-up's spread between runs,
  0.7 s here, to the figure.)  If the grader stops printing such lines, the figures are left out.
- python submission.py: a sample, one after another and --jobs at a time (--skip-python leaves it out).
- single file: median of --repeat runs (--skip-single leaves it out).
- --rounds R: the grader and the floor run in turn R times (a busy machine shifts one run against the
  other); each round's ratio is printed, and the summary gives the medians.
- --profile: a further `grader check` run under py-spy (if installed), see batch_profile.py.

Run by hand; it is not a test.  The figures go in the README.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "backprop_linear.py"
FLOOR = Path(__file__).resolve().parent / "floor.py"
VARIANTS = [
    [],
    [("w.data - 0.01 * w.grad.data", "w.data - 0.02 * w.grad.data")],
    [("        w.grad.data.zero_()", "        pass")],
    [("w.data - 0.01 * w.grad.data", "w.data + 0.01 * w.grad.data")],
    [("return (y_pred - y) ** 2", "return y_pred - y")],
    [('print("\\tgrad:", x, y, w.grad.item())', "pass"), ('print("progress:", epoch, l.item())', "pass")],
]
PLAIN_ENV = {**os.environ, "MPLBACKEND": "Agg"}
# What the grader gives its warm process and children (grader/run.py, child_env): the floor gets the same.
CHILD_ENV = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
DONE_LINE = re.compile(r"\bstudent_\d+\b")  # in both commands' per-submission lines


def make_submissions(folder: Path, n: int) -> list[Path]:
    text = SOLUTION.read_text(encoding="utf-8")
    paths = []
    for i in range(n):
        source = text
        for old, new in VARIANTS[i % len(VARIANTS)]:
            assert old in source, old
            source = source.replace(old, new)
        path = folder / f"student_{i:03d}.py"
        path.write_text(source, encoding="utf-8")
        paths.append(path)
    return paths


def grader_command() -> list[str]:
    exe = shutil.which("grader", path=str(Path(sys.executable).parent)) or shutil.which("grader")
    return [exe] if exe else [sys.executable, "-m", "grader"]


def timed(argv: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


@dataclass
class Batch:
    """One batch command, timed from here: its wall time and when each submission's line arrived."""

    wall: float
    done: list[float] = field(default_factory=list)  # seconds since the command started
    lines: list[str] = field(default_factory=list)

    def steady(self, n: int) -> float | None:
        """Seconds per submission from the first finished to the last, if every one said it finished."""
        if len(self.done) != n or n < 2:
            return None
        return (self.done[-1] - self.done[0]) / (n - 1)


def run_batch(argv: list[str], env: dict[str, str]) -> Batch:
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace")
    batch = Batch(wall=0.0)
    for line in process.stdout:
        if DONE_LINE.search(line):
            batch.done.append(time.perf_counter() - started)
        batch.lines.append(line.rstrip("\n"))
    process.wait()
    batch.wall = time.perf_counter() - started
    return batch


def grader_batch(folder: Path, out: Path, jobs: int) -> tuple[Batch, int, int]:
    """`grader check` of the folder: the timing, the reports written, the rows of grades.csv."""
    batch = run_batch(grader_command() + ["check", str(folder), "--assignment", "backprop_linear",
                                          "--jobs", str(jobs), "--out", str(out)], PLAIN_ENV)
    grades = out / "grades.csv"
    rows = list(csv.DictReader(grades.open(encoding="utf-8"))) if grades.exists() else []
    return batch, len(list(out.glob("*/report.json"))), len(rows)


def floor_batch(folder: Path, jobs: int) -> tuple[Batch, dict]:
    """floor.py started as the grader starts its warm process; its own figures (warm-up, failures)."""
    batch = run_batch([sys.executable, "-I", "-B", str(FLOOR), "--jobs", str(jobs), str(folder)], CHILD_ENV)
    summary = [line for line in batch.lines if line.startswith("floor: ")]
    if not summary:
        sys.exit("the floor did not finish:\n" + "\n".join(batch.lines[-20:]))
    return batch, json.loads(summary[-1][len("floor: "):])


def python_sample(paths: list[Path], jobs: int, cwd: str) -> tuple[float, float, int, int]:
    """`python submission.py` per submission: --jobs at a time over the sample, one after another over half."""
    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda p: timed([sys.executable, str(p)], env=PLAIN_ENV, cwd=cwd), paths))
    parallel = (time.perf_counter() - started) / len(paths)
    half = paths[: max(1, len(paths) // 2)]
    started = time.perf_counter()
    for path in half:
        timed([sys.executable, str(path)], env=PLAIN_ENV, cwd=cwd)
    return parallel, (time.perf_counter() - started) / len(half), len(paths), len(half)


def single_file(path: Path, repeat: int, tmp: Path) -> tuple[float, float]:
    singles = [timed(grader_command() + ["check", str(path), "--out", str(tmp / "one")], env=PLAIN_ENV)
               for _ in range(repeat)]
    plains = [timed([sys.executable, str(path)], env=PLAIN_ENV, cwd=tmp) for _ in range(repeat)]
    return statistics.median(singles), statistics.median(plains)


def print_floor(n: int, jobs: int, grader: Batch, reports: int, rows: int, floor: Batch, inside: dict) -> None:
    print(f"batch: {n} submissions, --jobs {jobs}")
    print(f"  grader check:  {grader.wall:6.1f} s whole command = {grader.wall / n:.3f} s per submission "
          f"({reports} reports, {rows} rows in grades.csv)")
    print(f"  floor:         {floor.wall:6.1f} s whole command = {floor.wall / n:.3f} s per submission "
          f"(warm-up {inside['warm_up']:.1f} s of it, timed inside; {n - inside['failed']} exited 0)")
    print(f"  grader / floor: {grader.wall / floor.wall:.2f} (whole commands)")
    g, f = grader.steady(n), floor.steady(n)
    if g is None or f is None:
        print("  steady state: not measured (a command did not print one line per submission)")
        return
    print(f"  steady state, first to last finished: grader {g:.3f} s, floor {f:.3f} s per submission; "
          f"grader / floor: {g / f:.2f}")
    print(f"  first submission finished after: grader {grader.done[0]:.1f} s, floor {floor.done[0]:.1f} s")


def rounds(folder: Path, tmp: Path, n: int, jobs: int, count: int):
    """The grader and the floor in turn, ``count`` times; the round whose whole-command ratio is the median
    (its figures are printed in full), after a line per round."""
    runs = []
    for k in range(max(1, count)):
        out = tmp / f"out{k}"
        grader, reports, rows = grader_batch(folder, out, jobs)
        floor, inside = floor_batch(folder, jobs)
        runs.append((grader.wall / floor.wall, grader, reports, rows, floor, inside))
        if count > 1:
            steady = (grader.steady(n), floor.steady(n))
            said = f", steady {steady[0] / steady[1]:.2f}" if None not in steady else ""
            print(f"round {k + 1}: grader {grader.wall:.1f} s, floor {floor.wall:.1f} s, "
                  f"ratio {grader.wall / floor.wall:.2f}{said}")
        shutil.rmtree(out, ignore_errors=True)
    runs.sort(key=lambda run: run[0])
    if count > 1:
        print(f"median of {len(runs)} rounds:")
    return runs[len(runs) // 2][1:]


def profile_batch(folder: Path, out: Path, jobs: int) -> None:
    pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if pyspy is None:
        print("profile: skipped, py-spy is not installed (pip install py-spy)")
        return
    import batch_profile  # next to this file

    argv = grader_command() + ["check", str(folder), "--assignment", "backprop_linear", "--jobs", str(jobs),
                               "--out", str(out)]
    batch_profile.profile(pyspy, argv, env=PLAIN_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="submissions to grade (default 200)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel jobs (default: cores)")
    parser.add_argument("--python-sample", type=int, default=20, help="submissions run with plain python")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the single-file comparison")
    parser.add_argument("--skip-python", action="store_true", help="no `python submission.py` sample")
    parser.add_argument("--skip-single", action="store_true", help="no single-file comparison")
    parser.add_argument("--rounds", type=int, default=1, help="grader and floor in turn, this many times")
    parser.add_argument("--profile", action="store_true", help="one more grader batch, under py-spy")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        paths = make_submissions(folder, args.n)
        grader, reports, rows, floor, inside = rounds(folder, Path(tmp), args.n, args.jobs, args.rounds)
        print_floor(args.n, args.jobs, grader, reports, rows, floor, inside)
        per_grader = grader.wall / args.n
        if not args.skip_python:
            sample = paths[: max(1, min(args.python_sample, len(paths)))]
            parallel, serial, ran, ran_serial = python_sample(sample, args.jobs, tmp)
            print(f"  python submission.py:   {serial:.3f} s per submission, one after another "
                  f"({ran_serial} run) -> grader check is {serial / per_grader:.1f}x faster")
            print(f"  python submission.py:   {parallel:.3f} s per submission, {args.jobs} at a time "
                  f"({ran} run) -> grader check is {parallel / per_grader:.1f}x faster")
        if not args.skip_single:
            single, plain = single_file(paths[0], args.repeat, Path(tmp))
            print(f"single file (median of {args.repeat}): grader check {single:.2f} s, "
                  f"python file.py {plain:.2f} s, ratio {single / plain:.2f}")
        if args.profile:
            profile_batch(folder, Path(tmp) / "profiled", args.jobs)
    return 0 if reports == args.n and rows == args.n and inside["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
