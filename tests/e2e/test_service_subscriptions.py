"""Service subscriptions over GraphQL: plan, price, dates, state, request limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from projections.service_subscriptions import (
    ServiceSubscriptionsProjection,
    service_subscriptions,
)
from tests.e2e.conftest import Api

TODAY = datetime.now(UTC).date()

REGISTER = """mutation($name: String!) { registerClient(input: {name: $name, type: COMPANY}) {
  ... on ClientPayload { client { id } } } }"""

FIELDS = """id planName price { amount currency } interval state startsOn endsOn nextPaymentOn
  requestLimit requestsUsed requestsRemaining currentPeriodStart currentPeriodEnd
  pausedOn cancelledOn cancelReason client { name }"""

START = f"""mutation($input: StartServiceSubscriptionInput!) {{
  startServiceSubscription(input: $input) {{
    __typename
    ... on ServiceSubscriptionPayload {{ subscription {{ {FIELDS} }} }}
    ... on ValidationError {{ field message }}
    ... on NotFoundError {{ id }}
    ... on RuleViolationError {{ rule message }} }} }}"""

CHANGE = """mutation($id: ID!) {{ {name}(input: {{subscriptionId: $id{extra}}}) {{
  __typename
  ... on ServiceSubscriptionPayload {{ subscription {{ state nextPaymentOn requestsUsed
      requestsRemaining pausedOn cancelledOn cancelReason }} }}
  ... on NotFoundError {{ id }}
  {limit}
  ... on RuleViolationError {{ rule message }} }} }}"""

HOLD = """mutation($id: ID!) { putClientOnHold(input: {clientId: $id, reason: "Unpaid fees"}) {
  __typename } }"""
RELEASE = "mutation($id: ID!) { releaseClientHold(input: {clientId: $id}) { __typename } }"


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def register(api: Api, name: str = "Acme") -> str:
    result = await api.gql(REGISTER, {"name": name})
    return str(result["data"]["registerClient"]["client"]["id"])


async def start(api: Api, client_id: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "clientId": client_id,
        "planName": "Gold support",
        "price": {"amount": "49.90", "currency": "EUR"},
        "interval": "WEEK",
        "startsOn": day(-10),
    }
    payload.update(overrides)
    result = await api.gql(START, {"input": payload})
    assert "errors" not in result, result
    return result["data"]["startServiceSubscription"]  # type: ignore[no-any-return]


async def change(api: Api, name: str, sub_id: str, extra: str = "") -> dict[str, Any]:
    limit = "... on LimitExceededError { limit message }" if name == "recordServiceRequest" else ""
    result = await api.gql(CHANGE.format(name=name, extra=extra, limit=limit), {"id": sub_id})
    assert "errors" not in result, result
    return result["data"][name]  # type: ignore[no-any-return]


async def test_start_shows_dates_price_and_usage(api: Api) -> None:
    client = await register(api, "Blue Harbor")
    started = await start(api, client, requestLimit=3, endsOn=day(100))
    assert started["__typename"] == "ServiceSubscriptionPayload"
    sub = started["subscription"]
    del sub["id"]
    # Weekly from day -10: billing dates -10, -3, +4; the current period is -3 .. +3.
    assert sub == {
        "planName": "Gold support",
        "price": {"amount": "49.90", "currency": "EUR"},
        "interval": "WEEK",
        "state": "ACTIVE",
        "startsOn": day(-10),
        "endsOn": day(100),
        "nextPaymentOn": day(4),
        "requestLimit": 3,
        "requestsUsed": 0,
        "requestsRemaining": 3,
        "currentPeriodStart": day(-3),
        "currentPeriodEnd": day(3),
        "pausedOn": None,
        "cancelledOn": None,
        "cancelReason": None,
        "client": {"name": "Blue Harbor"},
    }
    # A billing date falling today is the next payment; a future start is the first one.
    today_due = (await start(api, client, startsOn=day(-14)))["subscription"]
    assert (today_due["nextPaymentOn"], today_due["currentPeriodStart"]) == (day(0), day(0))
    future = (await start(api, client, startsOn=day(5), interval="YEAR"))["subscription"]
    assert future["nextPaymentOn"] == day(5)
    assert (future["currentPeriodStart"], future["currentPeriodEnd"]) == (None, None)
    # No payment falls due after the end date.
    last = (await start(api, client, startsOn=day(-10), endsOn=day(2)))["subscription"]
    assert (last["state"], last["nextPaymentOn"]) == ("ACTIVE", None)

    listed = await api.gql(
        "query($id: ID!) { client(id: $id) { serviceSubscriptions { startsOn interval } } }",
        {"id": client},
    )
    assert listed["data"]["client"]["serviceSubscriptions"] == [
        {"startsOn": day(5), "interval": "YEAR"},
        {"startsOn": day(-10), "interval": "WEEK"},
        {"startsOn": day(-10), "interval": "WEEK"},
        {"startsOn": day(-14), "interval": "WEEK"},
    ]


async def test_request_limit_per_period(api: Api) -> None:
    client = await register(api)
    sub_id = (await start(api, client, requestLimit=2))["subscription"]["id"]
    first = await change(api, "recordServiceRequest", sub_id, ', note: "VAT return"')
    assert (first["subscription"]["requestsUsed"], first["subscription"]["requestsRemaining"]) == (
        1,
        1,
    )
    second = await change(api, "recordServiceRequest", sub_id)
    assert (
        second["subscription"]["requestsUsed"],
        second["subscription"]["requestsRemaining"],
    ) == (2, 0)
    before = api.event_count()
    third = await change(api, "recordServiceRequest", sub_id)
    assert third == {
        "__typename": "LimitExceededError",
        "limit": 2,
        "message": "the Gold support subscription allows 2 requests per period and all are "
        f"used until {day(3)}",
    }
    assert api.event_count() == before

    unlimited = (await start(api, client))["subscription"]["id"]
    for _ in range(3):
        result = await change(api, "recordServiceRequest", unlimited)
    assert (
        result["subscription"]["requestsUsed"],
        result["subscription"]["requestsRemaining"],
    ) == (
        3,
        None,
    )
    not_started = (await start(api, client, startsOn=day(1)))["subscription"]["id"]
    assert (await change(api, "recordServiceRequest", not_started))[
        "rule"
    ] == "SUBSCRIPTION_NOT_STARTED"


async def test_pause_resume_cancel_rules(api: Api) -> None:
    client = await register(api)
    sub_id = (await start(api, client, requestLimit=5))["subscription"]["id"]
    await change(api, "recordServiceRequest", sub_id)
    paused = await change(api, "pauseServiceSubscription", sub_id)
    assert paused["subscription"] == {
        "state": "PAUSED",
        "nextPaymentOn": None,
        "requestsUsed": 1,
        "requestsRemaining": 4,
        "pausedOn": day(0),
        "cancelledOn": None,
        "cancelReason": None,
    }
    before = api.event_count()
    assert (await change(api, "pauseServiceSubscription", sub_id))[
        "rule"
    ] == "SUBSCRIPTION_NOT_ACTIVE"
    assert (await change(api, "recordServiceRequest", sub_id))["rule"] == "SUBSCRIPTION_NOT_ACTIVE"
    assert api.event_count() == before

    resumed = await change(api, "resumeServiceSubscription", sub_id)
    assert (resumed["subscription"]["state"], resumed["subscription"]["nextPaymentOn"]) == (
        "ACTIVE",
        day(4),
    )
    assert resumed["subscription"]["pausedOn"] is None
    assert (await change(api, "resumeServiceSubscription", sub_id))[
        "rule"
    ] == "SUBSCRIPTION_NOT_PAUSED"

    cancelled = await change(api, "cancelServiceSubscription", sub_id, ', reason: "Moved away"')
    assert cancelled["subscription"] == {
        "state": "CANCELLED",
        "nextPaymentOn": None,
        "requestsUsed": 0,
        "requestsRemaining": 5,
        "pausedOn": None,
        "cancelledOn": day(0),
        "cancelReason": "Moved away",
    }
    before = api.event_count()
    no_resume = await change(api, "resumeServiceSubscription", sub_id)
    assert no_resume == {
        "__typename": "RuleViolationError",
        "rule": "SUBSCRIPTION_CANCELLED",
        "message": "the Gold support subscription is cancelled and cannot be resumed",
    }
    assert (await change(api, "cancelServiceSubscription", sub_id))["rule"] == "ALREADY_CANCELLED"
    assert (await change(api, "pauseServiceSubscription", sub_id))[
        "rule"
    ] == "SUBSCRIPTION_NOT_ACTIVE"
    assert api.event_count() == before
    assert await change(api, "pauseServiceSubscription", "nonsense") == {
        "__typename": "NotFoundError",
        "id": "nonsense",
    }


async def test_ended_once_past_the_end_date(api: Api) -> None:
    client = await register(api)
    ended = (await start(api, client, startsOn=day(-60), endsOn=day(-1), interval="MONTH"))[
        "subscription"
    ]
    assert (ended["state"], ended["nextPaymentOn"], ended["currentPeriodStart"]) == (
        "ENDED",
        None,
        None,
    )
    before = api.event_count()
    for name in ("pauseServiceSubscription", "recordServiceRequest", "cancelServiceSubscription"):
        result = await change(api, name, ended["id"])
        assert result["rule"] == "SUBSCRIPTION_ENDED", name
        assert result["message"] == f"the Gold support subscription ended on {day(-1)}"
    assert api.event_count() == before
    last_day = (await start(api, client, startsOn=day(-7), endsOn=day(0)))["subscription"]
    assert (last_day["state"], last_day["nextPaymentOn"]) == ("ACTIVE", day(0))


async def test_bad_subscription_input_is_typed_and_records_nothing(api: Api) -> None:
    client = await register(api)
    before = api.event_count()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"price": {"amount": "0", "currency": "EUR"}}, "input.price.amount"),
        ({"price": {"amount": "-5.00", "currency": "EUR"}}, "input.price.amount"),
        ({"price": {"amount": "1.001", "currency": "EUR"}}, "input.price.amount"),
        ({"price": {"amount": "10.5", "currency": "JPY"}}, "input.price.amount"),
        ({"price": {"amount": "10.00", "currency": "XYZ"}}, "input.price.currency"),
        ({"requestLimit": 0}, "input.requestLimit"),
        ({"requestLimit": -3}, "input.requestLimit"),
        ({"endsOn": day(-11)}, "input.endsOn"),
        ({"planName": "  "}, "input.planName"),
    ]
    for overrides, field in cases:
        result = await start(api, client, **overrides)
        assert result["__typename"] == "ValidationError", overrides
        assert result["field"] == field, overrides
    assert await start(api, client, clientId="nonsense") == {
        "__typename": "NotFoundError",
        "id": "nonsense",
    }
    bad_interval = await api.gql(
        START,
        {
            "input": {
                "clientId": client,
                "planName": "x",
                "price": {"amount": "1.00", "currency": "EUR"},
                "interval": "DAY",
                "startsOn": day(0),
            }
        },
    )
    assert bad_interval["errors"][0]["message"] == (
        "Variable '$input' has invalid value at .interval: "
        "Value 'DAY' does not exist in 'BillingInterval' enum."
    )
    assert api.event_count() == before


async def test_hold_blocks_starting_and_resuming_until_released(api: Api) -> None:
    client = await register(api, "Blue Harbor")
    sub_id = (await start(api, client))["subscription"]["id"]
    await change(api, "pauseServiceSubscription", sub_id)
    await api.gql(HOLD, {"id": client})
    before = api.event_count()
    blocked = await start(api, client)
    assert blocked == {
        "__typename": "RuleViolationError",
        "rule": "CLIENT_ON_HOLD",
        "message": "Blue Harbor is on hold (Unpaid fees): no new service subscriptions until "
        "released",
    }
    no_resume = await change(api, "resumeServiceSubscription", sub_id)
    assert no_resume["rule"] == "CLIENT_ON_HOLD"
    assert api.event_count() == before
    # Cancelling is not a deliverable: it stays possible on hold.
    other = (await api.gql(RELEASE, {"id": client}), await start(api, client))[1]
    await api.gql(HOLD, {"id": client})
    cancelled = await change(api, "cancelServiceSubscription", other["subscription"]["id"])
    assert cancelled["subscription"]["state"] == "CANCELLED"
    await api.gql(RELEASE, {"id": client})
    assert (await change(api, "resumeServiceSubscription", sub_id))["subscription"][
        "state"
    ] == "ACTIVE"


async def test_roles_and_firm_isolation(api: Api) -> None:
    client = await register(api)
    sub_id = (await start(api, client))["subscription"]["id"]
    query = CHANGE.format(name="pauseServiceSubscription", extra="", limit="")
    watcher = await api.gql(query, {"id": sub_id}, as_user=("w", "watcher"))
    assert watcher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    agent = await api.gql(query, {"id": sub_id}, as_user=("a", "agent"))
    assert agent["data"]["pauseServiceSubscription"] == {
        "__typename": "NotFoundError",
        "id": sub_id,
    }
    other = await api.gql(query, {"id": sub_id}, firm="firm-b")
    assert other["data"]["pauseServiceSubscription"] == {
        "__typename": "NotFoundError",
        "id": sub_id,
    }
    node = await api.gql(
        "query($id: ID!) { node(id: $id) { __typename ... on ServiceSubscription { planName } } }",
        {"id": sub_id},
    )
    assert node["data"]["node"] == {"__typename": "ServiceSubscription", "planName": "Gold support"}


async def test_activity_summaries_and_rebuild_identical(api: Api) -> None:
    client = await register(api, "Blue Harbor")
    sub_id = (await start(api, client, requestLimit=10, endsOn=day(90)))["subscription"]["id"]
    await change(api, "recordServiceRequest", sub_id, ', note: "Payroll question"')
    await change(api, "pauseServiceSubscription", sub_id)
    await change(api, "resumeServiceSubscription", sub_id)
    await change(api, "cancelServiceSubscription", sub_id, ', reason: "Moved away"')
    other = (await start(api, client, planName="Basic", interval="QUARTER"))["subscription"]["id"]
    await change(api, "recordServiceRequest", other)
    history = await api.gql(
        """query($id: ID!) { client(id: $id) { activity(first: 7) {
          edges { node { type summary } } } } }""",
        {"id": client},
    )
    entries = [e["node"] for e in history["data"]["client"]["activity"]["edges"]]
    assert entries == [
        {
            "type": "ServiceRequestRecorded",
            "summary": "owner-1 recorded a service request on the Basic subscription of "
            "Blue Harbor (1 this period).",
        },
        {
            "type": "ServiceSubscriptionStarted",
            "summary": "owner-1 started the Basic subscription of Blue Harbor at 49.90 EUR per "
            f"quarter from {day(-10)}.",
        },
        {
            "type": "ServiceSubscriptionCancelled",
            "summary": "owner-1 cancelled the Gold support subscription of Blue Harbor: Moved away.",
        },
        {
            "type": "ServiceSubscriptionResumed",
            "summary": "owner-1 resumed the Gold support subscription of Blue Harbor.",
        },
        {
            "type": "ServiceSubscriptionPaused",
            "summary": "owner-1 paused the Gold support subscription of Blue Harbor.",
        },
        {
            "type": "ServiceRequestRecorded",
            "summary": "owner-1 recorded a service request on the Gold support subscription of "
            "Blue Harbor (1 of 10 this period): Payroll question.",
        },
        {
            "type": "ServiceSubscriptionStarted",
            "summary": "owner-1 started the Gold support subscription of Blue Harbor at 49.90 EUR "
            f"per week from {day(-10)} until {day(90)}, 10 requests per period.",
        },
    ]

    container = api.container

    def dump() -> list[Any]:
        with container.engine.connect() as conn:
            rows = conn.execute(sa.select(service_subscriptions)).all()
            return sorted(map(tuple, rows), key=repr)

    before = dump()
    assert len(before) == 2
    container.runner.rebuild(ServiceSubscriptionsProjection())
    assert dump() == before
