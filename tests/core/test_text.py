"""Text from outside on its way into git: one line, bounded, control characters shown, never obeyed."""

from __future__ import annotations

from modelops.core.text import control_characters, single_line


def test_a_line_break_cannot_write_a_trailer_of_its_own() -> None:
    forged = single_line("errors\nRolled-back-by: mallory")
    assert "\n" not in forged and forged.startswith("errors\\x0a")


def test_whitespace_runs_become_one_space_and_long_text_is_cut() -> None:
    assert single_line("a \t  b") == "a b"
    assert single_line("x" * 50, limit=10) == "x" * 9 + "…"


def test_control_characters_are_named_but_a_tab_is_a_space() -> None:
    assert control_characters("a\tb\x1b[31m\u202e") == ["\\x1b", "\\u202e"]
