"""The bot tests use `fixture_bot` and `fixture_settings` from tests/conftest.py."""

from tests.conftest import fixture_settings

__all__ = ["fixture_settings"]
