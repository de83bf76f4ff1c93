"""grader/child/execute.py: the hidden calls of the student's functions survive whatever those return."""

from __future__ import annotations

from builders import check_quietly


def test_a_result_that_fails_to_be_read_is_reported_not_fatal(tmp_path) -> None:
    """The grader's calls of forward/loss touch whatever they return; a result whose methods raise is a
    failed probe, and the report still gets finished."""
    program = tmp_path / "weird_result.py"
    program.write_text(
        "import torch\n"
        "w = torch.tensor([1.0], requires_grad=True)\n"
        "class Weird(torch.Tensor):\n"
        "    def sum(self, *args, **kwargs):\n"
        "        raise RuntimeError('no sum for you')\n"
        "def forward(x):\n"
        "    return (x * w).as_subclass(Weird)\n"
        "(2.0 * w).sum().backward()\n"
    )
    out = tmp_path / "out"
    report = check_quietly(program, out, "--assignment", "backprop_linear")[1]["weird_result"]
    assert report["error"] is None, report["error"]
    assert "no sum for you" in next(c["message"] for c in report["checks"] if c["id"] == "forward")
