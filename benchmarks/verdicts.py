"""How often the kit's verdicts agree with a teaching assistant's, on a folder of labelled real programs.

    python benchmarks/verdicts.py FOLDER [--labels FOLDER/labels.json] [--out DIR] [--jobs N] [--show]

FOLDER holds student programs (never committed here: they belong to their authors) and a ``labels.json``,
a list of ``{"file", "assignment", "verdict", "deviations"?, "mistakes"?}`` where the verdict is
``correct``, ``deviates`` (a working program that departs from the assignment: other epochs, data,
starting values...) or ``mistake``.  Every file is graded as its labelled assignment with ``grader check``
(one warm process, a fresh child each), then compared:

* a verdict is right when a ``correct`` program gets full marks with no diagnosis, and any other gets less;
* a correct program must carry no diagnosis at all;
* a known deviation or mistake is *named* when its id is among the report's diagnoses (``runs``, a program
  that crashes or never ends, when the report's runs check failed; ``other`` is never counted); counted apart for
  the programs that trained at all (one that stops before its first backward pass, or cannot run here for
  a module that is not installed, shows nothing a diagnosis could rest on: its report says why it stopped).

Prints the figures and, with ``--show``, every disagreement.  A measure run by hand, not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def grade(folder: Path, labels: list[dict], out: Path, jobs: int) -> dict[str, dict]:
    """file name -> its report.json, grading each assignment's files together."""
    reports = {}
    by_assignment = defaultdict(list)
    for label in labels:
        by_assignment[label["assignment"]].append(folder / label["file"])
    for assignment, files in by_assignment.items():
        target = out / assignment
        subprocess.run([sys.executable, "-m", "grader", "check", *map(str, files), "--assignment", assignment,
                        "--out", str(target), "--format", "json", "--jobs", str(jobs), "--seed", "1",
                        "--unsafe-no-file-isolation"], cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
        for path in target.rglob("report.json"):
            report = json.loads(path.read_text(encoding="utf-8"))
            reports[Path(report["submission"]).name] = report
    return reports


def compare(labels: list[dict], reports: dict[str, dict]) -> tuple[dict, list[str]]:
    figures = defaultdict(int)
    disagreements = []
    for label in labels:
        report = reports.get(label["file"])
        if report is None:
            disagreements.append(f"{label['file']}: no report")
            figures["missing"] += 1
            continue
        full = report["score"] >= report["max_score"] and not report.get("error")
        found = [d["id"] for d in report.get("diagnoses", [])]
        # A program that does not run is named by its runs check and its error, not by a diagnosis.
        named = found + ["runs"] * any(c["id"] == "runs" and c["status"] != "pass" for c in report["checks"])
        correct = label["verdict"] == "correct"
        right = (full and not found) if correct else not full
        figures["programs"] += 1
        figures["right"] += right
        if correct:
            figures["correct"] += 1
            figures["correct at full marks"] += full
            figures["correct with a diagnosis"] += bool(found)
        known = [d for d in label.get("deviations", []) + label.get("mistakes", []) if d != "other"]
        figures["known mistakes"] += len(known)
        figures["known mistakes named"] += sum(d in named for d in known)
        if report.get("run", {}).get("backward_passes"):  # a program that trained: its trace can show them
            figures["known mistakes, trained"] += len(known)
            figures["known mistakes, trained, named"] += sum(d in named for d in known)
        if not right or any(d not in named for d in known) or (correct and found):
            checks = {c["id"]: c["status"] for c in report["checks"]}
            failed = [k for k, v in checks.items() if v != "pass" and k != "plot"]
            disagreements.append(
                f"{label['file']} ({label['verdict']} {known}): score {report['score']:g}/{report['max_score']:g}, "
                f"failed {failed}, diagnoses {found}; {(report.get('error') or '')[:120]}")
    return figures, disagreements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--labels", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--show", action="store_true", help="print every disagreement")
    args = parser.parse_args()
    labels = json.loads((args.labels or args.folder / "labels.json").read_text(encoding="utf-8"))
    out = args.out or Path(tempfile.mkdtemp(prefix="verdicts-"))
    figures, disagreements = compare(labels, grade(args.folder, labels, out, args.jobs))
    programs = max(figures["programs"], 1)
    print(f"programs graded      {figures['programs']} (reports in {out})")
    print(f"verdicts right       {figures['right']}/{figures['programs']} = {figures['right'] / programs:.1%}")
    print(f"correct, full marks  {figures['correct at full marks']}/{figures['correct']}")
    print(f"correct, diagnosed   {figures['correct with a diagnosis']}")
    named = max(figures["known mistakes"], 1)
    print(f"known mistakes named {figures['known mistakes named']}/{figures['known mistakes']} = "
          f"{figures['known mistakes named'] / named:.1%}")
    trained = max(figures["known mistakes, trained"], 1)
    print(f"  of programs that trained {figures['known mistakes, trained, named']}/{figures['known mistakes, trained']} = "
          f"{figures['known mistakes, trained, named'] / trained:.1%}")
    if args.show:
        print("\n".join(["", "disagreements:", *disagreements]))


if __name__ == "__main__":
    main()
