"""tests/api runs under every TES version the server can serve: each test of the app, in-process or as a
``poiesis api`` process (py-tes's test too), once per version. The rest of the suite serves 1.1."""

from __future__ import annotations

import pytest

from poiesis.config import TES_VERSIONS


@pytest.fixture(params=TES_VERSIONS, ids=[f"tes{version}" for version in TES_VERSIONS])
def tes_version(request: pytest.FixtureRequest) -> str:
    """Every version, one after the other (overrides tests/plugins/api.py's 1.1)."""
    return request.param
