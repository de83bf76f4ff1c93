"""Student-facing text in English or Chinese, at run time, through the standard gettext machinery.

Every such string in the code is written ``_("... {name} ...").format(name=...)``; the child process
marks its messages with a local ``N_`` and sends them as English templates, translated here by
``translate_template``.  The language is the process's (``set_language``) unless a thread chose its own
(``using``).  The compiled catalog is ``grader/locale/zh/LC_MESSAGES/grader.mo``, kept in step with the
code with Babel (``grader/authoring/catalog.py`` says how).
"""

from __future__ import annotations

import gettext
import os
import re
import string
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

DOMAIN = "grader"
PACKAGE = Path(__file__).resolve().parent
LOCALE_DIR = PACKAGE / "locale"
LANGUAGES = ("en", "zh")

_default: tuple[str, gettext.NullTranslations] = ("en", gettext.NullTranslations())
_local = threading.local()  # what ``using`` chose in this thread, over the process default


def _current() -> tuple[str, gettext.NullTranslations]:
    return getattr(_local, "current", None) or _default


def _(message: str) -> str:
    return _current()[1].gettext(message)


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; ``_`` translates it where it is shown.  (The
    child process keeps its own copy: it imports nothing of the parent's.)"""
    return message


def language() -> str:
    return _current()[0]


def _load(lang: str) -> tuple[str, gettext.NullTranslations]:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose from {', '.join(LANGUAGES)}")
    if lang == "en":
        return lang, gettext.NullTranslations()
    return lang, gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang])


def set_language(lang: str) -> None:
    """The language of the whole process (threads that chose one with ``using`` keep theirs)."""
    global _default
    _default = _load(lang)


@contextmanager
def using(lang: str) -> Iterator[None]:
    """This language for the current thread, inside the block."""
    previous = getattr(_local, "current", None)
    _local.current = _load(lang)
    try:
        yield
    finally:
        _local.current = previous


def tidy(text: str) -> str:
    """No doubled stop where a quoted sentence that ends in ? or . meets the stop of the sentence around it."""
    for doubled, single in (("？。", "？"), ("。。", "。"), ("?.", "?"), ("?。", "?"), ("!。", "!"), (".。", ".")):
        text = text.replace(doubled, single)
    return text


def sentences(*parts: str | None) -> str:
    """Sentences one after another: a space between them in English, none in Chinese (a full-width stop
    ends a Chinese sentence).  Empty parts are left out."""
    chosen = [p.strip() for p in parts if p and p.strip()]
    return tidy(("" if language() == "zh" else " ").join(chosen))


def default_language(environ: Mapping[str, str] | None = None) -> str:
    """Chinese when the locale says so (LANGUAGE, LC_ALL, LC_MESSAGES, LANG, first one set), else English."""
    environ = os.environ if environ is None else environ
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


_FIELD = re.compile(r"[A-Za-z_]\w{0,40}")
_SPEC = re.compile(r"(\.\d)?[gf]?")  # what the kit's own templates use: {x}, {x:g}, {rel:.2g}


def translate_template(template: str, args: Mapping[str, object]) -> str:
    """A message the child process sent as an English template and its arguments, in the current language.
    The template comes from another process, so only the kit's own kind of placeholder is filled in (a
    name, with at most a precision and g or f): one that asks for anything else (a width that would build
    a gigabyte string, an attribute, a missing argument) leaves the template shown as it came."""
    text = _(template)
    out = []
    try:
        for literal, name, spec, conversion in string.Formatter().parse(text):
            out.append(literal)
            if name is None:
                continue
            if conversion or not _FIELD.fullmatch(name) or name not in args or not _SPEC.fullmatch(spec or ""):
                return template
            out.append(format(args[name], spec or ""))
    except (ValueError, TypeError):
        return template
    return "".join(out)
