"""grader/i18n.py: the language chosen from the locale, per process and per thread, and the child's
templates translated in the parent."""

from __future__ import annotations

import pytest

from grader.i18n import default_language


@pytest.mark.parametrize(
    "env, lang",
    [({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN"}, "en"), ({}, "en"),
     ({"LANGUAGE": "zh_TW:en"}, "zh"), ({"LANG": "C.UTF-8"}, "en")],
)
def test_default_language_follows_the_locale(env, lang) -> None:
    assert default_language(env) == lang
