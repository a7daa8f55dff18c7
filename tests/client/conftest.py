"""Fixtures for the reference-client tests: a scriptable fake AS on httpx.MockTransport (unit tests)."""

from __future__ import annotations

import pytest

from tests.client.fakes import FakeAS


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_as() -> FakeAS:
    return FakeAS()
