"""The submissions the end-to-end tests grade, and what each must score.

Three sources: files in tests/submissions/ (correct styles and broken programs), mutations of the reference
solutions (one known mistake each; a mutation fails loudly if the solution no longer contains the text it
edits), and the lecture's own two programs, cut out of ../shared/lecture/ at test time (never copied here).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"
LECTURE = ROOT.parent / "shared" / "lecture"

PASS, FAIL, ERROR = "pass", "fail", "error"
GRADED = ("forward", "loss", "first_epoch_grads", "training", "final_prediction", "runs")


@dataclass(frozen=True)
class Case:
    name: str  # also the file name the submission is graded under (decides the assignment)
    expect: dict[str, str]  # check id -> status
    score: float
    origin: str = ""  # a file under tests/submissions/, "solutions/<file>", "assignments/<file>" or "lecture:<n>"
    edits: tuple[tuple[str, str], ...] = ()  # mutations applied to the origin's text
    timeout: float | None = None
    error: str | None = None  # a fragment the report's error must contain
    message: dict[str, str] = field(default_factory=dict)  # check id -> fragment of its message

    def source(self) -> str:
        text = read_origin(self.origin)
        for old, new in self.edits:
            if text.count(old) != 1:
                raise AssertionError(f"{self.name}: expected exactly one {old!r} in {self.origin}")
            text = text.replace(old, new)
        return text


def read_origin(origin: str) -> str:
    if origin.startswith("lecture:"):
        return lecture_program(int(origin.split(":")[1]))
    if "/" in origin:
        return (ROOT / origin).read_text(encoding="utf-8")
    return (SUBMISSIONS / origin).read_text(encoding="utf-8")


def lecture_program(index: int) -> str:
    """The index-th program of the lecture notes: from its 'import torch' to its 'plt.show()'."""
    text = (LECTURE / "lecture4_backpropagation.txt").read_text(encoding="utf-8")
    programs = re.findall(r"^import torch\n.*?^plt\.show\(\)\n", text, flags=re.MULTILINE | re.DOTALL)
    if len(programs) != 2:
        raise AssertionError(f"expected two programs in the lecture notes, found {len(programs)}")
    return programs[index]


def lecture_available() -> bool:
    return (LECTURE / "lecture4_backpropagation.txt").is_file()


def all_pass(score: float = 10) -> dict:
    return {"expect": {check: PASS for check in GRADED}, "score": score}


def statuses(score: float, **expect: str) -> dict:
    table = {check: PASS for check in GRADED}
    table.update(expect)
    return {"expect": table, "score": score}


RESET_LINE = "        w.grad.data.zero_()  # gradients add up across backward calls unless reset\n"
UPDATE = "w.data = w.data - 0.01 * w.grad.data"

CASES = [
    # -- full marks ------------------------------------------------------------------------------------
    Case("backprop_linear.py", origin="solutions/backprop_linear.py", **all_pass()),
    Case("backprop_quadratic.py", origin="solutions/backprop_quadratic.py", **all_pass()),
    Case("lecture_linear.py", origin="lecture:0", **all_pass()),
    Case("lecture_homework.py", origin="lecture:1", **all_pass()),
    Case("linear_style_no_grad.py", origin="linear_style_no_grad.py", **all_pass()),
    Case("linear_style_grad_none.py", origin="linear_style_grad_none.py", **all_pass()),
    Case("linear_style_sgd.py", origin="linear_style_sgd.py", **all_pass()),
    Case("linear_style_tensor_data.py", origin="linear_style_tensor_data.py", **all_pass()),
    Case("quadratic_style_sgd.py", origin="quadratic_style_sgd.py", **all_pass()),
    Case("linear_sys_exit_zero.py", origin="solutions/backprop_linear.py",
         edits=(("plt.show()\n", "plt.show()\nimport sys\nsys.exit(0)\n"),), **all_pass()),
    # -- the skeletons ---------------------------------------------------------------------------------
    Case("skeleton_linear.py", origin="assignments/backprop_linear.py",
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         message={"forward": "not written yet", "loss": "not written yet",
                  "first_epoch_grads": "stopped before training"},
         error="TODO 1"),
    Case("skeleton_quadratic.py", origin="assignments/backprop_quadratic.py",
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         message={"forward": "not written yet", "loss": "not written yet"},
         error="TODO 1"),
    # -- one mistake each ------------------------------------------------------------------------------
    Case("linear_grad_not_reset.py", origin="solutions/backprop_linear.py", edits=((RESET_LINE, ""),),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"first_epoch_grads": "step 2"}),
    Case("linear_lr_changed.py", origin="solutions/backprop_linear.py",
         edits=((UPDATE, "w.data = w.data - 0.02 * w.grad.data"),),
         **statuses(6, first_epoch_grads=FAIL, training=FAIL),
         message={"first_epoch_grads": "step 2", "training": "step 2"}),
    Case("linear_param_replaced.py", origin="solutions/backprop_linear.py",
         edits=((UPDATE, "w = w - 0.01 * w.grad"),),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         message={"first_epoch_grads": "Only 1 of the 3"}, error="AttributeError"),
    Case("linear_param_replaced_no_reset.py", origin="solutions/backprop_linear.py",
         edits=((UPDATE, "w = w - 0.01 * w.grad"), (RESET_LINE, ""), ('print("\\tgrad:", x, y, w.grad.item())', "")),
         **statuses(4, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL, runs=FAIL),
         message={"first_epoch_grads": "w.grad was empty"}, error="TypeError"),
    Case("linear_update_sign.py", origin="solutions/backprop_linear.py",
         edits=((UPDATE, "w.data = w.data + 0.01 * w.grad.data"),),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    Case("linear_loss_not_squared.py", origin="solutions/backprop_linear.py",
         edits=(("return (y_pred - y) ** 2", "return y_pred - y"),),
         **statuses(3, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"first_epoch_grads": "step 1"}),
    Case("linear_hardcoded_forward.py", origin="solutions/backprop_linear.py",
         edits=(("return x * w", "return 2.0 * x + 0.0 * w"),),
         **statuses(1, forward=FAIL, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    Case("linear_printed_output.py", origin="linear_printed_output.py",
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"final_prediction": "No training was observed"}),
    Case("quadratic_terms_swapped.py", origin="solutions/backprop_quadratic.py",
         edits=(("return w1 * x**2 + w2 * x + b", "return w1 * x + w2 * x**2 + b"),),
         **statuses(2, forward=FAIL, loss=FAIL, first_epoch_grads=FAIL, training=FAIL),
         message={"first_epoch_grads": "step 2 (epoch 0, sample x=2, y=4): w1.grad"}),
    Case("quadratic_bias_frozen.py", origin="solutions/backprop_quadratic.py",
         edits=(("        for p in (w1, w2, b):\n            p.data", "        for p in (w1, w2):\n            p.data"),),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # -- programs that fail to run ---------------------------------------------------------------------
    Case("linear_infinite_loop.py", origin="linear_infinite_loop.py", timeout=2,
         **statuses(9, runs=FAIL), error="ran too long"),
    Case("linear_syntax_error.py", origin="linear_syntax_error.py",
         **statuses(0, forward=ERROR, loss=ERROR, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="syntax error (line 6 of linear_syntax_error.py)"),
    Case("linear_missing_module.py", origin="linear_missing_module.py",
         **statuses(0, forward=ERROR, loss=ERROR, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="not installed here (line 2 of linear_missing_module.py): No module named 'numpyy'"),
    Case("linear_sys_exit.py", origin="linear_sys_exit.py",
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         error="sys.exit(3)"),
    Case("linear_nan.py", origin="linear_nan.py",
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"final_prediction": "nan"}),
    Case("linear_no_functions.py", origin="linear_no_functions.py",
         **statuses(5, forward=ERROR, loss=ERROR, final_prediction=ERROR),
         message={"forward": "no function named forward"}),
]


def needs_lecture(case: Case) -> bool:
    return case.origin.startswith("lecture:")


def lecture_required() -> bool:
    """In CI the lecture folder must be there: a missing one fails instead of skipping silently."""
    return bool(os.environ.get("CI"))
