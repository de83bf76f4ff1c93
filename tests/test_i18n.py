"""grader/i18n.py: the language chosen from the locale, per process and per thread, and the child's
templates translated in the parent."""

from __future__ import annotations

import threading

import pytest

from grader.i18n import _, default_language, language, set_language, translate_template, using


@pytest.mark.parametrize(
    "env, lang",
    [({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN"}, "en"), ({}, "en"),
     ({"LANGUAGE": "zh_TW:en"}, "zh"), ({"LANG": "C.UTF-8"}, "en")],
)
def test_default_language_follows_the_locale(env, lang) -> None:
    assert default_language(env) == lang


def test_using_chooses_a_language_for_this_thread_only() -> None:
    seen = {}

    def other_thread() -> None:
        seen["language"], seen["text"] = language(), _("start a process")

    with using("zh"):
        assert language() == "zh" and _("start a process") == "创建进程"
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        with using("en"):
            assert _("start a process") == "start a process"
        assert language() == "zh"  # the outer block's choice is back
    assert seen == {"language": "en", "text": "start a process"}
    assert language() == "en"


def test_set_language_is_the_process_default_under_a_threads_choice() -> None:
    set_language("zh")
    assert _("start a process") == "创建进程"
    with using("en"):
        assert _("start a process") == "start a process"
    assert language() == "zh"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'; choose from en, zh"):
        set_language("fr")
    with pytest.raises(ValueError):
        with using("fr"):
            pass
    assert language() == "en"


def test_translate_template_translates_then_fills_in() -> None:
    template = "Your program tried to {what}; that is not allowed while grading."
    assert translate_template(template, {"what": "fork"}) == "Your program tried to fork; that is not allowed while grading."
    with using("zh"):
        assert translate_template(template, {"what": "fork"}) == "你的程序尝试fork；评分时不允许这样做。"
        assert translate_template("not in the catalog: {x}", {"x": 1}) == "not in the catalog: 1"


@pytest.mark.parametrize("template, args", [("{name} is missing", {}), ("{0}", {}), ("{x:d}", {"x": "text"}),
                                            ("{x.real}", {"x": "s"}), ("{", {})])
def test_a_template_that_cannot_be_filled_in_is_shown_as_it_came(template, args) -> None:
    assert translate_template(template, args) == template


def test_a_template_from_the_child_fills_in_only_the_kits_own_placeholders() -> None:
    """A template comes from another process: a width that would build a gigabyte string, an attribute, an
    index, a conversion or a missing argument leave it shown as it came, never an exception."""
    for template in ("{x:>999999999}", "{x.__class__}", "{x[0]}", "{x!r}", "{y}", "{0}", "{x:g", "{x:d}"):
        assert translate_template(template, {"x": 1.5}) == template
    assert translate_template("{x:g} s and {rel:.2g}%", {"x": 2.5, "rel": 12.345}) == "2.5 s and 12%"
    assert translate_template("{x:g}", {"x": "text"}) == "{x:g}"  # the wrong kind of argument


def test_a_quoted_sentence_keeps_its_own_stop() -> None:
    from grader.i18n import tidy
    assert tidy("语法错误：Did you mean print(...)?。") == "语法错误：Did you mean print(...)?"
    assert tidy("停止：Name is not defined.。") == "停止：Name is not defined."
    assert tidy("它停止了？。") == "它停止了？"
