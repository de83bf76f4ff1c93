"""grader/load.py: reading a submission (its encoding) and telling which assignment it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.load import assigned_names, decode_source, detect_assignment, load
from grader.spec import all_specs, get_spec

SPECS = all_specs()
LINEAR_CODE = "import torch\nw = torch.tensor([1.0], requires_grad=True)\n"
QUADRATIC_CODE = "import torch\nw1 = torch.ones(1)\nw2 = torch.ones(1)\nb = torch.ones(1)\n"


@pytest.mark.parametrize(
    "filename, code, expected",
    [
        ("backprop_linear.py", QUADRATIC_CODE, "backprop_linear"),  # the name wins over the code
        ("my_homework.py", "", "backprop_quadratic"),
        ("lab4_quadratic_zhang.py", "", "backprop_quadratic"),
        ("linear.py", "", "backprop_linear"),
        ("submission.py", LINEAR_CODE, "backprop_linear"),
        ("submission.py", QUADRATIC_CODE, "backprop_quadratic"),
        ("submission.py", QUADRATIC_CODE + "w = 3\n", "backprop_quadratic"),  # the fuller match
        ("作业.py", "w1 = 1\nw2 = 1\nb = 1\ndef broken(:\n", "backprop_quadratic"),  # code that does not parse
    ],
)
def test_detection(filename, code, expected) -> None:
    assert detect_assignment(Path(filename), code, SPECS).name == expected


@pytest.mark.parametrize("filename, code", [("a.py", "x = 1\n"), ("linear_homework.py", "")])
def test_unknown_or_ambiguous_lists_the_assignments(filename, code) -> None:
    with pytest.raises(UsageError) as info:
        detect_assignment(Path(filename), code, SPECS)
    assert "backprop_linear, backprop_quadratic" in info.value.message
    assert info.value.exit_code == 2


def test_override(tmp_path) -> None:
    path = tmp_path / "x.py"
    path.write_text("x = 1\n")
    assert load(path, SPECS, get_spec("backprop_quadratic")).assignment == "backprop_quadratic"


@pytest.mark.parametrize(
    "data, encoding",
    [
        ("# 中文注释\nw = 1\n".encode("utf-8"), "utf-8"),
        ("\ufeff# 中文注释\nw = 1\n".encode("utf-8"), "utf-8"),
        ("# 中文注释\r\nw = 1\r\n".encode("gb18030"), "gb18030"),
    ],
)
def test_decoding(data, encoding) -> None:
    text, used = decode_source(data, Path("x.py"))
    assert text == "# 中文注释\nw = 1\n" and used == encoding


def test_undecodable_bytes_become_a_problem_to_report(tmp_path) -> None:
    path = tmp_path / "linear_garbled.py"
    path.write_bytes(b"\xff\xfe\x00\x81\x30\xff")
    submission = load(path, SPECS)
    assert submission.assignment == "backprop_linear"
    assert "neither UTF-8 nor GB18030" in submission.problem
    unnamed = tmp_path / "garbled.py"
    unnamed.write_bytes(b"\xff\xfe\x00\x81\x30\xff")
    with pytest.raises(UsageError, match="--assignment"):
        load(unnamed, SPECS)


def test_assigned_names_sees_tuple_targets_and_loops() -> None:
    assert {"w1", "w2", "b", "i"} <= assigned_names("w1, w2 = 1, 2\nfor i in []: pass\nb: int = 0\n")


def test_file_names_become_text_any_report_can_hold() -> None:
    import os

    from grader.load import readable_name

    assert readable_name(os.fsdecode("张三作业".encode("gbk"))) == "张三作业"  # unpacked from a Chinese Windows zip
    assert readable_name(os.fsdecode("李四".encode("utf-8"))) == "李四"
    assert readable_name(os.fsdecode(b"\xff\xfe")) == "\\xff\\xfe"  # neither: shown as escapes
    assert readable_name("a\nb\x1b[1m") == "a\\nb\\x1b[1m"
    readable_name(os.fsdecode(b"\x81\x30")).encode("utf-8")  # whatever it is, it can be written
