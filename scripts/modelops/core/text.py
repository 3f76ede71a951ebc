"""Text from outside (an alert, a flag, an environment variable) on its way into git.

A commit message's trailers are lines of the form `Key: value`, so a value with a line break in it can
write a trailer of its own (`Rolled-back-by: someone-else`). Whatever reaches a commit message, a PR
title or models.yaml's history is one line, bounded, with control characters shown, never obeyed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

MAX_TEXT = 300
# Cc: C0/C1 controls (\n, \r, \x1b...); Cf: format (bidi overrides, zero-width); Zl/Zp: U+2028/U+2029.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def control_characters(value: str) -> list[str]:
    """The control characters in `value`, escaped (a tab counts as a space)."""
    return [_escape(c) for c in value if c != "\t" and unicodedata.category(c) in _HIDDEN]


def single_line(value: str, *, limit: int = MAX_TEXT) -> str:
    """`value` as one line: control characters escaped, runs of whitespace one space, cut to `limit`."""
    shown = "".join(
        " " if c == "\t" else _escape(c) if unicodedata.category(c) in _HIDDEN else c for c in value
    )
    text = " ".join(shown.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line_arg(limit: int = MAX_TEXT) -> Callable[[str], str]:
    """argparse `type=` for free text that reaches git: a line break or control character is exit 2."""

    def parse(value: str) -> str:
        import argparse

        hidden = control_characters(value)
        if hidden:
            raise argparse.ArgumentTypeError(
                f"contains control characters ({', '.join(dict.fromkeys(hidden))}); give one line of text"
            )
        if len(value) > limit:
            raise argparse.ArgumentTypeError(f"{len(value)} characters, over the {limit}-character limit")
        return value

    parse.__name__ = "text"
    return parse
