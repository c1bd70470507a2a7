"""Fixtures for the domain unit tests: an acting context, no storage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.actor import ActingContext, acting_as
from tests.unit.helpers import ANN, FIRM_ID


@pytest.fixture
def acting() -> Iterator[ActingContext]:
    """Ann, an owner of FIRM_ID, acts for the whole test."""
    with acting_as(ANN, FIRM_ID, "owner") as ctx:
        yield ctx
