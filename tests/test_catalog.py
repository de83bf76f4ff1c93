"""The translation catalog, managed with Babel: every message of the code in the template and translated,
none left over, placeholders kept, the committed .mo what `pybabel compile` makes of the .po; and the
extractor that babel.cfg names finds every message, those inside f-strings too."""

from __future__ import annotations

import ast
import functools
import gettext
import io
import string

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from cases import ROOT

from grader.authoring.catalog import messages

LOCALE = ROOT / "grader" / "locale"
PO = LOCALE / "zh" / "LC_MESSAGES" / "grader.po"


@functools.lru_cache(maxsize=None)
def in_code() -> tuple[str, ...]:
    """Every literal passed to _() or N_() in the package, read from the syntax trees (once)."""
    found: dict[str, None] = {}
    for path in sorted((ROOT / "grader").rglob("*.py")):
        for _line, _keyword, message in messages(ast.parse(path.read_text(encoding="utf-8"))):
            found.setdefault(message)
    return tuple(found)


def extracted() -> set[str]:
    """What `pybabel extract -F babel.cfg -k N_` finds."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {"_": None, "N_": None}
    return {message for _f, _l, message, _c, _x in extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)}


def load(path) -> Catalog:
    with open(path, "rb") as handle:
        return read_po(handle)


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def misplaced(catalog: Catalog) -> dict[str, str]:
    """Translations whose {placeholders} are not the English ones."""
    return {m.id: m.string for m in catalog if m.id and m.string and fields(m.id) != fields(m.string)}


def test_babel_finds_every_message_f_strings_included() -> None:
    code = in_code()
    assert "Checks" in code  # only ever inside an f-string (grader/report/html.py)
    assert "start a process" in code  # marked N_ in the child: sent untranslated
    assert extracted() == set(code)


def test_the_template_is_up_to_date() -> None:
    assert {m.id for m in load(LOCALE / "grader.pot") if m.id} == set(in_code()), \
        "run the pybabel extract and update commands of grader/authoring/catalog.py"


def test_every_message_has_a_chinese_translation() -> None:
    catalog = load(PO)
    missing = [m for m in in_code() if not (catalog.get(m) and catalog.get(m).string)]
    assert not missing, f"translate these in {PO} (see grader/authoring/catalog.py): {missing}"


def test_the_catalog_holds_no_message_the_code_no_longer_uses() -> None:
    used = set(in_code())
    stale = [m.id for m in load(PO) if m.id and m.id not in used]
    assert not stale


def test_translations_keep_the_placeholders() -> None:
    assert misplaced(load(PO)) == {}


def test_a_changed_placeholder_is_caught() -> None:
    catalog = Catalog(locale="zh")
    catalog.add("{n} files", "{count} 个文件")
    catalog.add("{path}: not found", "{path}：未找到")
    assert misplaced(catalog) == {"{n} files": "{count} 个文件"}


def test_the_compiled_catalog_is_up_to_date_and_read_by_gettext() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, load(PO))  # what pybabel compile writes
    committed = (PO.with_suffix(".mo")).read_bytes()
    assert committed == compiled.getvalue(), "run pybabel compile -d grader/locale -D grader"
    translations = gettext.GNUTranslations(io.BytesIO(committed))
    assert translations.gettext("{path}: no such file or folder").format(path="a.py") == "a.py：没有这个文件或文件夹"
