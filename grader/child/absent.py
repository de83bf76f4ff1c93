"""Stand-ins for modules a student's program imports but the grading machine does not have.

Real programs for this lecture often carry imports they never use (``import torchvision``, ``from
sklearn.svm import SVR``, left over from another lecture): on the student's laptop they run, here they
would stop before training and lose every point.  A teaching assistant would grade the mathematics, so the
import succeeds with a stand-in, and only *using* the module fails, with the usual ``ModuleNotFoundError``
at the line that uses it.  The report says which modules were stood in for.

Only imports written in the student's own code are served (the importing frame is one of the student's
files): torch and matplotlib probe for optional modules with ``try: import ...``, and must keep seeing them
missing.  This module is student territory (see boundary.py): it holds module names and nothing else.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

from grader.child.boundary import STUDENT_FILES

MOST = 20  # stand-ins one program may ask for; past that, imports fail as they would


def _refuse(self, *args, **kwargs):
    root = object.__getattribute__(self, "_root")
    raise ModuleNotFoundError(f"No module named '{root}'", name=root)


class Placeholder:
    """Anything taken from a stand-in module (``SVR`` in ``from sklearn.svm import SVR``): looking up an
    attribute gives another placeholder; any other use raises the import's error."""

    __slots__ = ("_root", "_name")

    def __init__(self, root: str, name: str) -> None:
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Placeholder(object.__getattribute__(self, "_root"), f"{object.__getattribute__(self, '_name')}.{attr}")

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_name')}: not installed where this program was graded>"

    __call__ = __getitem__ = __setitem__ = __iter__ = __len__ = __contains__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __neg__ = __float__ = __int__ = __index__ = _refuse
    __enter__ = __setattr__ = _refuse


class StandIn(types.ModuleType):
    """A module that is not installed: importable, each attribute a placeholder."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Placeholder(self.__name__.partition(".")[0], f"{self.__name__}.{attr}")


def _from_student() -> bool:
    """Whether the import statement being served is in the student's code (the first frame outside the
    import machinery and this module)."""
    frame = sys._getframe(2)
    files = STUDENT_FILES[0]
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith("<frozen importlib") or filename == __file__
                or filename.endswith(("importlib/__init__.py", "importlib\\__init__.py"))):
            return filename in files
        frame = frame.f_back
    return False


class Finder:
    """The last finder on ``sys.meta_path``: asked only when no real one found the module."""

    def __init__(self) -> None:
        self.roots: list[str] = []  # the top-level modules stood in for, in import order

    def find_spec(self, name, path=None, target=None):
        root = name.partition(".")[0]
        if root not in self.roots:
            if name != root or len(self.roots) >= MOST or not _from_student():
                return None
            self.roots.append(root)
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        module = StandIn(spec.name)
        module.__path__ = []  # a package, so that ``import sklearn.svm`` reaches this finder again
        return module

    def exec_module(self, module) -> None:
        return None


def install() -> Finder:
    finder = Finder()
    sys.meta_path.append(finder)
    return finder


def stood_in(finder: Finder) -> tuple[str, ...]:
    """The modules the program imported that are not installed (student code may have changed the list:
    only names are kept)."""
    roots = finder.roots if type(finder.roots) is list else []
    return tuple(r for r in roots if type(r) is str and r.isidentifier())[:MOST]
