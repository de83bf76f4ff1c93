"""grader/child/absent.py: a module the grading machine lacks can be imported by the student's code (using
it fails where it is used), never by the libraries, whose optional imports must keep failing."""

from __future__ import annotations

import sys

import pytest

from grader.child import absent
from grader.child.boundary import STUDENT_FILES


@pytest.fixture
def finder():
    saved, before = STUDENT_FILES[0], set(sys.modules)
    STUDENT_FILES[0] = frozenset({"hw.py"})
    found = absent.install()
    yield found
    sys.meta_path.remove(found)
    STUDENT_FILES[0] = saved
    for name in set(sys.modules) - before:
        del sys.modules[name]


def run(code: str, filename: str = "hw.py") -> dict:
    space: dict = {}
    exec(compile(code, filename, "exec"), space)
    return space


def test_an_unused_import_goes_through_and_is_listed(finder) -> None:
    run("import no_such_module_a\nfrom no_such_module_b.svm import SVR\nimport no_such_module_a.sub as s\n")
    assert absent.stood_in(finder) == ("no_such_module_a", "no_such_module_b")


def test_using_the_module_fails_with_the_import_error(finder) -> None:
    with pytest.raises(ModuleNotFoundError, match="No module named 'no_such_module_c'"):
        run("import no_such_module_c as m\nm.transforms.ToTensor()\n")
    space = run("from no_such_module_d import thing\n")
    for use in (lambda t: t + 1, lambda t: t[0], lambda t: list(t), lambda t: float(t)):
        with pytest.raises(ModuleNotFoundError):
            use(space["thing"])
    assert "not installed" in repr(space["thing"])


def test_a_library_import_still_fails(finder) -> None:
    with pytest.raises(ModuleNotFoundError):
        run("import no_such_module_e\n", filename="/usr/lib/python3/site-packages/somelib.py")
    assert absent.stood_in(finder) == ()


def test_a_submodule_of_an_installed_package_still_fails(finder) -> None:
    with pytest.raises(ModuleNotFoundError):
        run("import json.no_such_submodule\n")


def test_a_tampered_list_yields_only_names(finder) -> None:
    finder.roots.extend([42, "ok_name", "bad name\n<script>"])
    assert absent.stood_in(finder) == ("ok_name",)
    finder.roots = "not a list"
    assert absent.stood_in(finder) == ()


def test_there_is_a_limit(finder) -> None:
    run("".join(f"import no_such_many_{k}\n" for k in range(absent.MOST)))
    with pytest.raises(ModuleNotFoundError):
        run("import one_too_many\n")
