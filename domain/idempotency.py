"""Idempotency keys: an index aggregate saved atomically with a mutation's events.

A record binds its key to the mutation (`operation`) and, since version 2 of the event, to a
`fingerprint` of the request's input (see `infra.services.unit_of_work.request_fingerprint`).
Records written before fingerprints existed load with `fingerprint = None`, which matches any
input of the same operation (the behaviour those records were written under).
"""

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
        """The first mutation with a key; v2 adds the request's `fingerprint`."""

        class_version = 2
        operation: str
        result: dict[str, Any]
        fingerprint: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Recorded before fingerprints: unknown input, matched by any request.
            state["fingerprint"] = None

    def __init__(
        self,
        firm_id: str,
        operation: str,
        result: dict[str, Any],
        fingerprint: str | None = None,
    ) -> None:
        self.firm_id = firm_id
        self.operation = operation
        self.result = result
        self.fingerprint = fingerprint

    def matches(self, operation: str, fingerprint: str) -> bool:
        """Whether a request is the one this key was first used for.

        A record without a fingerprint (written before v2) matches any input of its operation.
        """
        if operation != self.operation:
            return False
        return self.fingerprint is None or self.fingerprint == fingerprint

    @classmethod
    def record(
        cls,
        *,
        firm_id: str,
        viewer_id: str,
        key: str,
        operation: str,
        result: dict[str, Any],
        fingerprint: str | None = None,
    ) -> IdempotencyRecord:
        return cls._create(
            cls.IdempotencyKeyUsed,
            id=idempotency_id(firm_id, viewer_id, key),
            firm_id=firm_id,
            operation=operation,
            result=result,
            fingerprint=fingerprint,
        )
