"""The ``grader`` command: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 every submission got full marks; 1 a submission lost points or could not run;
2 usage error (no such file, unknown assignment, bad option); 3 a broken assignment spec (a kit bug).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader import __version__
from grader.errors import GraderError, UsageError
from grader.grade import grade, report_names
from grader.i18n import LANGUAGES, _, default_language, language, set_language
from grader.load import expand, load
from grader.notebook import script_to_notebook
from grader.report import DEFAULT_FORMATS, WRITERS, atomic_write, write_reports
from grader.run import SubprocessRunner
from grader.spec import all_specs, get_spec


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on its own; route it through UsageError instead
        raise UsageError(f"{message}\n{self.format_usage().strip()}")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{text!r} is not a number").format(text=text)) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(_("must be more than 0"))
    return value


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in WRITERS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            _("unknown format {formats}; choose from {known}").format(
                formats=", ".join(unknown) or "(none)", known=", ".join(WRITERS))
        )
    return chosen


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grader", description="Grade the backpropagation assignments of lecture 4.")
    parser.add_argument("--version", action="version", version=f"backprop-grader {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="grade submissions and write a report for each")
    check.add_argument("paths", nargs="+", metavar="PATH", help="a .py file, or a folder of them")
    check.add_argument("--assignment", metavar="NAME", help="grade as this assignment (default: guess)")
    check.add_argument("--out", metavar="DIR", default="grader-reports", help="where reports go")
    check.add_argument("--timeout", metavar="SECONDS", type=_positive,
                       help="time limit of the student's program (default: the assignment's, usually 10)")
    check.add_argument("--seed", type=int, help="seed the hidden probes (default: fresh random points)")
    check.add_argument("--lang", choices=LANGUAGES, help="language of the reports and messages "
                       "(default: from the locale, else English)")
    check.add_argument("--format", metavar="LIST", default=",".join(DEFAULT_FORMATS), type=_formats,
                       help=f"report formats, comma-separated, from {', '.join(WRITERS)} "
                            f"(default: {','.join(DEFAULT_FORMATS)})")

    notebooks = commands.add_parser(
        "notebooks", help="make the .ipynb twin of each script written in the percent (# %%) format"
    )
    notebooks.add_argument("paths", nargs="*", metavar="SCRIPT",
                           help="scripts to convert (default: assignments/*.py and solutions/*.py)")
    notebooks.add_argument("--check", action="store_true",
                           help="write nothing; exit 1 when a notebook differs from its script")

    commands.add_parser("list", help="list the assignments")
    return parser


def cmd_check(args: argparse.Namespace) -> int:
    specs = all_specs()
    forced = get_spec(args.assignment) if args.assignment else None
    submissions = [load(path, specs, forced) for path in expand(args.paths)]
    names = report_names(submissions)
    out = Path(args.out)
    runner = SubprocessRunner()
    worst = 0
    for submission, name in zip(submissions, names):
        spec = get_spec(submission.assignment)
        report = grade(submission, spec, runner, time_limit=args.timeout, seed=args.seed)
        written = write_reports(report, out / name, args.format)
        shown = written.get("md") or next(iter(written.values()))
        line = f"{submission.display_name}: {report.score:g}/{report.max_score:g} ({spec.name}) -> {shown}"
        if report.error:
            line += f"  [{report.error}]"
        print(line, flush=True)
        if not report.full_marks:
            worst = 1
    return worst


def cmd_notebooks(args: argparse.Namespace) -> int:
    scripts = [Path(p) for p in args.paths] or sorted(Path("assignments").glob("*.py")) + sorted(
        Path("solutions").glob("*.py")
    )
    if not scripts:
        raise UsageError(_("no scripts given, and no assignments/*.py or solutions/*.py here"))
    stale = []
    for script in scripts:
        if script.suffix != ".py" or not script.is_file():
            raise UsageError(_("{path}: not a .py file").format(path=script))
        text = script_to_notebook(script.read_text(encoding="utf-8"), script.stem)
        target = script.with_suffix(".ipynb")
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            continue
        stale.append(target)
        if not args.check:
            atomic_write(target, text)
            print(f"wrote {target}")
    if args.check and stale:
        for target in stale:
            print(_("{path} is out of date: run `grader notebooks`").format(path=target), file=sys.stderr)
        return 1
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for spec in all_specs():
        print(f"{spec.name}\t{spec.title}")
    return 0


def _language_from(argv: list[str]) -> str:
    """--lang is read before parsing, so that argument errors are already in the chosen language."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv) and argv[i + 1] in LANGUAGES:
            return argv[i + 1]
        if arg.startswith("--lang=") and arg[7:] in LANGUAGES:
            return arg[7:]
    return default_language()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    previous = language()
    set_language(_language_from(argv))
    try:
        return _main(argv)
    finally:
        set_language(previous)


def _main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "check":
            return cmd_check(args)
        if args.command == "notebooks":
            return cmd_notebooks(args)
        return cmd_list(args)
    except GraderError as exc:
        print(_("grader: error: {message}").format(message=exc.format_message()), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(_("grader: interrupted"), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
