"""The submissions the end-to-end tests grade, and what each must score.

Three sources: files in tests/submissions/ (correct styles and broken programs), mutations of the reference
solutions (one known mistake each; a mutation fails loudly if the solution no longer contains the text it
edits), and the lecture's own two programs, cut out of the lecture folder at test time (never copied here).
The lecture folder is ../shared/lecture/ beside the repository, or $GRADER_LECTURE_DIR if set; only this
project's own machines have it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"
HOSTILE = ROOT / "tests" / "hostile"  # programs that attack the grader (graded in test_hostile.py)
LECTURE = Path(os.environ.get("GRADER_LECTURE_DIR") or ROOT.parent / "shared" / "lecture")
LECTURE_FILES = ("lecture4_backpropagation.txt", "lecture_output_linear.txt", "lecture_output_quadratic.txt")

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
    assignment: str | None = None  # --assignment
    build: Callable[[str], str | bytes] | None = None  # turns the (edited) origin into the file's content
    notes: tuple[str, ...] = ()  # fragments the report's notes must contain
    diagnoses: tuple[str, ...] | None = None  # the ids the report must carry (None: not checked)

    def source(self) -> str | bytes:
        text = read_origin(self.origin) if self.origin else ""
        for old, new in self.edits:
            if text.count(old) != 1:
                raise AssertionError(f"{self.name}: expected exactly one {old!r} in {self.origin}")
            text = text.replace(old, new)
        return self.build(text) if self.build else text

    def write(self, folder: Path) -> Path:
        """The submission's file, written into ``folder`` under the case's name."""
        path = folder / self.name
        content = self.source()
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


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
    return all((LECTURE / name).is_file() for name in LECTURE_FILES)


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
    # An interactive backend asked for, as students on a desktop do: graded with Agg, never refused.
    Case("linear_tk_backend.py", origin="solutions/backprop_linear.py",
         edits=(("import matplotlib.pyplot as plt\n", "import matplotlib\nmatplotlib.use('TkAgg')\n"
                 "import matplotlib.pyplot as plt\nplt.switch_backend('TkAgg')\n"),), **all_pass()),
    Case("linear_style_tensor_data.py", origin="linear_style_tensor_data.py", **all_pass()),
    Case("quadratic_style_sgd.py", origin="quadratic_style_sgd.py", **all_pass()),
    Case("linear_sys_exit_zero.py", origin="solutions/backprop_linear.py",
         edits=(("plt.show()\n", "plt.show()\nimport sys\nsys.exit(0)\n"),), **all_pass()),
    # -- the skeletons ---------------------------------------------------------------------------------
    Case("skeleton_linear.py", origin="assignments/backprop_linear.py",
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         message={"forward": "not written yet", "loss": "not written yet",
                  "first_epoch_grads": "stopped before its first backward()"},
         error="TODO 1"),
    Case("skeleton_quadratic.py", origin="assignments/backprop_quadratic.py",
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         message={"forward": "not written yet", "loss": "not written yet"},
         error="TODO 1"),
    # The first two TODOs written, not the third (backward): the error at w.grad.item() is its consequence.
    Case("skeleton_linear_no_backward.py", origin="assignments/backprop_linear.py", diagnoses=("no_backward",),
         edits=(('    raise NotImplementedError("TODO 1: write the body of forward(x)")', "    return x * w"),
                ('    raise NotImplementedError("TODO 2: write the body of loss(x, y)")', "    return (forward(x) - y) ** 2")),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         message={"first_epoch_grads": "before its first backward()"},
         error="This follows from the mistake under What went wrong: backward() never called"),
    # -- one mistake each ------------------------------------------------------------------------------
    Case("linear_grad_not_reset.py", diagnoses=("grad_not_reset",), origin="solutions/backprop_linear.py", edits=((RESET_LINE, ""),),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"first_epoch_grads": "step 2"}),
    Case("linear_lr_changed.py", diagnoses=("learning_rate",), origin="solutions/backprop_linear.py",
         edits=((UPDATE, "w.data = w.data - 0.02 * w.grad.data"),),
         **statuses(6, first_epoch_grads=FAIL, training=FAIL),
         message={"first_epoch_grads": "step 2", "training": "step 2"}),
    Case("linear_param_replaced.py", diagnoses=("param_replaced",), origin="solutions/backprop_linear.py",
         edits=((UPDATE, "w = w - 0.01 * w.grad"),),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         message={"first_epoch_grads": "Only 1 of the 3"}, error="AttributeError"),
    Case("linear_param_replaced_no_reset.py", diagnoses=("param_replaced",), origin="solutions/backprop_linear.py",
         edits=((UPDATE, "w = w - 0.01 * w.grad"), (RESET_LINE, ""), ('print("\\tgrad:", x, y, w.grad.item())', "")),
         **statuses(4, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL, runs=FAIL),
         message={"first_epoch_grads": "w.grad was empty"}, error="TypeError"),
    Case("linear_update_sign.py", diagnoses=("update_sign",), origin="solutions/backprop_linear.py",
         edits=((UPDATE, "w.data = w.data + 0.01 * w.grad.data"),),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    Case("linear_loss_not_squared.py", diagnoses=("loss_formula",), origin="solutions/backprop_linear.py",
         edits=(("return (y_pred - y) ** 2", "return y_pred - y"),),
         **statuses(3, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"first_epoch_grads": "step 1"}),
    Case("linear_hardcoded_forward.py", origin="solutions/backprop_linear.py",
         edits=(("return x * w", "return 2.0 * x + 0.0 * w"),),
         **statuses(1, forward=FAIL, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    Case("linear_printed_output.py", origin="linear_printed_output.py",
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"final_prediction": "No training was observed"}),
    # The terms of w1 and w2 swapped is the same model under other names: graded by what each does.
    Case("quadratic_terms_swapped.py", diagnoses=(), origin="solutions/backprop_quadratic.py",
         edits=(("return w1 * x**2 + w2 * x + b", "return w1 * x + w2 * x**2 + b"),),
         notes=("`w2` plays w1, `w1` plays w2",), **all_pass()),
    # No backward pass ever runs (the loop calls loss wrongly), so only the forward calls can tell the roles:
    # w2 multiplies x**2 there.  The names are not charged; the missing bias is.
    Case("quadratic_swapped_never_trained.py", origin="solutions/backprop_quadratic.py", diagnoses=("model_terms",),
         edits=(("return w1 * x**2 + w2 * x + b", "return w2 * x**2 + w1 * x"), ("l = loss(x, y)", "l = loss(x)")),
         notes=("`w2` plays w1, `w1` plays w2",),
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         message={"forward": "with w1=", "loss": "with w1="}),
    # Stops at its first loss, before any backward pass: what the code says plainly is named, as read from it.
    Case("quadratic_read_from_the_code.py", origin="solutions/backprop_quadratic.py",
         diagnoses=("initial_values", "learning_rate", "epochs"),
         edits=(("w1 = torch.tensor([1.0])", "w1 = torch.tensor([2.0])"), ("for epoch in range(100):", "for epoch in range(1000):"),
                ("p.data = p.data - 0.01 * p.grad.data", "p.data = p.data - 0.02 * p.grad.data"), ("l = loss(x, y)", "l = loss(x)")),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         message={}),
    Case("quadratic_bias_with_another_gradient.py", origin="solutions/backprop_quadratic.py",
         diagnoses=("param_not_updated",),
         edits=(("        for p in (w1, w2, b):\n            p.data = p.data - 0.01 * p.grad.data\n",
                 "        w1.data = w1.data - 0.01 * w1.grad.data\n        w2.data = w2.data - 0.01 * w2.grad.data\n"
                 "        b.data = b.data - 0.01 * w2.grad.data\n"),),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={}),
    # Gradients clipped together, and another rate: each parameter still follows its own gradient; the rate
    # is read from the steps the clipping left alone.
    Case("quadratic_clipped_other_rate.py", origin="solutions/backprop_quadratic.py", diagnoses=("learning_rate",),
         edits=(("        l.backward()  # one pass fills w1.grad, w2.grad and b.grad\n",
                 "        l.backward()  # one pass fills w1.grad, w2.grad and b.grad\n"
                 "        torch.nn.utils.clip_grad_norm_([w1, w2, b], max_norm=5.0)\n"),
                ("p.data = p.data - 0.01 * p.grad.data", "p.data = p.data - 0.005 * p.grad.data")),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    Case("quadratic_bias_frozen.py", diagnoses=("param_not_updated",), origin="solutions/backprop_quadratic.py",
         edits=(("        for p in (w1, w2, b):\n            p.data", "        for p in (w1, w2):\n            p.data"),),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # -- one mistake each, for the diagnoses ------------------------------------------------------------
    Case("linear_reset_per_epoch.py", origin="solutions/backprop_linear.py", diagnoses=("grad_not_reset",),
         edits=((RESET_LINE, ""), ("    costs.append(total / len(x_data))\n",
                                   "    w.grad.data.zero_()\n    costs.append(total / len(x_data))\n")),
         **statuses(6, first_epoch_grads=FAIL, training=FAIL),
         message={"first_epoch_grads": "step 2"}),
    Case("linear_reset_typo.py", origin="solutions/backprop_linear.py", diagnoses=("grad_not_reset",),
         edits=((RESET_LINE, RESET_LINE.replace("zero_()", "zero()")),),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         error="This follows from the mistake under What went wrong: gradients not reset"),
    Case("linear_more_samples.py", origin="solutions/backprop_linear.py", diagnoses=("data",),
         edits=(("x_data = [1.0, 2.0, 3.0]", "x_data = [1.0, 2.0, 3.0, 4.0, 5.0]"),
                ("y_data = [2.0, 4.0, 6.0]", "y_data = [2.0, 4.0, 6.0, 8.0, 10.0]")),
         **statuses(8, training=FAIL), message={"training": "step 4"}),
    Case("linear_initial_value.py", origin="solutions/backprop_linear.py", diagnoses=("initial_values",),
         edits=(("w = torch.tensor([1.0])", "w = torch.tensor([0.0])"),),
         **statuses(6, first_epoch_grads=FAIL, training=FAIL)),
    Case("linear_epochs.py", origin="solutions/backprop_linear.py", diagnoses=("epochs",),
         edits=(("for epoch in range(100):", "for epoch in range(30):"),),
         **statuses(8, training=FAIL), message={"training": "Only 90 of the 300"}),
    Case("linear_data.py", origin="solutions/backprop_linear.py", diagnoses=("data",),
         edits=(("y_data = [2.0, 4.0, 6.0]", "y_data = [2.0, 4.0, 7.0]"),),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    Case("linear_batch.py", origin="linear_batch.py", diagnoses=("batch_updates", "loss_formula"),
         **statuses(6, first_epoch_grads=FAIL, training=FAIL)),
    Case("quadratic_missing_bias.py", origin="solutions/backprop_quadratic.py", diagnoses=("model_terms",),
         edits=(("return w1 * x**2 + w2 * x + b", "return w1 * x**2 + w2 * x"),),
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL,
                    runs=FAIL),
         message={"first_epoch_grads": "w1.grad is 0, expected 2"}),
    # b a plain number: it never trains (the answers of forward show it held at 1.0), not a missing term.
    Case("quadratic_bias_a_number.py", origin="solutions/backprop_quadratic.py", diagnoses=("param_not_updated",),
         edits=(("b = torch.tensor([1.0])\nb.requires_grad = True\n", "b = 1.0\n"),
                ("w2.grad.item(), b.grad.item())", "w2.grad.item())"),
                ("        for p in (w1, w2, b):\n            p.data", "        for p in (w1, w2):\n            p.data"),
                ("        for p in (w1, w2, b):\n            p.grad", "        for p in (w1, w2):\n            p.grad")),
         **statuses(1, forward=FAIL, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # Other data and two gradients never reset: both named (the sums are read with the student's own data,
    # which the code lists and the passes confirm).
    Case("quadratic_other_data_no_reset.py", origin="solutions/backprop_quadratic.py",
         diagnoses=("data", "grad_not_reset"),
         edits=(("y_data = [2.0, 4.0, 6.0]", "y_data = [3.0, 5.0, 7.0]"),
                ("        for p in (w1, w2, b):\n            p.grad", "        for p in (w1,):\n            p.grad")),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # The classic variant y = 2x + 1 with a bias: the data are read through the student's own model (their
    # forward's return, confirmed by every pass), so both the extra term and the other data are named.
    Case("linear_bias_other_data.py", origin="solutions/backprop_linear.py", diagnoses=("data", "model_terms"),
         edits=(("y_data = [2.0, 4.0, 6.0]", "y_data = [3.0, 5.0, 7.0]"),
                ("w.requires_grad = True\n", "w.requires_grad = True\nb = torch.tensor([0.0], requires_grad=True)\n"),
                ("return x * w", "return x * w + b"),
                (UPDATE, UPDATE + "\n        b.data = b.data - 0.01 * b.grad.data\n        b.grad.data.zero_()")),
         **statuses(1, forward=FAIL, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # Stopped at its first line (a misspelt keyword), so the missing bias is read from forward's return.
    Case("quadratic_no_bias_stops_early.py", origin="solutions/backprop_quadratic.py", diagnoses=("model_terms",),
         edits=(("w1 = torch.tensor([1.0])", "w1 = torch.tensor([1.0], require_grad=True)"),
                ("return w1 * x**2 + w2 * x + b", "return x * x * w1 + x * w2")),
         **statuses(0, forward=ERROR, loss=ERROR, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="require_grad"),
    Case("quadratic_batch_constant_bias.py", origin="quadratic_batch_constant_bias.py",
         diagnoses=("batch_updates", "loss_formula", "param_not_updated"),
         **statuses(3, forward=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # The batch of a model with an extra term: its mean loss is read through the model forward returns.
    Case("linear_batch_with_bias.py", origin="linear_batch.py", diagnoses=("batch_updates", "loss_formula", "model_terms"),
         edits=(("w = torch.tensor([1.0], requires_grad=True)\n",
                 "w = torch.tensor([1.0], requires_grad=True)\nb = torch.tensor([0.5], requires_grad=True)\n"),
                ("return x * w", "return x * w + b"),
                ("    w.grad.data.zero_()", "    w.grad.data.zero_()\n    b.data = b.data - 0.01 * b.grad.data\n    b.grad.data.zero_()")),
         **statuses(1, forward=FAIL, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # The loss written loss(y_pred, y) but called with x: it never touches w, and backward() stops the program.
    Case("linear_loss_called_with_x.py", origin="solutions/backprop_linear.py", diagnoses=("loss_formula",),
         edits=(("def loss(x, y):\n", "def loss(y_pred, y):\n"), ("    y_pred = forward(x)\n", ""),
                ("x_data = [1.0, 2.0, 3.0]", "x_data = [1, 2, 3]"), ("y_data = [2.0, 4.0, 6.0]", "y_data = [2, 4, 6]")),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         error="This follows from the mistake under What went wrong: another loss formula"),
    # A notebook-style file: the lecture's linear program first (10 epochs), then the homework on its own
    # data.  The homework's passes are graded (they fit the quadratic on the data the code lists), not the
    # warm-up's, and its data are named where they are written.
    Case("quadratic_homework_after_warmup.py", origin="solutions/backprop_linear.py", diagnoses=("data",),
         edits=(("for epoch in range(100):", "for epoch in range(10):"),),
         build=lambda linear: linear + read_origin("solutions/backprop_quadratic.py").replace(
             "x_data = [1.0, 2.0, 3.0]", "x_data = [1.0, 2.0, 3.0, 0.5]").replace(
             "y_data = [2.0, 4.0, 6.0]", "y_data = [3.0, 6.0, 11.0, 2.25]").replace(
             "w1 = torch.tensor", "w_1 = torch.tensor").replace("w1.requires_grad", "w_1.requires_grad").replace(
             "return w1 * x**2", "return w_1 * x**2").replace("w1.grad.item()", "w_1.grad.item()").replace(
             "(w1, w2, b)", "(w_1, w2, b)"),
         notes=("`w_1` plays w1",),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # Reads its samples from a file it does not include, so it stops at once: the data are named from the code.
    Case("linear_data_from_a_missing_file.py", origin="solutions/backprop_linear.py", diagnoses=("data",),
         edits=(("import torch\n", "import numpy as np\nimport torch\n"),
                ("x_data = [1.0, 2.0, 3.0]\ny_data = [2.0, 4.0, 6.0]\n",
                 "xy = np.loadtxt('points.csv', delimiter=',')\nx_data = xy[:, 0]\ny_data = xy[:, 1]\n")),
         **statuses(0, forward=ERROR, loss=ERROR, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="points.csv"),
    # A bias that records gradients but that no step changes, in a program that stops before training.
    Case("linear_bias_never_stepped_stops_early.py", origin="solutions/backprop_linear.py",
         diagnoses=("model_terms", "param_not_updated"),
         edits=(("w.requires_grad = True\n", "w.requires_grad = True\nb = torch.tensor([4.0], requires_grad=True)\n"),
                ("return x * w", "return x * w + b"),
                ('print("predict (before training)", 4, forward(4).item())',
                 'print("predict (before training)", 4, forward(4).itme())')),
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="itme"),
    # Never resets its gradients, and stops at its first step: one pass cannot show the sums, the code can.
    Case("linear_never_reset_stops_early.py", origin="solutions/backprop_linear.py", diagnoses=("grad_not_reset",),
         edits=((RESET_LINE, ""), ('print("\\tgrad:", x, y, w.grad.item())', 'print("\\tgrad:", x, y, w.grad.itme())')),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         error="itme"),
    # A rate of its own for each parameter, in a program that stops before training.
    Case("quadratic_rates_per_parameter_stops_early.py", origin="solutions/backprop_quadratic.py",
         diagnoses=("learning_rate",),
         edits=(("        for p in (w1, w2, b):\n            p.data = p.data - 0.01 * p.grad.data\n",
                 "        w1.data -= 0.002 * w1.grad.data\n        w2.data -= 0.01 * w2.grad.data\n"
                 "        b.data -= 0.05 * b.grad.data\n"),
                ('print("predict (before training)", 4, forward(4).item())',
                 'print("predict (before training)", 4, forward(4).itme())')),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         error="itme"),
    # Stops at its first step (a name never defined), before an epoch ends: the epochs are read from the code.
    Case("linear_stops_in_its_first_epoch.py", origin="solutions/backprop_linear.py", diagnoses=("epochs",),
         edits=(("for epoch in range(100):", "for epoch in range(10):"),
                ("x, y, w.grad.item())", "x, y, grad)")),
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         error="name 'grad' is not defined"),
    Case("quadratic_style_bias_number_argument.py", origin="quadratic_style_bias_number_argument.py",
         diagnoses=("param_not_updated",),
         **statuses(1, forward=FAIL, loss=FAIL, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # A leftover breakpoint after a 10-epoch training: the passes are the whole training (the error comes
    # below the loop), and the report says what stopped it in plain words.
    Case("linear_breakpoint_after_training.py", origin="solutions/backprop_linear.py", diagnoses=("epochs",),
         edits=(("for epoch in range(100):", "for epoch in range(10):"),),
         build=lambda text: text + "\nimport pdb\npdb.set_trace()\n",
         **statuses(6, training=ERROR, final_prediction=FAIL, runs=FAIL),
         error="stops at a debugger breakpoint"),
    # Stopped at its first line: the data the training loop zips and the starting values are read.
    Case("quadratic_stops_early_other_data.py", origin="solutions/backprop_quadratic.py",
         diagnoses=("data", "initial_values"),
         edits=(("w1 = torch.tensor([1.0])", "w1 = torch.tensor([1.0], require_grad=True)"),
                ("y_data = [2.0, 4.0, 6.0]", "y_data = [3.0, 5.0, 7.0]"),
                ("b = torch.tensor([1.0])", "b = torch.tensor([3.0])")),
         **statuses(0, forward=ERROR, loss=ERROR, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="require_grad"),
    Case("quadratic_two_mistakes.py", origin="solutions/backprop_quadratic.py",
         diagnoses=("grad_not_reset", "learning_rate"),
         edits=(("p.data = p.data - 0.01 * p.grad.data", "p.data = p.data - 0.005 * p.grad.data"),
                ("        for p in (w1, w2, b):\n            p.grad.data.zero_()\n", "")),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # -- programs that fail to run ---------------------------------------------------------------------
    Case("linear_infinite_loop.py", origin="linear_infinite_loop.py", timeout=2,
         **statuses(9, runs=FAIL), error="ran too long"),
    Case("linear_syntax_error.py", origin="linear_syntax_error.py",
         **statuses(0, forward=ERROR, loss=ERROR, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="syntax error (line 6 of linear_syntax_error.py)"),
    # Python 2 (print statements): it cannot run, and what its code says plainly is still named.
    Case("linear_python2.py", origin="solutions/backprop_linear.py", diagnoses=("epochs",),
         edits=(("for epoch in range(100):", "for epoch in xrange(10):"),
                ('print("progress:", epoch, l.item())', 'print "progress:", epoch, l.item()')),
         **statuses(0, forward=ERROR, loss=ERROR, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="Missing parentheses in call to 'print'"),
    Case("linear_missing_module.py", origin="linear_missing_module.py",
         **statuses(0, forward=ERROR, loss=ERROR, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="not installed here (line 5 of linear_missing_module.py): No module named 'numpyy'",
         notes=("imports numpyy, which the grading machine does not have",)),
    # Imports left over from another lecture, never used: the program runs and is graded, and the report
    # says what was missing.  Torch's own optional imports still see the modules missing.
    Case("linear_unused_imports.py", origin="solutions/backprop_linear.py", diagnoses=(),
         edits=(("import torch\n", "import torch\nimport torchvision_not_here\nfrom sklearn_not_here.svm import SVR\n"
                 "import torchvision_not_here.transforms as T\n"),),
         notes=("imports torchvision_not_here, sklearn_not_here, which the grading machine does not have",),
         **all_pass()),
    Case("linear_sys_exit.py", origin="linear_sys_exit.py",
         **statuses(4, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL, runs=FAIL),
         error="sys.exit(3)"),
    Case("linear_nan.py", origin="linear_nan.py",
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"final_prediction": "nan"}),
    Case("linear_no_functions.py", origin="linear_no_functions.py", diagnoses=(),
         message={"forward": "judged from your training"}, **all_pass()),
    # -- correct mathematics in the styles real students write: graded by what the code computes ----------
    Case("quadratic_style_underscored.py", origin="quadratic_style_underscored.py", diagnoses=(),
         notes=("`w_1` plays w1, `w_2` plays w2",), message={"forward": "model gives the right value"}, **all_pass()),
    # Its own names, and a fresh tensor bound to one of them below the training: the hidden calls of forward
    # read what the name holds then, as they do for the skeleton's names.
    Case("quadratic_style_rebound_after_training.py", origin="quadratic_style_underscored.py", diagnoses=(),
         build=lambda text: text + "\nw_1 = torch.tensor([1.0])  # a leftover experiment\n", **all_pass()),
    Case("quadratic_style_abc.py", origin="quadratic_style_abc.py", diagnoses=(),
         notes=("`a` plays w1, `b` plays w2, `c` plays b",), **all_pass()),
    Case("quadratic_style_one_tensor.py", origin="quadratic_style_one_tensor.py", diagnoses=(),
         notes=("`w[0]` plays w1, `w[1]` plays w2, `w[2]` plays b",), **all_pass()),
    Case("quadratic_style_vector_bias.py", origin="quadratic_style_vector_bias.py", diagnoses=(),
         notes=("`W[0]` plays w1, `W[1]` plays w2, `bias` plays b",), **all_pass()),
    Case("quadratic_style_class.py", origin="quadratic_style_class.py", diagnoses=(),
         message={"forward": "self.forward gives", "loss": "self.loss gives"}, **all_pass()),
    Case("quadratic_style_module.py", origin="quadratic_style_module.py", diagnoses=(),
         message={"forward": "model gives", "loss": "criterion gives"}, **all_pass()),
    Case("quadratic_style_loss_globals.py", origin="quadratic_style_loss_globals.py", diagnoses=(), **all_pass()),
    Case("quadratic_style_bias_argument.py", origin="quadratic_style_bias_argument.py", diagnoses=(), **all_pass()),
    Case("linear_style_farword.py", origin="linear_style_farword.py", diagnoses=(),
         message={"forward": "farword gives", "loss": "lossfunc gives"}, **all_pass()),
    Case("linear_style_main.py", origin="linear_style_main.py", diagnoses=(), **all_pass()),
    # -- deviations, each named, and only they ------------------------------------------------------------
    Case("quadratic_long_training.py", origin="solutions/backprop_quadratic.py", diagnoses=("epochs",), timeout=2,
         edits=(("for epoch in range(100):", "for epoch in range(100000):"),),
         **statuses(6, training=FAIL, final_prediction=FAIL, runs=FAIL), error="ran too long"),
    Case("quadratic_more_epochs_then_error.py", origin="solutions/backprop_quadratic.py", diagnoses=("epochs",),
         edits=(("for epoch in range(100):", "for epoch in range(1000):"),
                ("plt.show()\n", "plt.show()\nimport a_module_nobody_installed as extra\nextra.run()\n")),
         **statuses(6, training=FAIL, final_prediction=FAIL, runs=FAIL), error="a_module_nobody_installed"),
    # Many more epochs, then one backward pass of something else: not a whole number of epochs, still epochs.
    Case("quadratic_more_epochs_and_a_demo.py", origin="solutions/backprop_quadratic.py", diagnoses=("epochs",),
         edits=(("for epoch in range(100):", "for epoch in range(1000):"),
                ("plt.show()\n", "plt.show()\ndemo = torch.tensor([3.0], requires_grad=True)\n(demo * 2).sum().backward()\n")),
         **statuses(7, training=FAIL, final_prediction=FAIL), message={"training": "3001 backward passes"}),
    Case("quadratic_start_and_rate.py", origin="solutions/backprop_quadratic.py",
         diagnoses=("initial_values", "learning_rate"),
         edits=(("w1 = torch.tensor([1.0])", "w1 = torch.tensor([0.5])"), ("w2 = torch.tensor([1.0])", "w2 = torch.tensor([0.0])"),
                ("p.data = p.data - 0.01 * p.grad.data", "p.data = p.data - 0.02 * p.grad.data")),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL)),
    # The lecture's printed prediction returned for x = 4, with training that is not the lecture's: the final
    # prediction is computed from the trained parameters, so the hard-coded number earns nothing.
    Case("linear_hardcoded_prediction.py", origin="solutions/backprop_linear.py", diagnoses=("learning_rate",),
         edits=(("    return x * w", "    if x == 4:\n        return torch.tensor([7.999998569488525], requires_grad=True)\n"
                 "    return x * w"), (UPDATE, "w.data = w.data - 0.001 * w.grad.data")),
         **statuses(5, first_epoch_grads=FAIL, training=FAIL, final_prediction=FAIL),
         message={"final_prediction": "7.761532"}),
]


# -- notebooks -------------------------------------------------------------------------------------------


def notebook(cells: list[str], version: int = 4) -> str:
    """Notebook JSON with these code cells (and a markdown cell first, as students' notebooks have)."""
    import nbformat

    if version == 3:
        nb = nbformat.v3.new_notebook()
        ws = nbformat.v3.new_worksheet()
        ws.cells.append(nbformat.v3.new_text_cell("markdown", source="# Homework"))
        ws.cells.extend(nbformat.v3.new_code_cell(input=c) for c in cells)
        nb.worksheets.append(ws)
        return nbformat.writes(nb, version=3)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Homework"))
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    return nbformat.v4.writes(nb)


def blocks(text: str) -> list[str]:
    """A script cut into cells where a top-level statement follows a blank line, as students paste code."""
    cells, current = [], []
    for line in text.splitlines():
        if current and not line.strip():
            continue
        if current and line and not line[0].isspace() and not line.startswith(("#", ")", "]")) \
                and prev_blank(text, line):
            cells.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        cells.append("\n".join(current))
    return cells


def prev_blank(text: str, line: str) -> bool:
    lines = text.splitlines()
    index = lines.index(line)
    return index > 0 and not lines[index - 1].strip()


def pasted(*before: str, after: tuple[str, ...] = (), version: int = 4) -> Callable[[str], str]:
    return lambda text: notebook([*before, *blocks(text), *after], version=version)


def percent_cells(text: str) -> list[str]:
    return [c.strip("\n") for c in re.split(r"^# %%.*$", text, flags=re.MULTILINE)
            if c.strip() and not c.lstrip().startswith("# ")]


MAGICS = (
    "%matplotlib inline\n%config InlineBackend.figure_format = 'retina'",
    "!pip install torch matplotlib\nfiles = !ls\n%load_ext autoreload",
)
BAD = {"forward": ERROR, "loss": ERROR, "first_epoch_grads": ERROR, "training": ERROR, "final_prediction": FAIL,
       "runs": FAIL}

NOTEBOOK_CASES = [
    Case("backprop_linear_nb.ipynb", origin="solutions/backprop_linear.ipynb",
         notes=("it checks the notebook with the grader",), **all_pass()),
    # Cells that check the notebook or show what the grader said: never run while grading, never a lost point.
    Case("linear_shows_its_report.ipynb", origin="solutions/backprop_linear.py",
         build=lambda text: notebook(percent_cells(text) + [
             "from IPython.display import Markdown, display\ndisplay(Markdown(open('grader-reports/x/report.md').read()))",
             "!grader check linear_shows_its_report.ipynb", "import grader.selfcheck\ngrader.selfcheck.check('x.ipynb')"]),
         notes=("Cell 7 was not run: it checks the notebook", "Cell 8 was not run", "Cell 9 was not run"),
         **all_pass()),
    Case("backprop_quadratic_nb.ipynb", origin="solutions/backprop_quadratic.ipynb", **all_pass()),
    Case("skeleton_linear_nb.ipynb", origin="assignments/backprop_linear.ipynb",
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="TODO 1"),
    Case("skeleton_quadratic_nb.ipynb", origin="assignments/backprop_quadratic.ipynb",
         **statuses(0, forward=FAIL, loss=FAIL, first_epoch_grads=ERROR, training=ERROR, final_prediction=FAIL,
                    runs=FAIL),
         error="TODO 1"),
    Case("lecture_linear_nb.ipynb", origin="lecture:0", build=pasted("%matplotlib inline"), **all_pass()),
    Case("lecture_homework_nb.ipynb", origin="lecture:1", build=pasted("%matplotlib inline"), **all_pass()),
    Case("quadratic_magics.ipynb", origin="solutions/backprop_quadratic.py",
         build=lambda text: notebook([*MAGICS, *percent_cells(text)[:-1],
                                      "%%time\ndisplay(w1)\nw1?", "%%bash\necho hello", percent_cells(text)[-1]]),
         notes=("`!pip install torch matplotlib` was not run", "Cell 9 was not run: `%%bash`"),
         **all_pass()),
    Case("linear_last_cell_raises.ipynb", origin="solutions/backprop_linear.py",
         build=lambda text: notebook([*percent_cells(text), "raise RuntimeError('one more thing')"]),
         **statuses(9, runs=FAIL), error="RuntimeError (line 1 of linear_last_cell_raises.ipynb, cell 7)"),
    Case("linear_v3.ipynb", origin="solutions/backprop_linear.py",
         build=lambda text: notebook(percent_cells(text), version=3), **all_pass()),
    Case("both_as_linear.ipynb", origin="solutions/backprop_linear.py", assignment="backprop_linear",
         build=lambda text: notebook(percent_cells(text) + percent_cells(read_origin("solutions/backprop_quadratic.py"))),
         notes=("300 backward passes that trained other tensors",), **all_pass()),
    Case("both_as_quadratic.ipynb", origin="solutions/backprop_linear.py", assignment="backprop_quadratic",
         build=lambda text: notebook(percent_cells(text) + percent_cells(read_origin("solutions/backprop_quadratic.py"))),
         **all_pass()),
    # Both homeworks in one notebook, the second one's functions numbered as students do (forward1, loss1).
    Case("both_numbered_quadratic.ipynb", origin="solutions/backprop_linear.py", assignment="backprop_quadratic",
         build=lambda text: notebook(percent_cells(text) + percent_cells(
             read_origin("solutions/backprop_quadratic.py").replace("forward(", "forward1(").replace("loss(", "loss1("))),
         diagnoses=(), message={"forward": "forward1 gives", "loss": "loss1 gives"}, **all_pass()),
    Case("linear_script_named_ipynb.ipynb", origin="solutions/backprop_linear.py",
         notes=("holds a Python script, not a notebook",), **all_pass()),
    Case("linear_not_json.ipynb", build=lambda _: '{"cells": [', expect=BAD, score=0, error="not valid JSON"),
    Case("linear_not_a_notebook.ipynb", build=lambda _: '{"name": "w", "value": 1}', expect=BAD, score=0,
         error="JSON but not a Jupyter notebook"),
    Case("linear_no_code.ipynb", build=lambda _: notebook([]), expect=BAD, score=0, error="no code cells"),
    Case("linear_bad_encoding.ipynb", build=lambda _: '{"cells": []} \xff'.encode("latin-1"), expect=BAD, score=0,
         error="not UTF-8"),
]
CASES += NOTEBOOK_CASES


def needs_lecture(case: Case) -> bool:
    return case.origin.startswith("lecture:")


def lecture_required() -> bool:
    """In CI the lecture folder must be there: a missing one fails instead of skipping silently.  Not on
    GitHub's runners (GRADER_LECTURE_OPTIONAL, set in .github/workflows/tests.yml): the lecture is not ours
    to publish with the code."""
    return bool(os.environ.get("CI")) and not os.environ.get("GRADER_LECTURE_OPTIONAL")
