"""An instructor's own assignment from a course folder, outside the package (grader check --spec, or
$GRADER_SPECS): the README's walk-through done from a temporary copy of examples/course, and the
messages a broken spec gets."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from cases import ROOT

from grader.cli import main
from grader.spec import SPECS_ENV

EXAMPLE = ROOT / "examples" / "course"


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "course"
    shutil.copytree(EXAMPLE, folder)
    return folder


def test_the_variant_is_graded_from_the_course_folder(course, tmp_path) -> None:
    """The README's commands: the solution gets full marks, the skeleton is stopped at its first TODO, and
    a solution that never resets gradients is told so, in the cubic model's own terms."""
    (course / "cubic_no_reset.py").write_text(
        (course / "solutions" / "backprop_cubic.py").read_text(encoding="utf-8").replace(
            "            p.grad.data.zero_()\n", ""), encoding="utf-8")
    out = tmp_path / "out"
    files = [course / "backprop_cubic.py", course / "solutions" / "backprop_cubic.py", course / "cubic_no_reset.py"]
    code = main(["check", "--spec", str(course), *map(str, files), "--out", str(out), "--format", "json"])
    reports = {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*/report.json")}
    assert sorted((r["score"], r["assignment"]) for r in reports.values()) == [
        (0.0, "backprop_cubic"), (5.0, "backprop_cubic"), (10.0, "backprop_cubic")]
    assert [d["id"] for d in reports["cubic_no_reset"]["diagnoses"]] == ["grad_not_reset"]
    assert code == 1


def test_the_solution_gets_full_marks_through_the_environment_variable(course, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(SPECS_ENV, str(course / "backprop_cubic.toml"))
    out = tmp_path / "out"
    assert main(["check", str(course / "solutions" / "backprop_cubic.py"), "--out", str(out), "--format", "json"]) == 0
    report = json.loads((out / "backprop_cubic" / "report.json").read_text(encoding="utf-8"))
    assert report["score"] == 10 and report["assignment"] == "backprop_cubic"


def test_list_names_the_course_assignment_and_its_file(course, capsys) -> None:
    assert main(["list", "--spec", str(course)]) == 0
    lines = capsys.readouterr().out.splitlines()
    cubic = next(line for line in lines if line.startswith("backprop_cubic"))
    assert str(course / "backprop_cubic.toml") in cubic
    assert any(line.startswith("backprop_linear") for line in lines)  # the kit's own stay


@pytest.mark.parametrize("edit, fragment", [
    (('learning_rate = 0.005', 'learning_rate = "fast"'), "'learning_rate' should be a whole number or a number, not 'fast'"),
    (('epochs = 200', 'epochs = 0'), "epochs must be at least 1"),
    (('model = "w1 * x**3 + w2 * x**2 + w3 * x + b"', 'model = "w1 * x**3 + w4 * x"'), "unknown names ['w4']"),
    (('name = "backprop_cubic"', 'name = "backprop_linear"'), "must match its file name"),
    (('[checks.runs]', '[checks.runs_fast]'), "unknown checks ['runs_fast']"),
])
def test_a_broken_spec_is_refused_with_its_file_and_field(course, tmp_path, capsys, edit, fragment) -> None:
    spec = course / "backprop_cubic.toml"
    text = spec.read_text(encoding="utf-8")
    assert edit[0] in text
    spec.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    code = main(["check", "--spec", str(course), str(course / "solutions" / "backprop_cubic.py"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3 and str(spec) in err and fragment in err, err


def test_a_course_assignment_may_not_take_a_kit_assignments_name(course, tmp_path, capsys) -> None:
    clash = course / "backprop_linear.toml"
    clash.write_text((course / "backprop_cubic.toml").read_text(encoding="utf-8").replace(
        'name = "backprop_cubic"', 'name = "backprop_linear"'), encoding="utf-8")
    assert main(["list", "--spec", str(clash)]) == 3
    assert "two assignments are named 'backprop_linear'" in capsys.readouterr().err


def test_a_missing_course_folder_is_a_usage_error(tmp_path, capsys) -> None:
    assert main(["list", "--spec", str(tmp_path / "nowhere")]) == 2
    assert "no such spec file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["list", "--spec", str(tmp_path / "empty")]) == 2
    assert "no assignment spec" in capsys.readouterr().err


def test_the_gradescope_bundle_carries_the_course_spec(course, tmp_path) -> None:
    target = tmp_path / "bundle.zip"
    assert main(["gradescope-bundle", "--assignment", "backprop_cubic", "--spec", str(course),
                 "--out", str(target)]) == 0
    with zipfile.ZipFile(target) as archive:
        assert archive.read("spec/backprop_cubic.toml") == (course / "backprop_cubic.toml").read_bytes()
        assert '--spec "$root/source/spec/backprop_cubic.toml"' in archive.read("run_autograder").decode()
