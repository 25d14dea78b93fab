"""Pytest plugins: real services for the tests (registered in tests/conftest.py)."""

import os

import pytest


def unavailable(message: str) -> None:
    """A service or tool a test needs is missing: fail under CI (CI=true), else skip saying why."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
