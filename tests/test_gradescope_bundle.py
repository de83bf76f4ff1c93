"""The Gradescope bundle as Gradescope runs it: unpacked into a temporary copy of its layout (source,
submission, results; run_autograder reads AUTOGRADER and GRADER, which default to Gradescope's paths),
run on a correct, a broken and an empty submission, and each results.json checked against Gradescope's
results specification."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema  # comes with check-jsonschema (a development dependency)
import pytest
from cases import ROOT

from grader.authoring.bundle import TORCH, make_bundle

# Gradescope's results.json, as its autograder specification describes it: every field optional but the
# score (or the tests' scores); tests carry score, max_score, status, name, output, visibility...
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
RESULTS = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": FORMAT,
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "score": {"type": "number"}, "max_score": {"type": "number"},
                "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
                "name_format": FORMAT, "number": {"type": "string"}, "output": {"type": "string"},
                "output_format": FORMAT, "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY, "extra_data": {"type": "object"},
            },
            "additionalProperties": False,
        }},
        "leaderboard": {"type": "array"},
    },
    "anyOf": [{"required": ["score"]}, {"required": ["tests"]}],
    "additionalProperties": False,
}
SOLUTION = (ROOT / "solutions" / "backprop_linear.py").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """Gradescope's /autograder, here: the bundle unpacked in source/, run_autograder beside it."""
    root = tmp_path_factory.mktemp("autograder")
    bundle = root / "bundle.zip"
    make_bundle("backprop_linear", bundle)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    return root


def run_autograder(root: Path, files: dict[str, str]) -> dict:
    submission, results = root / "submission", root / "results"
    for folder in (submission, results):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    for name, text in files.items():
        (submission / name).write_text(text, encoding="utf-8")
    grader = shutil.which("grader", path=str(Path(sys.executable).parent))
    env = dict(os.environ, AUTOGRADER=str(root), GRADER=grader)
    done = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=300, cwd=root)
    results_file = results / "results.json"
    assert results_file.is_file(), done.stdout + done.stderr
    data = json.loads(results_file.read_text(encoding="utf-8"))
    jsonschema.validate(data, RESULTS)
    return data


def test_a_correct_submission_gets_every_point(autograder) -> None:
    data = run_autograder(autograder, {"hw4.py": SOLUTION})
    assert data["score"] == 10 and all(t["status"] == "passed" for t in data["tests"])
    assert sum(t["max_score"] for t in data["tests"]) == 10


def test_a_broken_submission_is_told_what_failed(autograder) -> None:
    broken = SOLUTION.replace("w.grad.data.zero_()", "pass")
    assert broken != SOLUTION
    data = run_autograder(autograder, {"hw4.py": broken})
    assert data["score"] < 10
    failed = [t for t in data["tests"] if t["status"] == "failed"]
    assert failed and all(t["score"] < t["max_score"] for t in failed)
    assert "grad_not_reset" in data["extra_data"]["diagnoses"]


def test_an_empty_submission_gets_zero_and_a_reason(autograder) -> None:
    data = run_autograder(autograder, {"notes.txt": "I forgot to upload my code"})
    assert data["score"] == 0 and "No .py or .ipynb file" in data["output"]


def test_the_schema_refuses_what_gradescope_would() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"score": 1, "tests": [{"score": 1, "status": "ok"}]}, RESULTS)


def test_setup_installs_on_a_fresh_ubuntu_with_pinned_versions(autograder) -> None:
    """Package lists first, then Python; a CPU build of the pinned torch; the kit from the bundle."""
    setup = (autograder / "source" / "setup.sh").read_text(encoding="utf-8")
    lines = [line for line in setup.splitlines() if line and not line.startswith("#")]
    assert lines.index("apt-get update") < next(i for i, line in enumerate(lines) if "apt-get install" in line)
    assert f'--index-url https://download.pytorch.org/whl/cpu "torch=={TORCH}"' in setup
    assert subprocess.run(["bash", "-n", str(autograder / "source" / "setup.sh")]).returncode == 0
