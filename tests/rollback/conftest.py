"""The GitHub REST double, for rollbacks that fall back to a pull request."""

from tests.forge_github.conftest import github  # noqa: F401
