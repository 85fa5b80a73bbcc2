"""The Store contract's fixtures: a store (or two handles on one database) per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from newsbot import (
    Store,
)
from tests.storage.contract_helpers import (
    BACKENDS,
    _location,
)


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    store = await BACKENDS[request.param](_location(request.param, request, tmp_path))
    yield store
    await store.close()


@pytest.fixture(params=sorted(BACKENDS))
async def two_handles(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, as two workers (or a worker and the command line) have."""
    where = _location(request.param, request, tmp_path)
    first = await BACKENDS[request.param](where)
    second = await BACKENDS[request.param](where)
    yield first, second
    await second.close()
    await first.close()
