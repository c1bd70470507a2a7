"""Read-model tables (SQLAlchemy Core), one schema for SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC on both backends."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = sa.MetaData()

ID = sa.String(36)
FIRM = sa.String(200)

tracking = sa.Table(
    "rm_tracking",
    metadata,
    sa.Column("application_name", sa.String(100), primary_key=True),
    sa.Column("notification_id", sa.BigInteger, nullable=False),
)

staff = sa.Table(
    "rm_staff",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Index("ix_rm_staff_firm_user", "firm_id", "user_id", unique=True),
)

clients = sa.Table(
    "rm_clients",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    # Lowered copies are unbounded: lower() can lengthen text ("İ" becomes two code points).
    sa.Column("name_key", sa.Text, nullable=False),
    sa.Column("client_type", sa.String(20), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("address", sa.JSON, nullable=False),
    sa.Column("custom_fields", sa.JSON, nullable=False),
    sa.Column("on_hold", sa.Boolean, nullable=False),
    sa.Column("details_complete", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_rm_clients_firm_name", "firm_id", "name_key", "id"),
)

client_tags = sa.Table(
    "rm_client_tags",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("tag_key", sa.Text, primary_key=True),  # lowered: may be longer than the tag
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Index("ix_rm_client_tags_firm_tag", "firm_id", "tag_key"),
)

client_holds = sa.Table(
    "rm_client_holds",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("placed_at", UTCDateTime, nullable=False),
    sa.Column("placed_by", sa.JSON, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("released_at", UTCDateTime),
    sa.Column("released_by", sa.JSON),
)

contacts = sa.Table(
    "rm_contacts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("emails", sa.JSON, nullable=False),
    sa.Column("phone", sa.String(40)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

client_contacts = sa.Table(
    "rm_client_contacts",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("contact_id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("linked_at", UTCDateTime, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_client_contacts_contact", "contact_id"),
)

team = sa.Table(
    "rm_team",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("assigned_at", UTCDateTime, nullable=False),
    sa.Column("assigned_by", sa.JSON, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_team_firm_user", "firm_id", "user_id"),
)

team_history = sa.Table(
    "rm_team_history",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("change", sa.String(20), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by", sa.JSON, nullable=False),
)

client_search = sa.Table(
    "rm_client_search",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("source", sa.String(50), primary_key=True),
    sa.Column("term", sa.Text, primary_key=True),  # lowered: may be longer than the text
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Index("ix_rm_client_search_firm", "firm_id"),
)

activity = sa.Table(
    "rm_activity",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("actor", sa.JSON, nullable=False),
    sa.Column("actor_id", sa.String(200), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("ix_rm_activity_firm_position", "firm_id", "position"),
    sa.Index("ix_rm_activity_client_position", "client_id", "position"),
)

activity_subjects = sa.Table(
    "rm_activity_subjects",
    metadata,
    # A uuid, or "staff:{firm}:{user id}" (up to 407 characters with 200-character ids).
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
)

comments = sa.Table(
    "rm_comments",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_comments_client_position", "client_id", "position"),
)

# Portal preferences (projections/portal_preferences.py) ---------------------------------------

portal_preferences = sa.Table(
    "rm_portal_preferences",
    metadata,
    sa.Column("firm_id", FIRM, primary_key=True),
    sa.Column("fields", sa.JSON, nullable=False),  # [{"field": key, "access": ...}] in order
    sa.Column("require_approval", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.JSON, nullable=False),
)

pending_changes = sa.Table(
    "rm_pending_changes",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("contact_id", ID, nullable=False),
    sa.Column("changes", sa.JSON, nullable=False),  # [{"field": key, "value": ...}] in order
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("proposed_at", UTCDateTime, nullable=False),
    sa.Column("proposed_by", sa.JSON, nullable=False),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("decided_by", sa.JSON),
    sa.Column("reason", sa.Text),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_pending_changes_client_position", "client_id", "position"),
)

# Kept by the client profile projection (projections/portal_completeness.py): the fields each
# firm requires, and what each client misses of them (Client.detailsComplete, missingFields).
portal_required = sa.Table(
    "rm_portal_required",
    metadata,
    sa.Column("firm_id", FIRM, primary_key=True),
    sa.Column("required", sa.JSON, nullable=False),
)

client_missing_fields = sa.Table(
    "rm_client_missing_fields",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("missing", sa.JSON, nullable=False),
    sa.Index("ix_rm_client_missing_fields_firm", "firm_id"),
)
