"""Every GitHub Actions workflow in the repository is valid against GitHub's workflow schema (the copy
check-jsonschema vendors: no network), and the kit's own test workflow covers the three systems."""

from __future__ import annotations

import subprocess
import sys

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
