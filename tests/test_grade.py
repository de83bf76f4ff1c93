"""grader/grade.py: the pipeline of one submission on the parent's side (which never imports torch)."""

from __future__ import annotations

import subprocess
import sys


def test_the_grader_side_never_imports_torch() -> None:
    """Only the child process may import torch: the parent's modules stay light and safe."""
    code = (
        "import sys, grader.cli, grader.check, grader.reference, grader.grade, grader.report, grader.run;"
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
