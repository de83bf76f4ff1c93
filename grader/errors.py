"""Errors that own their message and their exit code (in the manner of click's exceptions)."""

from __future__ import annotations


class GraderError(Exception):
    """An error the command line reports as one plain line, without a traceback."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        return self.message


class UsageError(GraderError):
    """The command was called wrongly: no such file, unknown assignment, bad option value."""

    exit_code = 2


class SpecError(GraderError):
    """An assignment spec is malformed (the kit's in grader/specs/, or an instructor's own): never the
    student's doing.  The message names the file and the field."""

    exit_code = 3


class IsolationError(GraderError):
    """A class would be graded with weaker walls than it needs (no file isolation), and the instructor has
    not said to go on anyway."""

    exit_code = 5
