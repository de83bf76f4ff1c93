"""Write tests/data/lecture_numbers.json: the numbers the lecture's two programs printed, and nothing else.

The lecture folder (``../shared/lecture/`` beside the repository, or ``$GRADER_LECTURE_DIR``) holds the
complete stdout of the lecture's two programs. The tests check the reference trace and the solutions against
these numbers on any machine, so they live in the repository as data. To re-run after the published output
changes (standard library only, from the repository root):

    python tests/data/extract_lecture_numbers.py            # the default lecture folder
    python tests/data/extract_lecture_numbers.py DIR        # another folder with the two output files

``tests/test_reference.py`` checks, where the lecture folder exists, that re-extracting gives exactly the
committed file.

Each number is parsed with ``float()`` and written with ``json`` (``repr``), so it reads back as the very
same float64 the text shows. Every line of an output file must be one of the shapes below; anything else
stops the script, so that a change of format cannot pass unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TARGET = HERE / "lecture_numbers.json"

# assignment -> (output file, its parameters in the order their gradients are printed)
PROGRAMS = {
    "backprop_linear": ("lecture_output_linear.txt", ("w",)),
    "backprop_quadratic": ("lecture_output_quadratic.txt", ("w1", "w2", "b")),
}

NUMBER = r"(\S+)"
GRAD = re.compile(rf"\tgrad: {NUMBER} {NUMBER}((?: {NUMBER})+)")
PROGRESS = re.compile(rf"progress: (\d+) {NUMBER}")
PREDICT = re.compile(rf"predict \((before|after) training\) {NUMBER} {NUMBER}")


def lecture_dir() -> Path:
    return Path(os.environ.get("GRADER_LECTURE_DIR") or ROOT.parent / "shared" / "lecture")


def number(text: str) -> int | float:
    """The value of a printed number: an integer stays one (the printed 4), anything else is a float64.

    Python printed these with ``repr``, the shortest text that reads back as the same float64; a number
    whose text is not that (so would be written differently to the JSON) is refused.
    """
    value = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    if repr(value) != text:
        raise ValueError(f"{text!r} is not how Python prints {value!r}")
    return value


def parse_output(text: str, params: tuple[str, ...]) -> dict:
    """The numbers of one program's stdout: its grad: lines, progress: lines and final prediction."""
    grad, progress, prediction = [], [], None
    for n, line in enumerate(text.splitlines(), 1):
        if m := GRAD.fullmatch(line):
            grads = [float(number(v)) for v in m.group(3).split()]
            if len(grads) != len(params):
                raise ValueError(f"line {n}: {len(grads)} gradients, expected {len(params)} ({', '.join(params)})")
            grad.append({"x": number(m.group(1)), "y": number(m.group(2)), "grads": grads})
        elif m := PROGRESS.fullmatch(line):
            progress.append({"epoch": number(m.group(1)), "loss": number(m.group(2))})
        elif m := PREDICT.fullmatch(line):
            if m.group(1) == "after":
                if prediction is not None:
                    raise ValueError(f"line {n}: a second final prediction")
                prediction = {"x": number(m.group(2)), "value": number(m.group(3))}
        else:
            raise ValueError(f"line {n}: not a grad:, progress: or predict line: {line[:60]!r}")
    if prediction is None:
        raise ValueError("no final prediction")
    return {"params": list(params), "grad": grad, "progress": progress, "prediction": prediction}


def extract(folder: Path) -> dict:
    return {name: parse_output((folder / file).read_text(encoding="utf-8"), params)
            for name, (file, params) in PROGRAMS.items()}


def render(numbers: dict) -> str:
    """JSON with one grad:/progress: record a line, so that a diff shows which number changed."""
    dump = json.dumps
    parts = []
    for name, program in numbers.items():
        rows = {key: ",\n".join(f"      {dump(item)}" for item in program[key]) for key in ("grad", "progress")}
        parts.append(
            f"  {dump(name)}: {{\n"
            f"    \"params\": {dump(program['params'])},\n"
            f"    \"grad\": [\n{rows['grad']}\n    ],\n"
            f"    \"progress\": [\n{rows['progress']}\n    ],\n"
            f"    \"prediction\": {dump(program['prediction'])}\n"
            f"  }}"
        )
    return "{\n" + ",\n".join(parts) + "\n}\n"


def load() -> dict:
    """The committed numbers, as the tests read them."""
    return json.loads(TARGET.read_text(encoding="utf-8"))


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else lecture_dir()
    numbers = extract(folder)
    text = render(numbers)
    if json.loads(text) != numbers:
        raise AssertionError("the rendered JSON does not read back as the parsed numbers")
    TARGET.write_text(text, encoding="utf-8")
    counts = ", ".join(f"{name}: {len(p['grad'])} grad, {len(p['progress'])} progress" for name, p in numbers.items())
    print(f"wrote {TARGET.relative_to(ROOT)} from {folder} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
