"""A Gradescope autograder bundle: setup.sh, run_autograder and the kit itself, in one zip.

Gradescope unpacks the zip in /autograder/source, runs setup.sh once when it builds the image, and
run_autograder for every submission (files in /autograder/submission); the score is read from
/autograder/results/results.json.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # the grader package, which the bundle carries whole

TORCH = "2.13.0"  # the torch the course's machines run; the bundle pins it, as a CPU build

SETUP = """#!/usr/bin/env bash
# Installs the grading kit once, when Gradescope builds the autograder image (a fresh Ubuntu).
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv python3-pip
python3 -m venv /opt/backprop-grader
# A CPU build of torch is all the kit needs (PyPI's Linux wheel would bring CUDA, gigabytes of it).
/opt/backprop-grader/bin/pip install --index-url https://download.pytorch.org/whl/cpu "torch=={torch}"
/opt/backprop-grader/bin/pip install /autograder/source/kit
"""

RUN = """#!/usr/bin/env bash
# Grades one submission and leaves Gradescope's results.json where it is read.
# Gradescope runs every submission in a container of its own, with nobody else's files in it: that container
# is the wall between students.  Inside it the kit still adds what the system offers (seccomp, and Landlock
# where the host's kernel has it; no jail without the right to make namespaces), so it is told not to
# refuse for want of file isolation: --unsafe-no-file-isolation.  report.json says which walls were there.
# AUTOGRADER and GRADER default to Gradescope's layout; a test points them elsewhere.
set -uo pipefail
root="${{AUTOGRADER:-/autograder}}"
grader="${{GRADER:-/opt/backprop-grader/bin/grader}}"
out=$(mktemp -d)
"$grader" check "$root/submission" --assignment {assignment} {spec}\\
    --format gradescope,md,json --out "$out" --jobs 1 --unsafe-no-file-isolation
result=$(find "$out" -name results.json | sort | head -n 1)
mkdir -p "$root/results"
if [ -n "$result" ]; then
    cp "$result" "$root/results/results.json"
else
    printf '%s\\n' '{{"score": 0, "output": "No .py or .ipynb file was found in the submission."}}' \\
        > "$root/results/results.json"
fi
"""


def _add(archive: zipfile.ZipFile, name: str, data: bytes | str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def make_bundle(assignment: str, target: Path, spec_file: Path | None = None) -> None:
    """Write the zip (deterministic: same kit and assignment, same bytes).  ``spec_file``: an instructor's
    own assignment (outside the package), carried in the zip and named to the grader."""
    target.parent.mkdir(parents=True, exist_ok=True)
    root = PACKAGE.parent
    spec = f'--spec "$root/source/spec/{spec_file.name}" ' if spec_file is not None else ""
    with zipfile.ZipFile(target, "w") as archive:
        _add(archive, "setup.sh", SETUP.format(torch=TORCH), executable=True)
        _add(archive, "run_autograder", RUN.format(assignment=assignment, spec=spec), executable=True)
        if spec_file is not None:
            _add(archive, f"spec/{spec_file.name}", spec_file.read_bytes())
        for extra in ("pyproject.toml", "README.md"):
            if (root / extra).is_file():
                _add(archive, f"kit/{extra}", (root / extra).read_bytes())
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                _add(archive, f"kit/grader/{path.relative_to(PACKAGE).as_posix()}", path.read_bytes())
