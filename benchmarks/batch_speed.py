"""How fast is a class graded?  Prints seconds per submission for `grader check DIR` and for plain
`python submission.py`, and their ratio; then one `grader check file.py` against one `python file.py`.

    python benchmarks/batch_speed.py                # N = 200 submissions, --jobs = cores
    python benchmarks/batch_speed.py --n 50 --python-sample 10

The submissions are the reference solution and mistaken variants of it (wrong learning rate, no reset,
flipped sign, unsquared loss, no output at all), in turn.  `python submission.py` is timed on a sample of
them with the same parallelism as the grader (it costs seconds each, nearly all of it importing torch).
Run by hand; the figures go in the README.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "backprop_linear.py"
VARIANTS = [
    [],
    [("w.data - 0.01 * w.grad.data", "w.data - 0.02 * w.grad.data")],
    [("        w.grad.data.zero_()", "        pass")],
    [("w.data - 0.01 * w.grad.data", "w.data + 0.01 * w.grad.data")],
    [("return (y_pred - y) ** 2", "return y_pred - y")],
    [('print("\\tgrad:", x, y, w.grad.item())', "pass"), ('print("progress:", epoch, l.item())', "pass")],
]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="submissions to grade (default 200)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel jobs (default: cores)")
    parser.add_argument("--python-sample", type=int, default=20, help="submissions run with plain python")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the single-file comparison")
    args = parser.parse_args()
    env = {**os.environ, "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        paths = make_submissions(folder, args.n)
        out = Path(tmp) / "out"
        batch = timed(grader_command() + ["check", str(folder), "--assignment", "backprop_linear", "--jobs",
                                          str(args.jobs), "--out", str(out)], env=env)
        with open(out / "grades.csv", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        reports = len(list(out.glob("*/report.json")))
        sample = paths[: max(1, min(args.python_sample, len(paths)))]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda p: timed([sys.executable, str(p)], env=env, cwd=tmp), sample))
        python_total = time.perf_counter() - started
        half = sample[: max(1, len(sample) // 2)]
        started = time.perf_counter()
        for p in half:
            timed([sys.executable, str(p)], env=env, cwd=tmp)
        python_serial = (time.perf_counter() - started) / len(half)
        one = paths[0]
        singles = [timed(grader_command() + ["check", str(one), "--out", str(Path(tmp) / "one")], env=env)
                   for _ in range(args.repeat)]
        plains = [timed([sys.executable, str(one)], env=env, cwd=tmp) for _ in range(args.repeat)]
    per_grader = batch / args.n
    per_python = python_total / len(sample)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    print(f"batch: {args.n} submissions, --jobs {args.jobs}: {batch:.1f} s for grader check "
          f"({reports} reports, {len(rows)} rows in grades.csv)")
    print(f"  grader check:           {per_grader:.3f} s per submission")
    print(f"  python submission.py:   {python_serial:.3f} s per submission, one after another "
          f"({len(half)} run) -> grader check is {python_serial / per_grader:.1f}x faster")
    print(f"  python submission.py:   {per_python:.3f} s per submission, {args.jobs} at a time "
          f"({len(sample)} run) -> grader check is {per_python / per_grader:.1f}x faster")
    print(f"single file (median of {args.repeat}): grader check {statistics.median(singles):.2f} s, "
          f"python file.py {statistics.median(plains):.2f} s, "
          f"ratio {statistics.median(singles) / statistics.median(plains):.2f}")
    return 0 if reports == args.n and len(rows) == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
