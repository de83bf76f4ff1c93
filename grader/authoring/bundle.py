"""A Gradescope autograder bundle: setup.sh, run_autograder and the kit itself, in one zip.

Gradescope unpacks the zip in /autograder/source, runs setup.sh once when it builds the image, and
run_autograder for every submission (files in /autograder/submission); the score is read from
/autograder/results/results.json.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # the grader package, which the bundle carries whole

SETUP = """#!/usr/bin/env bash
# Installs the grading kit once, when Gradescope builds the autograder image.
set -euo pipefail
apt-get install -y python3 python3-venv python3-pip
python3 -m venv /opt/backprop-grader
# A CPU build of torch is all the kit needs; pin the version your course uses.
/opt/backprop-grader/bin/pip install "torch>=2.1"
/opt/backprop-grader/bin/pip install /autograder/source/kit
"""

RUN = """#!/usr/bin/env bash
# Grades one submission and leaves Gradescope's results.json where it is read.
# Gradescope runs every submission in a container of its own, with nobody else's files in it: that container
# is the wall between students.  Inside it the kit still adds what the system offers (seccomp, and Landlock
# where the host's kernel has it; no jail without the right to make namespaces), so it is told not to
# refuse for want of file isolation: --unsafe-no-file-isolation.  report.json says which walls were there.
set -uo pipefail
out=$(mktemp -d)
/opt/backprop-grader/bin/grader check /autograder/submission --assignment {assignment} \\
    --format gradescope,md,json --out "$out" --jobs 1 --unsafe-no-file-isolation
result=$(find "$out" -name results.json | sort | head -n 1)
mkdir -p /autograder/results
if [ -n "$result" ]; then
    cp "$result" /autograder/results/results.json
else
    printf '%s\\n' '{{"score": 0, "output": "No .py or .ipynb file was found in the submission."}}' \\
        > /autograder/results/results.json
fi
"""


def _add(archive: zipfile.ZipFile, name: str, data: bytes | str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def make_bundle(assignment: str, target: Path) -> None:
    """Write the zip (deterministic: same kit and assignment, same bytes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    root = PACKAGE.parent
    with zipfile.ZipFile(target, "w") as archive:
        _add(archive, "setup.sh", SETUP, executable=True)
        _add(archive, "run_autograder", RUN.format(assignment=assignment), executable=True)
        for extra in ("pyproject.toml", "README.md"):
            if (root / extra).is_file():
                _add(archive, f"kit/{extra}", (root / extra).read_bytes())
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                _add(archive, f"kit/grader/{path.relative_to(PACKAGE).as_posix()}", path.read_bytes())
