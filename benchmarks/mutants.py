"""Do the diagnoses hold on real students' styles?  Plant one known mistake in each correct program of a
labelled folder (see verdicts.py) and see whether the kit names it.

    python benchmarks/mutants.py FOLDER [FOLDER ...] [--out DIR] [--jobs N] [--show]

Each correct program is parsed and changed at one place, by its syntax tree (comments are lost, which
grading does not mind), when that place is plain enough to find; for the homework, in the last place
that fits, since a notebook may hold the linear program first:

* ``learning_rate``: the rate of every update that reads a gradient, 0.01 -> 0.02;
* ``update_sign``: those updates go up the gradient (``p - lr * g`` -> ``p + lr * g``);
* ``epochs``: the epoch loop's ``range(100)`` -> ``range(30)``;
* ``grad_not_reset``: every statement that resets a gradient (``.zero_()``, ``.grad = None``,
  ``zero_grad()``) is removed;
* ``data``: the last y sample 6.0 -> 7.0, in the one literal list that holds the lecture's y;
* ``initial_values``: the first parameter made from a literal 1.0 starts at 0.5;
* ``model_terms``: the term forward adds last (``+ b``) is left out;
* ``loss_formula``: the loss is not squared;
* ``param_not_updated``: the last of several ``p.data = ...`` updates is removed.

It also respells each correct program without changing its mathematics (its tensors renamed p0, p1...;
forward and loss renamed predict and cost; everything inside ``def main()``): each must keep full marks
and no diagnosis.  With ``--pairs N`` it also plants N pairs of mistakes in each program; a pair is named
when both are.  A mutant is *named* when the report carries the planted id and loses points.  The programs
belong to their authors and are never committed; this prints figures and, with ``--show``, each miss.  Run
by hand.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _updates(tree: ast.Module):
    """Each update that reads a gradient: ``p = p - c * g`` / ``p -= c * g`` (the BinOp or the AugAssign)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Sub) and ".grad" in ast.unparse(node.value):
            yield node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.BinOp) \
                and isinstance(node.value.op, ast.Sub) and ".grad" in ast.unparse(node.value.right):
            yield node.value


def learning_rate(tree: ast.Module) -> bool:
    changed = False
    for update in list(_updates(tree)):
        part = update.value if isinstance(update, ast.AugAssign) else update.right
        for node in ast.walk(part):
            if isinstance(node, ast.Constant) and node.value == 0.01:
                node.value, changed = 0.02, True
    if not changed:  # a named rate: lr = 0.01
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == 0.01:
                node.value.value, changed = 0.02, True
    return changed


def update_sign(tree: ast.Module) -> bool:
    found = list(_updates(tree))
    for update in found:
        if isinstance(update, ast.AugAssign):
            update.op = ast.Add()
        else:
            update.op = ast.Add()
    return bool(found)


def epochs(tree: ast.Module) -> bool:
    loops = [node for node in ast.walk(tree) if isinstance(node, ast.For) and "backward" in ast.unparse(node)
             and ast.unparse(node.iter) == "range(100)"]
    if not loops:
        return False
    loops[-1 if LAST else 0].iter.args[0].value = 30
    return True


def _resets(statement: ast.stmt) -> bool:
    text = ast.unparse(statement)
    return (".grad" in text and ("zero_()" in text or "= None" in text)) or "zero_grad()" in text


def grad_not_reset(tree: ast.Module) -> bool:
    removed = False
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and all(isinstance(s, ast.stmt) for s in body):
                kept = [s for s in body if not (isinstance(s, (ast.Expr, ast.Assign)) and _resets(s))]
                if len(kept) != len(body):
                    removed = True
                    setattr(node, field, kept or [ast.Pass()])
                    # a for loop over the parameters that only reset them is now a loop of pass: harmless
    return removed


def data(tree: ast.Module) -> bool:
    lists = [n for n in ast.walk(tree) if isinstance(n, (ast.List, ast.Tuple))
             and [getattr(e, "value", None) for e in n.elts] == [2.0, 4.0, 6.0]]
    if len(lists) != 1:
        return False
    lists[0].elts[2] = ast.Constant(7.0)
    return True


def _data(call: ast.Call) -> bool:
    """A tensor made of several numbers (``torch.tensor([1.0, 2.0, 3.0])``): the data, not a parameter."""
    return any(isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) > 1 for node in ast.walk(call))


def initial_values(tree: ast.Module) -> bool:
    ones = [inner for node in ast.walk(tree) if isinstance(node, ast.Call)
            and ast.unparse(node.func).split(".")[-1] in ("tensor", "Tensor", "Variable") and not _data(node)
            for inner in ast.walk(node) if isinstance(inner, ast.Constant) and type(inner.value) is float
            and inner.value == 1.0]
    if not ones:
        return False
    ones[-1 if LAST else 0].value = 0.5
    return True


def model_terms(tree: ast.Module) -> bool:
    """The model's added term (``+ b``, the bias) left out of forward's return."""
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef) and function.name == "forward":
            for node in ast.walk(function):
                if isinstance(node, ast.Return) and isinstance(node.value, ast.BinOp) \
                        and isinstance(node.value.op, ast.Add) and isinstance(node.value.right, ast.Name):
                    node.value = node.value.left
                    return True
    return False


def loss_formula(tree: ast.Module) -> bool:
    """The square dropped from the loss: ``(y_pred - y) ** 2`` -> ``(y_pred - y)``."""
    squares = [node for function in ast.walk(tree) if isinstance(function, ast.FunctionDef) and function.name == "loss"
               for node in ast.walk(function) if isinstance(node, ast.Return) and isinstance(node.value, ast.BinOp)
               and isinstance(node.value.op, ast.Pow)]
    if not squares:
        return False
    square = squares[-1 if LAST else 0]
    square.value = square.value.left
    return True


def param_not_updated(tree: ast.Module) -> bool:
    """The last parameter's update statement removed (``b.data = b.data - 0.01 * b.grad.data``)."""
    updates = [n for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AugAssign))
               and ".grad" in ast.unparse(n.value) and isinstance(n.value if isinstance(n, ast.AugAssign)
                                                                  else n.value, ast.AST)
               and "=" in ast.unparse(n) and ast.unparse(n).split("=")[0].strip().endswith(".data")]
    if len(updates) < 2:  # one update for all (a loop over the parameters) cannot lose just one
        return False
    target = updates[-1]
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if isinstance(body, list) and target in body:
                body.remove(target)
                if not body:
                    body.append(ast.Pass())
                return True
    return False


# -- the same mathematics in another spelling: each must keep full marks with no diagnosis ---------------

def _rename(tree: ast.Module, names: dict[str, str]) -> bool:
    """Every use of each name, and the functions so named; not where a function takes an argument of it, nor
    where a new name is taken already."""
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {a.arg for a in ast.walk(tree)
                                                                       if isinstance(a, ast.arg)}
    if any(isinstance(a, ast.arg) and a.arg in names for a in ast.walk(tree)) or used & set(names.values()):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
        elif isinstance(node, ast.FunctionDef) and node.name in names:
            node.name = names[node.name]
    return True


def renamed_parameters(tree: ast.Module) -> bool:
    """The tensors the module makes (``w1 = torch.tensor([1.0])``) renamed p0, p1, ... in order."""
    made = [n.targets[0].id for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Call)
            and ast.unparse(n.value.func).split(".")[-1] in ("tensor", "Tensor", "Variable", "FloatTensor")
            and "_data" not in n.targets[0].id]
    return bool(made) and _rename(tree, {name: f"p{i}" for i, name in enumerate(dict.fromkeys(made))})


def renamed_functions(tree: ast.Module) -> bool:
    """forward and loss called predict and cost."""
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    names = {k: v for k, v in (("forward", "predict"), ("loss", "cost")) if k in defined}
    return bool(names) and not ({"predict", "cost"} & defined) and _rename(tree, names)


def in_main(tree: ast.Module) -> bool:
    """Everything but the imports inside ``def main():``, called at the end (the functions become closures)."""
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    rest = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    if not rest or any(isinstance(n, ast.Global) for n in ast.walk(tree)):
        return False
    main = ast.FunctionDef(name="main", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                                                           defaults=[]), body=rest, decorator_list=[], returns=None,
                           type_params=[])
    tree.body = [*imports, main, ast.Expr(ast.Call(ast.Name("main", ast.Load()), [], []))]
    return True


STYLES = {f.__name__: f for f in (renamed_parameters, renamed_functions, in_main)}

LAST = False  # plant in the last place that fits (a notebook's homework comes after the linear warm-up)

MUTATIONS = {f.__name__: f for f in (learning_rate, update_sign, epochs, grad_not_reset, data, initial_values,
                                      model_terms, loss_formula, param_not_updated)}


def sources(path: Path) -> list[str] | None:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return [path.read_text(encoding="utf-8", errors="replace")]


# Deviations that can be planted together and each still be seen in the trace (a step up the gradient or an
# unsquared loss drives the training far away, where what else differs no longer shows).
PAIRABLE = ("learning_rate", "epochs", "grad_not_reset", "data", "initial_values", "model_terms", "param_not_updated")


# Pairs that can land on the same parameter: the bias left out of the model, then its start or its update
# changed, which no longer matters to anything the program computes.
COLLIDE = {("initial_values", "model_terms"), ("model_terms", "param_not_updated")}


def pairs(file: str, count: int) -> list[str]:
    """``count`` pairs of pairable mutations for one program, the same on every run (seeded by its name)."""
    every = [f"{a}+{b}" for i, a in enumerate(PAIRABLE) for b in PAIRABLE[i + 1:] if (a, b) not in COLLIDE]
    return random.Random(file).sample(every, min(count, len(every)))


def mutate(path: Path, name: str, last: bool) -> str | None:
    """The program as one script with the mutation applied (in the last place that fits, if ``last``), or
    None where it does not apply; ``a+b`` plants both."""
    global LAST
    LAST = last
    try:
        code = "\n".join(line for s in sources(path) for line in s.splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(code)
    except (SyntaxError, ValueError, KeyError):
        return None
    if not all({**MUTATIONS, **STYLES}[part](tree) for part in name.split("+")):
        return None
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--pairs", type=int, default=0, metavar="N",
                        help="also plant N pairs of mistakes in each program (each of the two must be named)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="mutants-"))
    planted: dict[str, dict[str, str]] = defaultdict(dict)  # assignment -> mutant file -> planted id
    for folder in args.folders:
        for label in json.loads((folder / "labels.json").read_text(encoding="utf-8")):
            if label["verdict"] != "correct":
                continue
            for name in [*MUTATIONS, *STYLES, *pairs(f"{folder.name}/{label['file']}", args.pairs)]:
                text = mutate(folder / label["file"], name, label["assignment"] == "backprop_quadratic")
                if text is None:
                    continue
                target = out / "in" / label["assignment"] / f"{folder.name}_{Path(label['file']).stem}_{name}.py"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                planted[label["assignment"]][target.name] = name
    reports = {}
    for assignment, files in planted.items():
        subprocess.run([sys.executable, "-m", "grader", "check", str(out / "in" / assignment), "--assignment",
                        assignment, "--out", str(out / assignment), "--format", "json", "--jobs", str(args.jobs),
                        "--seed", "1", "--unsafe-no-file-isolation"], cwd=ROOT, stdout=subprocess.DEVNULL,
                       check=False)
        for path in (out / assignment).rglob("report.json"):
            report = json.loads(path.read_text(encoding="utf-8"))
            reports[Path(report["submission"]).name] = report
    tried, named, misses = Counter(), Counter(), []
    for assignment, files in planted.items():
        for file, name in sorted(files.items()):
            tried[name] += 1
            report = reports.get(file)
            found = [d["id"] for d in report.get("diagnoses", [])] if report else []
            if name in STYLES and report and not found and report["score"] >= report["max_score"]:
                named[name] += 1
            elif name not in STYLES and report and set(name.split("+")) <= set(found) \
                    and report["score"] < report["max_score"]:
                named[name] += 1
            else:
                misses.append(f"{file}: planted {name}, diagnoses {found}, "
                              f"score {report['score'] if report else '-'}")
    for name in MUTATIONS:
        if tried[name]:
            print(f"{name:18} named {named[name]}/{tried[name]}")
    print(f"{'all mistakes':18} named {sum(named[n] for n in MUTATIONS)}/{sum(tried[n] for n in MUTATIONS)}")
    both = [n for n in tried if "+" in n]
    if both:
        print(f"{'pairs, both named':18} {sum(named[n] for n in both)}/{sum(tried[n] for n in both)}")
    for name in STYLES:
        if tried[name]:
            print(f"{name:18} full marks, no diagnosis {named[name]}/{tried[name]}")
    print(f"(mutants in {out})")
    if args.show:
        print("\n".join(["", "misses:", *misses]))


if __name__ == "__main__":
    main()
