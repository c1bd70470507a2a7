"""Activity counts per type per day and ISO week, from the activity_stats projection.

A history is written over two weeks with a controlled clock (the event store's timestamp
function), then Query.activityCounts is asked for exact numbers as different viewers, and a
rebuild of the projection must give identical rows. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import eventsourcing.domain
import pytest
import sqlalchemy as sa

from domain.actor import Actor, ActorKind, acting_as
from domain.values import ClientType, StaffRole
from infra.container import Container
from projections.activity_stats import activity_counts
from resolvers.context import RequestContext
from resolvers.ids import to_global_id
from resolvers.viewer import Viewer
from schema.schema import schema

OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="Olive")

COUNTS = """
query($since: DateTime!, $until: DateTime, $interval: ActivityInterval!, $clientId: ID) {
  activityCounts(since: $since, until: $until, interval: $interval, clientId: $clientId) {
    period type count
  }
}
"""


class Clock:
    """The event store's clock, moved by the test; each reading is one second later."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment - timedelta(seconds=1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", fake)
    return fake


@contextmanager
def as_owner(firm: str = "firm-a") -> Iterator[None]:
    with acting_as(OWNER, firm, "owner"):
        yield


def at(day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def make_history(container: Container, clock: Clock) -> dict[str, UUID]:
    """Firm A: Acme and Bolt over two ISO weeks (Mon 2 March .. Mon 9 March); firm B: Zed."""
    svc = container.service
    last = 0

    def done(outcome: Any) -> Any:
        nonlocal last
        last = max(last, outcome.position or 0)
        return outcome

    with as_owner():
        clock.set(at(2))
        done(
            svc.add_staff_member(
                user_id="agent-1", name="Al", email="al@a.test", role=StaffRole.AGENT
            )
        )
        acme = UUID(
            done(svc.register_client(name="Acme", client_type=ClientType.COMPANY)).ids["client_id"]
        )
        bolt = UUID(
            done(svc.register_client(name="Bolt", client_type=ClientType.COMPANY)).ids["client_id"]
        )
    # agent-1 is notified of a comment on Acme below; without the email (an activity entry
    # of its own) the counts are the commands'.
    with acting_as(Actor(id="agent-1", kind=ActorKind.STAFF, name="Al"), "firm-a", "agent"):
        off = {"COMMENT": False, "CLIENT_ON_HOLD": False, "HOLD_RELEASED": False}
        done(container.services.notifications.set_notification_preferences(email=off))
    with as_owner():
        clock.set(at(3))
        done(svc.add_comment(acme, "one"))
        done(svc.add_comment(acme, "two"))
        done(svc.assign_team_member(acme, "agent-1"))
        clock.set(at(8, 23, 59, 58))  # Sunday, the last second of ISO week 10
        done(svc.put_client_on_hold(bolt, reason="late"))
        clock.set(at(9, 0, 0, 0))  # Monday: week 11
        done(svc.add_comment(bolt, "three"))
        done(svc.add_comment(acme, "four", key="k-1"))
        done(svc.add_comment(acme, "four", key="k-1"))  # an idempotent replay: no new entry
        done(svc.release_client_hold(bolt))
    with as_owner("firm-b"):
        clock.set(at(3))
        zed = UUID(
            done(svc.register_client(name="Zed", client_type=ClientType.COMPANY)).ids["client_id"]
        )
        done(svc.add_comment(zed, "elsewhere"))
    container.wait_for(last)
    return {"acme": acme, "bolt": bolt, "zed": zed}


async def counts(
    container: Container,
    since: str,
    until: str | None = None,
    interval: str = "DAY",
    client: UUID | str | None = None,
    viewer: Viewer | None = None,
) -> list[tuple[str, str, int]]:
    result = await schema.execute(
        COUNTS,
        variable_values={
            "since": since,
            "until": until,
            "interval": interval,
            "clientId": to_global_id("Client", client) if isinstance(client, UUID) else client,
        },
        context_value=RequestContext(
            ports=container,
            viewer=viewer or Viewer(user_id="owner-1", firm_id="firm-a", role="owner"),
        ),
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return [(c["period"], c["type"], c["count"]) for c in result.data["activityCounts"]]


DAY2, DAY3, DAY8, DAY9 = (f"2026-03-0{d}T00:00:00+00:00" for d in (2, 3, 8, 9))


async def test_counts_per_day_and_week_are_exact(container: Container, clock: Clock) -> None:
    ids = make_history(container, clock)

    assert await counts(container, "2026-03-02T00:00:00Z", "2026-03-09T23:00:00Z") == [
        (DAY2, "ClientRegistered", 2),
        (DAY2, "StaffMemberAdded", 1),
        (DAY3, "CommentAdded", 2),
        (DAY3, "TeamMemberAssigned", 1),
        (DAY8, "ClientPutOnHold", 1),
        (DAY9, "ClientHoldReleased", 1),
        (DAY9, "CommentAdded", 2),
    ]
    # Days are whole UTC days: any moment of a day selects it.
    assert await counts(container, "2026-03-03T23:59:00Z", "2026-03-08T00:00:01Z") == [
        (DAY3, "CommentAdded", 2),
        (DAY3, "TeamMemberAssigned", 1),
        (DAY8, "ClientPutOnHold", 1),
    ]
    weekly = [
        (DAY2, "ClientPutOnHold", 1),
        (DAY2, "ClientRegistered", 2),
        (DAY2, "CommentAdded", 2),
        (DAY2, "StaffMemberAdded", 1),
        (DAY2, "TeamMemberAssigned", 1),
        (DAY9, "ClientHoldReleased", 1),
        (DAY9, "CommentAdded", 2),
    ]
    assert await counts(container, "2026-03-01T00:00:00Z", "2026-03-15T00:00:00Z", "WEEK") == weekly
    # A week is counted whole even when the range only touches it (Wednesday to Wednesday).
    assert await counts(container, "2026-03-04T12:00:00Z", "2026-03-11T12:00:00Z", "WEEK") == weekly
    assert (
        await counts(container, "2026-03-04T12:00:00Z", "2026-03-04T12:00:00Z", "WEEK")
        == weekly[:5]
    )
    # Without until: up to today.
    assert await counts(container, "2026-03-09T00:00:00Z") == weekly[5:]

    # One client.
    assert await counts(
        container, "2026-03-01T00:00:00Z", "2026-03-31T00:00:00Z", client=ids["bolt"]
    ) == [
        (DAY2, "ClientRegistered", 1),
        (DAY8, "ClientPutOnHold", 1),
        (DAY9, "ClientHoldReleased", 1),
        (DAY9, "CommentAdded", 1),
    ]
    assert await counts(
        container, "2026-03-01T00:00:00Z", "2026-03-31T00:00:00Z", "WEEK", client=ids["acme"]
    ) == [
        (DAY2, "ClientRegistered", 1),
        (DAY2, "CommentAdded", 2),
        (DAY2, "TeamMemberAssigned", 1),
        (DAY9, "CommentAdded", 1),
    ]


async def test_counts_respect_visibility_and_firms(container: Container, clock: Clock) -> None:
    ids = make_history(container, clock)
    march = ("2026-03-01T00:00:00Z", "2026-03-31T00:00:00Z")
    agent = Viewer(user_id="agent-1", firm_id="firm-a", role="agent")
    # The agent sees only Acme's counts (its assigned client), not staff or Bolt.
    assert await counts(container, *march, viewer=agent) == [
        (DAY2, "ClientRegistered", 1),
        (DAY3, "CommentAdded", 2),
        (DAY3, "TeamMemberAssigned", 1),
        (DAY9, "CommentAdded", 1),
    ]
    assert await counts(container, *march, client=ids["bolt"], viewer=agent) == []
    other = Viewer(user_id="owner-1", firm_id="firm-b", role="owner")
    assert await counts(container, *march, viewer=other) == [
        (DAY3, "ClientRegistered", 1),
        (DAY3, "CommentAdded", 1),
    ]
    assert await counts(container, *march, client=ids["acme"], viewer=other) == []
    assert await counts(container, *march, client="not-an-id") == []


async def test_bad_ranges_and_viewers_are_errors(container: Container) -> None:
    async def error(variables: dict[str, Any], viewer: Viewer | None) -> tuple[str, str]:
        result = await schema.execute(
            COUNTS,
            variable_values={"interval": "DAY", **variables},
            context_value=RequestContext(ports=container, viewer=viewer),
        )
        assert result.errors is not None and len(result.errors) == 1
        err = result.errors[0]
        return err.message, (err.extensions or {}).get("code", "")

    owner = Viewer(user_id="owner-1", firm_id="firm-a", role="owner")
    assert await error(
        {"since": "2026-03-09T00:00:00Z", "until": "2026-03-02T00:00:00Z"}, owner
    ) == (
        "until must not be before since",
        "BAD_USER_INPUT",
    )
    assert await error(
        {"since": "2000-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, owner
    ) == (
        "the range may cover at most 3700 days",
        "BAD_USER_INPUT",
    )
    assert (await error({"since": "2026-03-02T00:00:00Z"}, None))[1] == "UNAUTHENTICATED"


def dump(container: Container) -> list[tuple[Any, ...]]:
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(activity_counts)).all()
    return sorted(tuple(row) for row in rows)


async def test_a_rebuild_gives_identical_rows(container: Container, clock: Clock) -> None:
    make_history(container, clock)
    before = dump(container)
    assert len(before) == 11
    assert sum(row[-1] for row in before) == 12
    projection = next(p for p in container.runner.projections if p.name == "activity_stats")
    head = container.store.head()
    assert container.runner.rebuild(projection) == head
    assert dump(container) == before
    # Matches the activity history entry for entry (the other read model of the same events).
    with container.engine.connect() as conn:
        entries = conn.execute(sa.text("SELECT count(*) FROM rm_activity")).scalar_one()
    assert entries == 12
