"""Reports in Chinese read as Chinese: no English sentence left from the kit, no ASCII punctuation beside
Chinese text.  Every end-to-end case that runs by itself is graded with --lang zh and its report.md read.

What is left in English on purpose: code (in `spans` and fenced blocks), the student's own output, file names,
numbers, and the text of a Python exception (the program's own words, quoted as it said them)."""

from __future__ import annotations

import re

import pytest
from cases import CASES, needs_lecture, lecture_available

from grader.cli import main

CJK = "\u4e00-\u9fff"
ENGLISH = re.compile(r"(?<![\w'])[A-Za-z][a-z]+(?:[ ,-]+[A-Za-z][a-z]+){3,}")  # four words in a row
ASCII_NEXT_TO_CHINESE = re.compile(
    rf"[{CJK}][,:;!?]|[,:;!?] ?[{CJK}]|[。：，；！？]\s(?!\|)"  # ASCII punctuation, or a space after full-width
    rf"|[{CJK}] (?=[{CJK}])|[。！？][。！？]")  # a stray space between Chinese words; two stops in a row
PYTHON_ERROR = re.compile(r"(因|with )\s?\w+(Error|Exception)\b.*?[：:].*?。")  # "...因 AttributeError 而停止（...）：<its text>。"


def readable_part(report: str) -> str:
    """The kit's own words in a report.md: code, output sections, Python's error text and file names out."""
    text = report.split("\n## 输出")[0].split("\n## 错误输出")[0].split("\n## 程序停止的位置")[0]
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", "`X`", text)
    text = re.sub(r"(你的程序因 \w+ 而停止[^：]*：|你的文件有语法错误[^：]*：)[^|]*", r"\1", text)
    text = re.sub(r"[\w.\\-]+\.(py|ipynb)\b", "F", text)
    return text


@pytest.fixture(scope="module")
def chinese_reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zh")
    cases = [c for c in CASES if not c.assignment and (not needs_lecture(c) or lecture_available())]
    for case in cases:
        source = case.source()
        path = folder / "in" / case.name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(source) if isinstance(source, bytes) else path.write_text(source, encoding="utf-8")
    main(["check", str(folder / "in"), "--out", str(folder / "out"), "--lang", "zh", "--format", "md",
          "--timeout", "3"])
    return {p.parent.name: p.read_text(encoding="utf-8") for p in (folder / "out").glob("*/report.md")}


def test_no_english_sentence_is_left_in_a_chinese_report(chinese_reports) -> None:
    assert len(chinese_reports) > 40
    assert "**得分：10 / 10**" in chinese_reports["backprop_linear"]  # graded, not a report of the grader's failure
    left = {name: ENGLISH.findall(readable_part(text)) for name, text in chinese_reports.items()}
    assert not {name: found for name, found in left.items() if found}


def test_no_ascii_punctuation_beside_chinese_text(chinese_reports) -> None:
    found = {}
    for name, text in chinese_reports.items():
        for line in readable_part(text).splitlines():
            for match in ASCII_NEXT_TO_CHINESE.finditer(line):
                found.setdefault(name, []).append(line[max(0, match.start() - 12):match.end() + 12])
    assert not found
