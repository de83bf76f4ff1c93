"""grader/child/_observer.py: backward passes from several threads at once are observed one at a time,
and neither the program nor the report breaks."""

from __future__ import annotations

from builders import check_quietly
from cases import ROOT

SOLUTION = ROOT / "solutions" / "backprop_linear.py"

THREADED = '''import threading
import torch

w = torch.tensor([1.0], requires_grad=True)


def work():
    for _ in range(50):
        (w * 2.0).sum().backward()


threads = [threading.Thread(target=work) for _ in range(3)]
for thread in threads:
    thread.start()
work()
for thread in threads:
    thread.join()
print("all done", w.grad.item())
'''


def test_threads_calling_backward_at_once_are_graded_not_broken(tmp_path) -> None:
    """Backward passes from several threads at once: the grader observes one at a time and lets the
    others pass unrecorded; the program runs to its end, and the grader finishes its report."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "threaded.py").write_text(THREADED)
    (folder / "backprop_linear.py").write_text(SOLUTION.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    report = check_quietly(folder, out, "--assignment", "backprop_linear", "--jobs", "2")[1]["threaded"]
    assert report["error"] is None and "all done 400.0" in report["stdout"], report["error"]
    assert 0 < report["run"]["backward_passes"] <= 200
    assert "generator already executing" not in report["stderr"]
