"""How long a re-check takes under `grader check --watch` (run by hand, not a test).

    python benchmarks/watch_speed.py [--saves N]

Starts `grader check --watch` on a copy of the linear solution, saves it N times (waiting for each grade),
and prints the first grade (which starts the warm process and imports torch) and the median re-grade.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "backprop_linear.py"
        text = (ROOT / "solutions" / "backprop_linear.py").read_text(encoding="utf-8")
        path.write_text(text, encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-m", "grader", "check", str(path), "--watch", "--out",
                                    str(Path(folder) / "out")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, cwd=ROOT)
        times = []
        try:
            for save in range(args.saves + 1):
                if save:
                    path.write_text(text + f"# save {save}\n", encoding="utf-8")
                while True:
                    line = process.stdout.readline()
                    if not line:
                        raise SystemExit("the watcher stopped")
                    found = re.match(r"graded in ([\d.]+) s", line)
                    if found:
                        times.append(float(found.group(1)))
                        break
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    print(f"first grade (warm process start, torch import): {times[0]:.2f} s")
    print(f"re-grade after a save: median {statistics.median(times[1:]):.2f} s over {len(times) - 1} saves "
          f"(min {min(times[1:]):.2f}, max {max(times[1:]):.2f})")


if __name__ == "__main__":
    main()
