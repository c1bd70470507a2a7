"""All projections, in the order a runner applies them."""

from __future__ import annotations

from projections.activity import ActivityProjection
from projections.base import Projection
from projections.client_profile import ClientProfileProjection
from projections.comments import CommentsProjection


def all_projections() -> list[Projection]:
    return [ClientProfileProjection(), ActivityProjection(), CommentsProjection()]
