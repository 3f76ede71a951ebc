"""A registry Version: a plain, positive decimal integer, wherever it comes from.

Python's `int()` also takes `2.0` (via YAML floats), `٣` (Arabic-Indic digits), `+3`, ` 3 ` and `1_0`;
MLflow, the storage URI and the admission policy take none of them. One parser keeps them all out.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[1-9][0-9]{0,17}", re.ASCII)


def parse_version(text: str) -> int:
    """The version written as `text`; ValueError naming it when it is not plain positive decimal."""
    if not _PLAIN.fullmatch(text):
        raise ValueError(f"{text!r} is not a registry version (a plain positive decimal integer such as 3)")
    return int(text)


def is_version(value: object) -> bool:
    """A parsed value that is a version: an int (not a bool, not a float such as 2.0) of at least 1."""
    return type(value) is int and value >= 1


def version_arg(text: str) -> int:
    """argparse `type=` for a version flag: a bad value is exit 2 with the reason."""
    import argparse

    try:
        return parse_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
