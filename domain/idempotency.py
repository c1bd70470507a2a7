"""Idempotency keys: an index aggregate saved atomically with a mutation's events."""

from __future__ import annotations

import json
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import Bookkeeping, DossierAggregate, DossierCreated


def idempotency_id(firm_id: str, viewer_id: str, key: str) -> UUID:
    """Deterministic id for a (firm, viewer, key) triple."""
    return uuid5(NAMESPACE_URL, json.dumps(["dossier:idempotency", firm_id, viewer_id, key]))


class IdempotencyRecord(DossierAggregate):
    """Remembers the result of the first mutation made with an idempotency key."""

    class IdempotencyKeyUsed(DossierCreated, Bookkeeping):
        operation: str
        result: dict[str, Any]

    def __init__(self, firm_id: str, operation: str, result: dict[str, Any]) -> None:
        self.firm_id = firm_id
        self.operation = operation
        self.result = result

    @classmethod
    def record(
        cls, *, firm_id: str, viewer_id: str, key: str, operation: str, result: dict[str, Any]
    ) -> IdempotencyRecord:
        return cls._create(
            cls.IdempotencyKeyUsed,
            id=idempotency_id(firm_id, viewer_id, key),
            firm_id=firm_id,
            operation=operation,
            result=result,
        )
