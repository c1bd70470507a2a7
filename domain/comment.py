"""The Comment aggregate: an internal note on a client."""

from __future__ import annotations

from uuid import UUID, uuid4

from domain.base import DossierAggregate, DossierCreated
from domain.values import COMMENT_MAX, required_text


class Comment(DossierAggregate):
    """An internal comment left by staff on a client's profile."""

    class CommentAdded(DossierCreated):
        client_id: UUID
        body: str

        def about_client(self) -> UUID | None:
            return self.client_id

    def __init__(self, firm_id: str, client_id: UUID, body: str) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.body = body

    @classmethod
    def add(cls, *, client_id: UUID, body: str) -> Comment:
        return cls._create(
            cls.CommentAdded,
            id=uuid4(),
            client_id=client_id,
            body=required_text("input.body", body, COMMENT_MAX, multiline=True),
        )
