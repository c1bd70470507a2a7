"""The comments read model."""

from __future__ import annotations

import sqlalchemy as sa

from domain.comment import Comment
from projections.base import Projection, handles
from projections.tables import comments


class CommentsProjection(Projection):
    """Keeps rm_comments: every internal comment, by client and position."""

    name = "comments"
    tables = (comments,)

    @handles(Comment.CommentAdded)
    def comment_added(self, conn: sa.Connection, e: Comment.CommentAdded, position: int) -> None:
        conn.execute(
            sa.insert(comments).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                body=e.body,
                author=e.actor,
                created_at=e.timestamp,
                position=position,
            )
        )
