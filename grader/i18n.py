"""Student-facing text goes through ``_`` so that it can be translated (gettext catalogs: issue 4)."""

from __future__ import annotations


def _(message: str) -> str:
    return message
