"""The ``grader`` command: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 every submission got full marks; 1 a submission lost points or could not run;
2 usage error (no such file, unknown assignment, bad option); 3 a broken assignment spec (a kit bug);
4 the grader failed on a submission (its entry says why, status grader-error); 5 a class was not graded
because this system offers no file isolation (--unsafe-no-file-isolation overrides); 130 interrupted (the
gradebook of what ended is written, marked incomplete).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from grader import __version__, batch
from grader.authoring.bundle import make_bundle
from grader.authoring.notebooks import stale_notebooks
from grader.errors import GraderError, IsolationError, UsageError
from grader.i18n import LANGUAGES, _, default_language, language, set_language
from grader.report import DEFAULT_FORMATS, STREAM_FORMATS, WRITERS, atomic_write
from grader.report.github import GitHubSink
from grader.report.gradebook import write_gradebook
from grader.run import has_file_isolation, make_runner, survey_walls
from grader.spec import SPECS_ENV, course_specs, find_spec
from grader.watch import watch


FORMATS = tuple(WRITERS) + STREAM_FORMATS


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse in the student's language: its own words (usage, the section titles, -h) come from the kit's
    catalog, as the help of every option does."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, formatter_class=_Formatter, add_help=False, **kwargs)
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        self.add_argument("-h", "--help", action="help", help=_("show this help message and exit"))

    def format_help(self) -> str:
        text = super().format_help()
        if language() == "zh":  # argparse ends a section title with an ASCII colon
            for title in (self._positionals.title, self._optionals.title):
                text = text.replace(f"\n{title}:\n", f"\n{title}：\n")
        return text

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
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            _("unknown format {formats}; choose from {known}").format(
                formats=", ".join(unknown) or "(none)", known=", ".join(FORMATS))
        )
    return chosen


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grader", description=_("Grade the backpropagation assignments of lecture 4."))
    parser.add_argument("--version", action="version", version=f"backprop-grader {__version__}",
                        help=_("show the kit's version and exit"))
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help=_("grade submissions and write a report for each"))
    check.add_argument("paths", nargs="+", metavar="PATH", help=_("a .py or .ipynb file, or a folder of them"))
    check.add_argument("--assignment", metavar="NAME", help=_("grade as this assignment (default: guess)"))
    check.add_argument("--out", metavar="DIR", default="grader-reports", help=_("where reports go"))
    check.add_argument("--timeout", metavar="SECONDS", type=_positive,
                       help=_("time limit of the student's program (default: the assignment's, usually 10)"))
    check.add_argument("--seed", type=int, help=_("seed the hidden probes (default: fresh random points)"))
    check.add_argument("--lang", choices=LANGUAGES, help=_("language of the reports and messages "
                       "(default: from the locale, else English)"))
    check.add_argument("--format", metavar="LIST", default=",".join(DEFAULT_FORMATS), type=_formats,
                       help=_("report formats, comma-separated, from {formats} (default: {default})").format(
                           formats=", ".join(FORMATS), default=",".join(DEFAULT_FORMATS)))
    check.add_argument("--jobs", type=_jobs, default=os.cpu_count() or 1, metavar="N",
                       help=_("submissions graded at once (default: the number of cores)"))
    check.add_argument("--resume", action="store_true",
                       help=_("skip submissions whose file and kit version have not changed since their report"))
    check.add_argument("--unsafe-no-file-isolation", action="store_true",
                       help=_("grade a class even where nothing keeps a submission from other students' files "
                            "(no Landlock, no jail)"))
    check.add_argument("--watch", action="store_true",
                       help=_("grade one file again each time it is saved, until Ctrl+C"))
    check.add_argument("--shard", type=_shard, metavar="K/N",
                       help=_("grade only the K-th of N deterministic parts (for a CI matrix; see grader merge)"))
    _spec_option(check)

    notebooks = commands.add_parser(
        "notebooks", help=_("make the .ipynb twin of each script written in the percent (# %%) format")
    )
    notebooks.add_argument("paths", nargs="*", metavar="SCRIPT",
                           help=_("scripts to convert (default: assignments/*.py and solutions/*.py)"))
    notebooks.add_argument("--check", action="store_true",
                           help=_("write nothing; exit 1 when a notebook differs from its script"))

    merge = commands.add_parser("merge", help=_("join the gradebooks and summaries of shards"))
    merge.add_argument("folders", nargs="+", metavar="DIR", help=_("the --out folders of the shards"))
    merge.add_argument("--out", metavar="DIR", default="grader-reports", help=_("where the joined files go"))

    bundle = commands.add_parser("gradescope-bundle", help=_("build a Gradescope autograder zip for an assignment"))
    bundle.add_argument("--assignment", metavar="NAME", required=True)
    bundle.add_argument("--out", metavar="FILE", help=_("the zip to write (default: gradescope-NAME.zip)"))
    _spec_option(bundle)

    _spec_option(commands.add_parser("list", help=_("list the assignments")))
    return parser


def _spec_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", action="append", default=[], metavar="PATH",
                        help=_("an assignment spec of your own (.toml), or a folder of them; may be repeated "
                               "(also ${env}, separated by {sep})").format(env=SPECS_ENV, sep=os.pathsep))


def _shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise argparse.ArgumentTypeError(_("expected K/N with 1 <= K <= N, for example 2/4"))
    return int(match.group(1)), int(match.group(2))


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(_("must be a whole number, at least 1"))
    return int(text)


class Progress:
    """A bar with the rate and the time left on a terminal (tqdm, the maintained progress bar, where
    drawing one by hand would mean redoing its rate and width handling); plain lines, one per submission,
    otherwise (a log, a CI job, a pipe)."""

    def __init__(self, total: int, stream) -> None:
        self.bar = None
        if total > 1 and stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=stream, unit=" " + _("files"), dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")

    def line(self, text: str) -> None:
        """Something to say whatever the mode (a file skipped): above the bar, which stays."""
        if self.bar is None:
            say(text)
            return
        from tqdm import tqdm

        tqdm.write(_safe(text), file=sys.stdout)

    def step(self, text: str) -> None:
        if self.bar is None:
            say(text)
            return
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _safe(text: str) -> str:
    """One line for a terminal or a CI log: no control characters from student text (tabs stay: `grader
    list` separates its fields with them)."""
    return "".join(ch if ch.isprintable() or ch == "\t" else " " for ch in text)


def say(text: str, stream=None) -> None:
    """Print one line, whatever the console's encoding (a Windows console in code page 936 cannot show
    every character: those it cannot are replaced, never a reason to stop)."""
    stream = stream or sys.stdout
    line = "\n".join(_safe(part) for part in text.split("\n")) + "\n"
    try:
        stream.write(line)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(line.encode(encoding, "replace").decode(encoding))
    stream.flush()


def state_walls(walls: tuple[str, ...], class_view: bool, accepted: bool) -> None:
    """Refuse a class without file isolation unless told to go on; say so for a single check."""
    if has_file_isolation(walls):
        return
    if class_view and not accepted:
        raise IsolationError(_("no file isolation here (neither Landlock nor a jail): a submission could read "
                               "other students' files and write anywhere you can. Grade on Linux 5.13 or later, "
                               "or pass --unsafe-no-file-isolation to grade this class anyway."))
    say(_("note: graded without file isolation (neither Landlock nor a jail on this system): fine for checking "
          "your own work, not for grading a class."), sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    specs = course_specs(args.spec)
    forced = find_spec(args.assignment, specs) if args.assignment else None
    jobs = batch.plan(args.paths)
    if args.shard:
        jobs = batch.shard(jobs, *args.shard)
    out = Path(args.out)
    files = tuple(f for f in args.format if f not in STREAM_FORMATS)
    sink = GitHubSink(sys.stdout) if "github" in args.format else None
    progress = Progress(len(jobs), sys.stderr)
    class_view = len(jobs) > 1 or any(Path(p).is_dir() for p in args.paths) or args.shard
    problems = []
    walls = survey_walls() if jobs else ()
    if jobs:
        state_walls(walls, class_view, args.unsafe_no_file_isolation)

    def on_done(result: batch.JobResult) -> None:
        if result.problem:
            problems.append(result.problem)
            progress.line(_("skipped: {problem}").format(problem=result.problem))
            return
        entry = result.entry
        line = f"{entry.submission}: {entry.score:g}/{entry.max_score:g} ({entry.assignment}) -> {result.report_path}"
        if result.skipped:
            line += "  " + _("[unchanged, not graded again]")
        else:
            line += "".join(f"  [{part}]" for part in (entry.hint, entry.error) if part)
        progress.step(line)

    def on_report(report) -> None:
        if sink is not None:
            sink.add(report, report.submission)

    if args.watch:
        return _watch(args, jobs, specs, forced, out, files, on_done)
    if sink is not None:
        sink.start()
    # One file: a fresh Python for it.  More: a warm process that forks a child for each, where it can.
    try:
        with make_runner(warm=len(jobs) > 1) as runner:
            run = batch.run_batch(
                jobs, specs, out, runner, forced=forced, formats=files, workers=args.jobs, resume=args.resume,
                time_limit=args.timeout, seed=args.seed, on_done=on_done, on_report=on_report,
            )
    finally:
        progress.close()
        if sink is not None:
            sink.finish()
    entries = run.entries
    if (class_view or run.interrupted) and entries:
        incomplete = len(jobs) if run.interrupted else None
        write_gradebook(out, entries, incomplete=incomplete)
        full = sum(1 for e in entries if e.full_marks)
        say(_("{n} graded, {full} with full marks -> {path}").format(
            n=len(entries), full=full, path=out / "grades.csv"), sys.stderr)
    if not jobs:
        say(_("this shard holds no submission"), sys.stderr)
    else:
        say(_("walls: {walls}").format(walls=", ".join(walls)), sys.stderr)
    if run.interrupted:
        say(_("grader: interrupted after {n} of {total} submissions; run the same command with --resume to "
              "grade the rest").format(n=len(entries), total=len(jobs)), sys.stderr)
        return 130
    if any(e.status == batch.GRADER_ERROR for e in entries):
        return 4
    failed = problems or not all(e.full_marks for e in entries)
    return 1 if failed else 0


def _watch(args, jobs, specs, forced, out, files, on_done) -> int:
    """--watch: one file, graded now and after each save, by children of one warm process."""
    if len(jobs) != 1 or Path(args.paths[0]).is_dir():
        raise UsageError(_("--watch grades one file: give the path of one .py or .ipynb file"))
    job = jobs[0]

    def regrade() -> None:
        began = time.monotonic()
        run = batch.run_batch([job], specs, out, runner, forced=forced, formats=files, workers=1, resume=False,
                              time_limit=args.timeout, seed=args.seed, on_done=on_done)
        if run.interrupted:  # the Ctrl-C came while grading: it ends the watch too
            raise KeyboardInterrupt
        say(_("graded in {seconds:.2f} s; watching {path} for the next save (Ctrl+C to stop)").format(
            seconds=time.monotonic() - began, path=job.path), sys.stderr)

    with make_runner(warm=True) as runner:
        watch(job.path, regrade)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    entries = []
    for folder in args.folders:
        path = Path(folder)
        if not path.is_dir():
            raise UsageError(_("{path}: no such file or folder").format(path=path))
        found = batch.read_entries(path)
        if not found:
            raise UsageError(_("{path}: no graded submission found (no entry.json)").format(path=path))
        entries += found
    seen = {}
    for entry in entries:
        key = (entry.student, entry.assignment, entry.folder)
        if key in seen:
            raise UsageError(_("{student} ({assignment}) is graded in two of the folders").format(
                student=entry.student, assignment=entry.assignment))
        seen[key] = entry
    out = Path(args.out)
    write_gradebook(out, entries)
    print(_("{n} graded, {full} with full marks -> {path}").format(
        n=len(entries), full=sum(1 for e in entries if e.full_marks),
        path=out / "grades.csv"))
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    spec = find_spec(args.assignment, course_specs(args.spec))
    target = Path(args.out or f"gradescope-{spec.name}.zip")
    make_bundle(spec.name, target, None if spec.in_kit else spec.source)
    print(_("wrote {path}: upload it as the Gradescope autograder of {assignment}").format(
        path=target, assignment=spec.name))
    return 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    scripts = [Path(p) for p in args.paths] or sorted(Path("assignments").glob("*.py")) + sorted(
        Path("solutions").glob("*.py")
    )
    if not scripts:
        raise UsageError(_("no scripts given, and no assignments/*.py or solutions/*.py here"))
    for script in scripts:
        if script.suffix != ".py" or not script.is_file():
            raise UsageError(_("{path}: not a .py file").format(path=script))
    stale = stale_notebooks(scripts)
    if args.check:
        for target, _text in stale:
            print(_("{path} is out of date: run `grader notebooks`").format(path=target), file=sys.stderr)
        return 1 if stale else 0
    for target, text in stale:
        atomic_write(target, text)
        print(f"wrote {target}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for spec in course_specs(args.spec):
        where = "" if spec.in_kit else f"\t{spec.source}"
        say(f"{spec.name}\t{spec.title_in()}{where}")
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
        if args.command == "merge":
            return cmd_merge(args)
        if args.command == "gradescope-bundle":
            return cmd_bundle(args)
        return cmd_list(args)
    except GraderError as exc:
        say(_("grader: error: {message}").format(message=exc.format_message()), sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(_("grader: interrupted"), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
