"""Registry versions are plain positive decimal integers, everywhere they are read."""

from __future__ import annotations

import pytest

from modelops.core.version import is_version, parse_version


@pytest.mark.parametrize("text", ["0", "-1", "01", "2.0", "1e3", "v3", " 3", "３"])
def test_anything_but_a_plain_positive_decimal_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="is not a registry version"):
        parse_version(text)


def test_a_plain_decimal_is_its_integer_and_only_ints_are_versions() -> None:
    assert parse_version("17") == 17
    assert is_version(17) and not is_version(True) and not is_version(2.0) and not is_version(0)
