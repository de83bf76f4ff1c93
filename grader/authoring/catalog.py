"""The translation catalog, kept in step with the code (standard library only).

The Chinese messages live in ``grader/locale/zh/LC_MESSAGES/grader.po`` (edited by hand) and
``grader.mo`` (compiled from it; what ``grader/i18n.py`` loads at run time).  After changing messages:

    python -m grader.authoring.catalog extract   # add new messages to the .po (empty), drop unused ones
    python -m grader.authoring.catalog compile   # rebuild the .mo from the .po

Tests fail when a message has no Chinese translation, when a translation's ``{placeholders}`` differ from
the English ones, or when the committed .mo is not the compiled .po.
"""

from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path
from typing import Mapping

from grader.i18n import DOMAIN, LOCALE_DIR, PACKAGE

PO_HEADER = "Content-Type: text/plain; charset=UTF-8\nLanguage: zh\n"


def extract(package: Path = PACKAGE) -> list[str]:
    """Every literal passed to _() or N_() in the package's modules, in order of first appearance
    (``N_`` marks the messages the child process sends untranslated)."""
    found: dict[str, None] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "N_")
                and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, None)
    return list(found)


def _po_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _po_unquote(text: str) -> str:
    body = text.strip()[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr (the header, msgid "", included)."""
    entries: dict[str, str] = {}
    msgid = msgstr = None
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if line.startswith("msgid "):
            if msgid is not None and msgstr is not None:
                entries[msgid] = msgstr
            msgid, msgstr, current = _po_unquote(line[6:]), None, "id"
        elif line.startswith("msgstr "):
            msgstr, current = _po_unquote(line[7:]), "str"
        elif line.startswith('"'):
            if current == "id":
                msgid = (msgid or "") + _po_unquote(line)
            elif current == "str":
                msgstr = (msgstr or "") + _po_unquote(line)
        elif not line or line.startswith("#"):
            current = None if not line else current
    if msgid is not None and msgstr is not None:
        entries[msgid] = msgstr
    return entries


def write_po(path: Path, entries: Mapping[str, str]) -> None:
    lines = ["# Chinese messages of backprop-grader. Edit the msgstr lines; see grader/authoring/catalog.py.",
             'msgid ""', "msgstr " + _po_quote(PO_HEADER), ""]
    for msgid, msgstr in entries.items():
        if msgid:
            lines += ["msgid " + _po_quote(msgid), "msgstr " + _po_quote(msgstr), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def compile_mo(entries: Mapping[str, str]) -> bytes:
    """The GNU .mo file for these translations (what msgfmt writes; untranslated entries left out)."""
    pairs = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in entries.items() if v or not k)
    if not any(k == b"" for k, _ in pairs):
        pairs.insert(0, (b"", PO_HEADER.encode("utf-8")))
    count = len(pairs)
    ids_offset = 7 * 4
    strs_offset = ids_offset + count * 8
    data_offset = strs_offset + count * 8
    ids = strs = b""
    id_table, str_table = [], []
    for key, _value in pairs:
        id_table.append((len(key), data_offset + len(ids)))
        ids += key + b"\0"
    strs_start = data_offset + len(ids)
    for _key, value in pairs:
        str_table.append((len(value), strs_start + len(strs)))
        strs += value + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, count, ids_offset, strs_offset, 0, 0)
    tables = b"".join(struct.pack("<2I", *entry) for entry in id_table + str_table)
    return header + tables + ids + strs


def po_path(lang: str = "zh") -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def main(argv: list[str]) -> int:
    po = po_path()
    if argv == ["extract"]:
        old = read_po(po) if po.exists() else {}
        entries = {msgid: old.get(msgid, "") for msgid in extract()}
        write_po(po, entries)
        missing = [m for m, t in entries.items() if not t]
        print(f"{po}: {len(entries)} messages, {len(missing)} without a translation")
        return 0
    if argv == ["compile"]:
        po.with_suffix(".mo").write_bytes(compile_mo(read_po(po)))
        print(f"wrote {po.with_suffix('.mo')}")
        return 0
    print("usage: python -m grader.authoring.catalog extract|compile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
