"""Shared fixtures, each computed once per session: every case of tests/cases.py graded two at a time by
one warm fork server (a few cases by the one-process-per-run runner, which grades single files); a class
folder graded by `grader check` with every report format; and the hostile programs graded as a class."""

from __future__ import annotations

import io
import os
import sys
import time
from contextlib import redirect_stdout
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from builders import check_quietly  # noqa: E402
from cases import CASES, HOSTILE, ROOT, SUBMISSIONS, Case, lecture_available, needs_lecture  # noqa: E402

from grader.cli import main  # noqa: E402
from grader.grade import Report, grade  # noqa: E402
from grader.i18n import set_language, using  # noqa: E402
from grader.load import load  # noqa: E402
from grader.run import make_runner  # noqa: E402
from grader.portable import PortableRunner  # noqa: E402
from grader.spec import all_specs, get_spec  # noqa: E402

BY_NAME = {c.name: c for c in CASES}
# A student whose output and error try to issue GitHub workflow commands.
EVIL = 'import sys\nprint("::error::from stdout")\nraise RuntimeError("boom ::error file=x::injected %0A::warning::again\\nsecond")\n'


class Grading:
    """Grades cases in the background as soon as the session starts; ``report(case)`` waits for one."""

    # Graded by a fresh Python each, as `grader check FILE` does: a script, a notebook, a failing program.
    ON_SUBPROCESS = frozenset({"backprop_linear.py", "skeleton_quadratic.py", "backprop_quadratic_nb.ipynb",
                               "linear_infinite_loop.py", "linear_sys_exit.py", "lecture_homework.py"})

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server = make_runner(warm=True)  # the fork server on Linux, the portable runner elsewhere
        self.pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
        self.futures: dict[str, Future] = {}
        self.submissions: dict[str, object] = {}

    def submit(self, case: Case) -> None:
        if case.name not in self.futures:
            self.futures[case.name] = self.pool.submit(self._grade, case)

    def _grade(self, case: Case) -> Report:
        with using("en"):  # whatever language a test sets meanwhile in the main thread
            return self._grade_in_english(case)

    def _grade_in_english(self, case: Case) -> Report:
        forced = get_spec(case.assignment) if case.assignment else None
        submission = load(case.write(self.folder), all_specs(), forced)
        self.submissions[case.name] = submission
        runner = PortableRunner() if case.name in self.ON_SUBPROCESS else self.server
        return grade(submission, get_spec(submission.assignment), runner, time_limit=case.timeout)

    def report(self, case: Case) -> Report:
        self.submit(case)
        return self.futures[case.name].result()


# What only Linux has: the walls (jail, Landlock, seccomp), the unprivileged user, the fork server; and the
# POSIX parts hidden on purpose to stand for Windows.  Elsewhere (GitHub's Windows and macOS runners) these
# are skipped, and the rest of the suite tests the portable runner the kit uses there.
LINUX_ONLY = {"test_hostile.py", "test_unprivileged.py", "test_child_sandbox.py", "test_class_oddities.py"}
POSIX_ONLY = {"test_portable.py"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        name = item.path.name
        if name in LINUX_ONLY and not sys.platform.startswith("linux"):
            item.add_marker(pytest.mark.skip(reason="tests what only Linux has"))
        elif name in POSIX_ONLY and os.name != "posix":
            item.add_marker(pytest.mark.skip(reason="stands for Windows on a POSIX system"))


@pytest.fixture(scope="session")
def grading(tmp_path_factory) -> Grading:
    grading = Grading(tmp_path_factory.mktemp("cases"))
    for case in CASES:
        if not needs_lecture(case) or lecture_available():
            grading.submit(case)
    yield grading
    grading.pool.shutdown(wait=True, cancel_futures=True)
    grading.server.close()


@pytest.fixture(autouse=True)
def english_by_default():
    """Each test starts in English, whatever an earlier one chose."""
    set_language("en")
    yield
    set_language("en")


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """A class folder graded once per session by `grader check FOLDER` with every format: one file per
    student, plus one student folder with a file per assignment.  Returns (the folder, the output folder,
    the exit code, what the command printed)."""
    root = tmp_path_factory.mktemp("class")
    folder = root / "class"
    folder.mkdir()
    (folder / "alice.py").write_text((ROOT / "solutions" / "backprop_linear.py").read_text(encoding="utf-8"))
    (folder / "bob.py").write_text(BY_NAME["linear_grad_not_reset.py"].source(), encoding="utf-8")
    (folder / "carol.py").write_text((SUBMISSIONS / "linear_syntax_error.py").read_text())
    (folder / "dan.py").write_text((SUBMISSIONS / "linear_infinite_loop.py").read_text())
    (folder / "erin.ipynb").write_text((ROOT / "solutions" / "backprop_linear.ipynb").read_text(encoding="utf-8"))
    (folder / "mallory.py").write_text(EVIL)
    (folder / "frank").mkdir()
    (folder / "frank" / "backprop_linear.py").write_text((ROOT / "solutions" / "backprop_linear.py").read_text())
    (folder / "frank" / "my_homework.py").write_text(BY_NAME["quadratic_two_mistakes.py"].source())
    out = root / "out"
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        code = main(["check", str(folder), "--assignment", "backprop_linear", "--jobs", "2", "--timeout", "2",
                     "--out", str(out), "--format", "md,json,html,junit,gradescope,github"])
    return folder, out, code, stdout.getvalue()


@pytest.fixture(scope="session")
def hostile(tmp_path_factory):
    """Every program of tests/hostile/ (and two that read another student's file) graded once per session
    as a class, under the jail where this machine allows it.  Returns (the temporary root, each
    report.json by name, the exit code, the seconds it took)."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "class"
    folder.mkdir()
    for path in HOSTILE.glob("*.py"):
        (folder / path.name).write_text(path.read_text())
    victim = root / "victim" / "alice.py"
    victim.parent.mkdir()
    victim.write_text("SECRET = 'alice solution'\n")
    (folder / "read_named_file.py").write_text(f"print(open({str(victim)!r}).read())\n")
    # No audit event guards listing a folder: only the jail hides the class's files.
    (folder / "list_named_folder.py").write_text(f"import os\nprint(os.listdir({str(victim.parent)!r}))\n")
    out = root / "out"
    started = time.monotonic()
    code, reports = check_quietly(folder, out, "--assignment", "backprop_linear", "--jobs", "2", "--timeout", "5",
                                  formats="md,json")
    elapsed = time.monotonic() - started
    return root, reports, code, elapsed



TEST_USER = "grader-test"


@pytest.fixture(scope="session")
def unprivileged():
    """A user without privileges that can run this Python and read this checkout: (uid, gid, home).  Made
    here when the tests run as root (as CI does); where a folder on the way to Python is closed to others
    (/root, where pyenv puts it), it is opened for passing through (o+x, not for listing) for the session
    and closed again after.  Skipped where the tests do not run as root on Linux."""
    import grp
    import pwd
    import shutil
    import stat
    import subprocess

    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("running the kit as an unprivileged user needs Linux and root to make that user")
    try:
        user = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", TEST_USER], check=True, capture_output=True)
        user = pwd.getpwnam(TEST_USER)
    opened = []
    for path in {Path(sys.executable).resolve(), Path(sys.prefix), ROOT}:
        for folder in [*reversed(path.parents), path]:
            mode = folder.stat().st_mode
            if folder.is_dir() and not mode & stat.S_IXOTH:
                folder.chmod(mode | stat.S_IXOTH)
                opened.append((folder, mode))
    try:
        yield user.pw_uid, grp.getgrgid(user.pw_gid).gr_gid, user.pw_dir
    finally:
        for folder, mode in reversed(opened):
            folder.chmod(mode)


def run_as(user, argv, **kwargs):
    """``subprocess.run`` as the unprivileged user (its home, its environment; the rest as given)."""
    import subprocess

    uid, gid, home = user
    env = {**os.environ, "HOME": home, "USER": TEST_USER, "LOGNAME": TEST_USER}
    env.pop("XDG_CACHE_HOME", None)
    return subprocess.run(argv, user=uid, group=gid, extra_groups=[], env=env, capture_output=True, text=True,
                          **kwargs)
