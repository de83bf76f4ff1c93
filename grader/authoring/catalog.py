"""The translation catalog, managed with Babel (a development dependency); this module is only the
extractor Babel calls.

The Chinese messages live in ``grader/locale/zh/LC_MESSAGES/grader.po`` (translated by hand) and
``grader.mo`` (compiled from it; what ``grader/i18n.py`` loads at run time with the standard library's
gettext).  After adding or changing messages, from the repository's root:

    pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project backprop-grader \
        -o grader/locale/grader.pot .
    pybabel update -i grader/locale/grader.pot -d grader/locale -D grader -l zh --no-fuzzy-matching \
        --ignore-obsolete
    pybabel compile -d grader/locale -D grader

then translate the new (empty) entries in grader.po and compile again.  babel.cfg points Babel at
``extract_messages`` below rather than its own Python extractor, which on Python 3.11 does not look inside
f-strings (``f"<h2>{_('Checks')}</h2>"``) and would miss such messages.  Tests fail when a message has no
Chinese translation, when a translation's ``{placeholders}`` differ from the English ones, when the template
or the catalog lags behind the code, or when the committed .mo is not the compiled .po.
"""

from __future__ import annotations

import ast
from typing import IO, Iterator

KEYWORDS = ("_", "N_")  # N_ marks the messages the child process sends untranslated


def messages(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """(line, keyword, message) for every literal passed to _() or N_(), f-strings included."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in KEYWORDS
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            yield node.lineno, node.func.id, node.args[0].value


def extract_messages(fileobj: IO[bytes], keywords, comment_tags, options) -> Iterator[tuple]:
    """A Babel extraction method (``[grader.authoring.catalog.extract_messages: grader/**.py]``), in line
    order: (line, function name, message, translator comments)."""
    tree = ast.parse(fileobj.read().decode("utf-8"))
    for line, keyword, message in sorted(messages(tree)):
        yield line, keyword, message, []
