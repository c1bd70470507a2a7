"""Every recorded event can be projected (issue 8): a property test on SQLite and PostgreSQL.

Random command sequences go through the application services with hostile input: NUL and
other controls, "İ" (longer once lowered), bidi overrides, invisible characters, text at and
past every length limit, lone surrogates, exponent and non-ASCII digits, amounts and
quantities at and past the money bound, lists at their maximum sizes, odd actor and firm ids.
A refused command must raise a DomainError and record nothing; whatever was recorded must
project (no error, nothing parked) and a rebuild of every projection must give the same rows.

Examples share one store; each draws its own firm, so their histories never meet.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.actor import Actor, ActorKind, acting_as
from domain.errors import DomainError
from domain.lines import LINES_MAX
from domain.organization import AccountingProvider
from domain.values import (
    COMMENT_MAX,
    CUSTOM_FIELDS_MAX,
    NAME_MAX,
    REASON_MAX,
    ClientType,
    StaffRole,
)
from infra.container import Container
from infra.settings import Settings
from projections.registry import all_projections
from tests.integration.test_projections import dump

T = TypeVar("T")

# Hostile text --------------------------------------------------------------------------------

# Allowed, but weird: they change length when lowered, folded or normalised, are invisible
# joiners scripts need, or are special in SQL LIKE patterns and JSON.
WEIRD_CHARS = [
    "\u0130",  # İ: two code points once lowered
    "\u0131",
    "\u00df",  # ß: SS once upper-cased, ss once case-folded
    "\ufb03",  # ﬃ
    "\u01c5",  # ǅ
    "\u0958",  # two code points under NFC
    "e\u0301",  # decomposed é
    "\u212b",  # Angstrom sign: Å under NFC
    "\u200c",
    "\u200d",
    "\U0001f600",
    "\U0001f468\u200d\U0001f469",
    "\u0661",
    "\u05d0",  # Hebrew alef (right-to-left)
    "%",
    "_",
    "\\",
    "'",
    '"',
    ":",
    " ",
    "\u00a0",
    "a",
    "Z",
    "0",
]
# Refused: controls (NUL first), invisible format characters, bidi overrides and isolates,
# separators, noncharacters. (Lone surrogates are covered by the unit tests.)
REFUSED_CHARS = [
    "\x00",
    "\x01",
    "\t",
    "\n",
    "\r",
    "\x7f",
    "\x85",
    "\u200b",
    "\ufeff",
    "\u00ad",
    "\u202e",
    "\u2066",
    "\u2028",
    "\ufffe",
]


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, picked with the given relative weights."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def boundary_text(limit: int) -> st.SearchStrategy[str]:
    """Text at and just past a length limit, made of plain or lengthening characters."""
    return st.builds(
        lambda char, size: char * size,
        st.sampled_from(["x", "\u0130", "\u0130", "\u0958", "\U0001f600", " "]),
        st.sampled_from([1, limit - 1, limit, limit, limit + 1]),
    )


def hostile_text(limit: int) -> st.SearchStrategy[str]:
    """Mostly text a command accepts, often at its limit; sometimes text it must refuse."""
    weird = st.lists(st.sampled_from(WEIRD_CHARS), min_size=1, max_size=12).map("".join)
    refused = st.tuples(weird, st.sampled_from(REFUSED_CHARS), weird).map("".join)
    return weighted(
        (6, weird),
        (4, boundary_text(limit)),
        (1, st.text(min_size=1, max_size=20)),
        (3, refused),
        (1, st.sampled_from(["Acme", "  padded  ", "", "   "])),
    )


def optional_hostile(limit: int) -> st.SearchStrategy[str | None]:
    return weighted((1, st.none()), (3, hostile_text(limit)))


# Hostile numbers -----------------------------------------------------------------------------

MONEY_EDGES = [
    "0.01",
    "999999999999.99",
    "999999999999.999",
    "999999999.9999",
    "1000000000000",
    "1000000000",
    "99999999999999999999999999999",
    "0",
    "-0",
    "-5.00",
    "12.345",
    "1e3",
    "1E+12",
    "1_000",
    "\u0661\u0662",
    "NaN",
    "Infinity",
    "0.0000001",
    " 7 ",
]


def money() -> st.SearchStrategy[Any]:
    """Mostly valid amounts (up to the bound, many digits), then edges and junk."""
    plain = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2)
    return weighted(
        (4, plain.map(str)),
        (4, st.integers(1, 10**6).map(str)),
        (2, st.sampled_from(MONEY_EDGES)),
        (1, st.decimals(allow_nan=True, allow_infinity=True)),
        (1, st.integers(min_value=-(10**30), max_value=10**30).map(Decimal)),
    )


def quantity() -> st.SearchStrategy[Any]:
    plain = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999999999.9999"), places=4)
    edges = st.sampled_from(["999999999.9999", "999999999999", "1E+3", "0.00001"])
    return weighted(
        (4, st.sampled_from(["1", "2.5", "0.0001"])),
        (2, plain.map(str)),
        (1, edges),
        (1, money()),
    )


DAY = date(2026, 3, 1)
dates = weighted(
    (6, st.just(DAY)),
    (6, st.integers(min_value=-400, max_value=400).map(lambda d: DAY + timedelta(days=d))),
    (1, st.sampled_from([date(1, 1, 1), date(1900, 1, 1), date(2999, 12, 31), date(9999, 12, 31)])),
)


def plus(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return day


# Actors --------------------------------------------------------------------------------------

_firms = itertools.count()


@st.composite
def actor_and_firm(draw: st.DrawFn) -> tuple[Actor, str]:
    """A fresh firm per example; ids usually valid (up to 200 characters), sometimes not."""
    n = next(_firms)
    sub = draw(
        weighted(
            (4, st.just("owner-1")),
            (3, st.builds(lambda k: "auth0|" + "a1" * k, st.integers(1, 97))),
            (1, st.builds(lambda k: "s" * k, st.sampled_from([199, 200, 201]))),
            (1, st.sampled_from(["bad sub", "nul\x00", "zo\u00eb", " owner-1"])),
        )
    )
    firm_tail = draw(
        weighted(
            (4, st.just("")),
            (3, st.builds(lambda k: "-" + "f" * k, st.sampled_from([30, 150, 194]))),
            (1, st.sampled_from(["-a:b", "- x", "-\x00", "-" + "f" * 210])),
        )
    )
    name = draw(optional_hostile(200))
    return Actor(id=sub, kind=ActorKind.STAFF, name=name), f"p{n}{firm_tail}"


# The property --------------------------------------------------------------------------------


@pytest.fixture
def idle(settings: Settings) -> Iterator[Container]:
    """A container whose projections only run when the test asks (catch_up, rebuild)."""
    opened = Container(settings).open(start_projections=False)
    yield opened
    opened.close()


class Session:
    """Runs drawn commands, checks that refusals are DomainErrors that recorded nothing."""

    def __init__(self, container: Container, data: st.DataObject) -> None:
        self.container = container
        self.data = data
        self.clients: list[UUID] = []
        self.invoices: list[UUID] = []
        self.quotes: list[UUID] = []
        self.subscriptions: list[UUID] = []
        self.organizations: list[UUID] = []
        self.staff: list[str] = []
        self.keys = [f"key-{i}" for i in range(3)] + ["\x00key", "k" * 201]

    def draw(self, strategy: st.SearchStrategy[T]) -> T:
        return self.data.draw(strategy)

    def key(self) -> str | None:
        return self.draw(st.one_of(st.none(), st.none(), st.sampled_from(self.keys)))

    def pick(self, items: list[UUID]) -> UUID | None:
        return self.draw(st.sampled_from(items)) if items else None

    def attempt(self, command: Callable[[], Any]) -> dict[str, str] | None:
        head = self.container.store.head()
        try:
            outcome = command()
        except DomainError:
            assert self.container.store.head() == head, "a refused command recorded events"
            return None
        return dict(outcome.ids)

    def remember(self, ids: dict[str, str] | None, name: str, into: list[UUID]) -> None:
        if ids and name in ids and UUID(ids[name]) not in into:
            into.append(UUID(ids[name]))

    # Commands -------------------------------------------------------------------------------

    def register_client(self) -> None:
        svc = self.container.service
        tags = self.draw(
            weighted(
                (3, st.just([])),
                (2, st.lists(hostile_text(50), max_size=2)),
                (1, st.builds(lambda n: [f"t{i}" for i in range(n)], st.sampled_from([50, 51]))),
            )
        )
        fields = self.draw(
            weighted(
                (3, st.just([])),
                (2, st.lists(st.tuples(hostile_text(100), optional_hostile(2000)), max_size=2)),
                (
                    1,
                    st.builds(
                        lambda n: [(f"k{i}", "v\n" * 3) for i in range(n)],
                        st.sampled_from([CUSTOM_FIELDS_MAX, CUSTOM_FIELDS_MAX + 1]),
                    ),
                ),
            )
        )
        address = self.draw(
            weighted(
                (3, st.none()),
                (
                    1,
                    st.dictionaries(
                        st.sampled_from(["line1", "city", "postal_code", "country"]),
                        optional_hostile(200),
                        max_size=2,
                    ),
                ),
            )
        )
        ids = self.attempt(
            lambda: svc.register_client(
                name=self.draw(hostile_text(NAME_MAX)),
                client_type=self.draw(st.sampled_from(list(ClientType))),
                tags=tags,
                address=address,
                custom_fields=fields,
                key=self.key(),
            )
        )
        self.remember(ids, "client_id", self.clients)

    def update_client(self, client: UUID) -> None:
        svc = self.container.service
        self.attempt(
            lambda: svc.update_client_details(
                client,
                name=self.draw(optional_hostile(NAME_MAX)),
                tags=self.draw(st.one_of(st.none(), st.lists(hostile_text(50), max_size=3))),
                custom_fields=self.draw(
                    st.one_of(
                        st.none(),
                        st.lists(st.tuples(hostile_text(100), optional_hostile(2000)), max_size=2),
                    )
                ),
            )
        )

    def link_contact(self, client: UUID) -> None:
        svc = self.container.service
        emails = self.draw(
            st.lists(
                st.one_of(
                    st.builds(lambda t: f"{t}@example.com", hostile_text(20)),
                    st.sampled_from(["\u0130@x.io", "a@b.c", "x" * 250 + "@b.co"]),
                ),
                max_size=3,
            )
        )
        contact = {
            "first_name": self.draw(hostile_text(100)),
            "last_name": self.draw(hostile_text(100)),
            "emails": emails,
            "phone": self.draw(
                st.one_of(st.none(), st.sampled_from(["+44 20 7946 0000", "\u0661\u0662\u0663"]))
            ),
        }
        self.attempt(
            lambda: svc.link_contact(
                client, new_contact=contact, description=self.draw(optional_hostile(500))
            )
        )

    def add_staff_and_assign(self, client: UUID) -> None:
        svc = self.container.service
        user_id = self.draw(
            st.one_of(
                st.builds(lambda k: "auth0|" + "b2" * k, st.sampled_from([1, 20, 97])),
                st.sampled_from(["agent 1", "agent\x00", "\u0130", "u" * 201]),
            )
        )
        ids = self.attempt(
            lambda: svc.add_staff_member(
                user_id=user_id,
                name=self.draw(hostile_text(NAME_MAX)),
                email=self.draw(st.sampled_from(["a@b.io", "\u0130\u0130@b.io", "nul\x00@b.io"])),
                role=self.draw(st.sampled_from(list(StaffRole))),
            )
        )
        if ids:
            self.staff.append(user_id.strip())
        if self.staff:
            member = self.draw(st.sampled_from(self.staff))
            self.attempt(lambda: svc.assign_team_member(client, member))

    def hold(self, client: UUID) -> None:
        svc = self.container.service
        self.attempt(
            lambda: svc.put_client_on_hold(client, reason=self.draw(optional_hostile(REASON_MAX)))
        )
        if self.draw(st.booleans()):
            self.attempt(lambda: svc.release_client_hold(client))

    def comment(self, client: UUID) -> None:
        svc = self.container.service
        body = self.draw(hostile_text(COMMENT_MAX))
        self.attempt(lambda: svc.add_comment(client, body, key=self.key()))

    def lines(self) -> list[tuple[str, Any, Any]]:
        one = st.tuples(hostile_text(500), quantity(), money())
        count = self.draw(st.sampled_from([1, 1, 2, 3, LINES_MAX, LINES_MAX, LINES_MAX + 1]))
        if count <= 3:
            return self.draw(st.lists(one, min_size=count, max_size=count))
        # Maximum sizes: one drawn line repeated, with a few drawn ones at the end.
        repeated = self.draw(one)
        return [repeated] * (count - 2) + self.draw(st.lists(one, min_size=2, max_size=2))

    def currency(self) -> str:
        code: str = self.draw(
            weighted(
                (6, st.sampled_from(["USD", "JPY", "KWD"])),
                (1, st.sampled_from(["usd", "XXX", "\u0130SD", " eur "])),
            )
        )
        return code

    def number(self) -> str | None:
        number: str | None = self.draw(weighted((3, st.none()), (1, hostile_text(40))))
        return number

    def issue_invoice(self, client: UUID) -> None:
        billing = self.container.billing
        issued = self.draw(dates)
        ids = self.attempt(
            lambda: billing.issue_invoice(
                client,
                number=self.number(),
                issued_on=issued,
                due_on=plus(issued, self.draw(st.integers(0, 60))),
                currency=self.currency(),
                lines=self.lines(),
                key=self.key(),
            )
        )
        self.remember(ids, "invoice_id", self.invoices)

    def pay(self, invoice: UUID) -> None:
        billing = self.container.billing
        self.attempt(
            lambda: billing.record_payment(
                invoice,
                amount=self.draw(money()),
                paid_on=self.draw(dates),
                method=self.draw(optional_hostile(50)),
                reference=self.draw(optional_hostile(200)),
                overpayment_to_credit=self.draw(st.booleans()),
            )
        )

    def credit(self, client: UUID) -> None:
        billing = self.container.billing
        self.attempt(
            lambda: billing.issue_credit_note(
                client,
                amount=self.draw(money()),
                currency=self.currency(),
                reason=self.draw(optional_hostile(REASON_MAX)),
            )
        )
        invoice = self.pick(self.invoices)
        if invoice is not None:
            amount = self.draw(st.one_of(st.none(), money()))
            self.attempt(lambda: billing.apply_credit(invoice, amount=amount, applied_on=DAY))

    def void(self, invoice: UUID) -> None:
        billing = self.container.billing
        self.attempt(
            lambda: billing.void_invoice(invoice, reason=self.draw(optional_hostile(REASON_MAX)))
        )

    def firm_currency(self) -> None:
        self.attempt(lambda: self.container.billing.set_firm_currency(self.currency()))

    def quote(self, client: UUID) -> None:
        quotes = self.container.quotes
        ids = self.attempt(
            lambda: quotes.issue_quote(
                client,
                number=self.number(),
                issued_on=DAY,
                valid_until=DAY + timedelta(days=30),
                currency=self.currency(),
                lines=self.lines(),
            )
        )
        self.remember(ids, "quote_id", self.quotes)
        quote = self.pick(self.quotes)
        if quote is None:
            return
        action = self.draw(st.sampled_from(["accept", "decline", "expire", "convert"]))
        if action == "accept":
            self.attempt(lambda: quotes.accept_quote(quote, on=DAY))
        elif action == "decline":
            reason = self.draw(optional_hostile(REASON_MAX))
            self.attempt(lambda: quotes.decline_quote(quote, on=DAY, reason=reason))
        elif action == "expire":
            self.attempt(lambda: quotes.expire_quote(quote, on=DAY))
        else:
            self.attempt(lambda: quotes.accept_quote(quote, on=DAY))
            ids = self.attempt(
                lambda: quotes.convert_quote(quote, issued_on=DAY, due_on=DAY, number=self.number())
            )
            self.remember(ids, "invoice_id", self.invoices)

    def subscription(self, client: UUID) -> None:
        subs = self.container.service_subscriptions
        ids = self.attempt(
            lambda: subs.start_subscription(
                client,
                plan_name=self.draw(hostile_text(NAME_MAX)),
                amount=self.draw(money()),
                currency=self.currency(),
                interval=self.draw(st.sampled_from(["WEEK", "MONTH", "QUARTER", "YEAR", "DAY"])),
                starts_on=self.draw(dates),
                ends_on=self.draw(st.one_of(st.none(), dates)),
                request_limit=self.draw(st.one_of(st.none(), st.integers(-1, 2))),
            )
        )
        self.remember(ids, "subscription_id", self.subscriptions)
        sub = self.pick(self.subscriptions)
        if sub is None:
            return
        on = self.draw(dates)
        action = self.draw(st.sampled_from(["request", "pause", "resume", "cancel"]))
        if action == "request":
            note = self.draw(optional_hostile(500))
            self.attempt(lambda: subs.record_request(sub, on=on, note=note))
        elif action == "pause":
            self.attempt(lambda: subs.pause_subscription(sub, on=on))
        elif action == "resume":
            self.attempt(lambda: subs.resume_subscription(sub, on=on))
        else:
            reason = self.draw(optional_hostile(REASON_MAX))
            self.attempt(lambda: subs.cancel_subscription(sub, on=on, reason=reason))

    def organization(self, client: UUID) -> None:
        orgs = self.container.organizations
        ids = self.attempt(
            lambda: orgs.link_organization(
                client,
                provider=self.draw(st.sampled_from(list(AccountingProvider))),
                external_id=self.draw(hostile_text(100)),
                name=self.draw(hostile_text(NAME_MAX)),
            )
        )
        self.remember(ids, "organization_id", self.organizations)
        org = self.pick(self.organizations)
        if org is None:
            return
        account = self.draw(hostile_text(200))
        # Twelve steady months and a spike: enough history for an alert.
        steady = [(account, f"2024-{m:02d}", f"{1000 + 10 * m}.00") for m in range(1, 13)]
        spike = (account, "2025-01", self.draw(money()))
        extra = self.draw(
            st.lists(
                st.tuples(
                    hostile_text(200),
                    st.sampled_from(["2024-13", "\u0662\u0660\u0662\u0664-01", "2024-02"]),
                    money(),
                ),
                max_size=2,
            )
        )
        source = self.draw(optional_hostile(NAME_MAX))
        self.attempt(
            lambda: orgs.import_ledger_balances(org, [*steady, spike, *extra], source=source)
        )
        note = self.draw(optional_hostile(REASON_MAX))
        self.attempt(lambda: orgs.acknowledge_ledger_alert(org, account, "2025-01", note=note))
        if self.draw(st.booleans()):
            self.attempt(lambda: orgs.unlink_organization(org))

    def run(self, steps: int) -> None:
        per_client: dict[str, tuple[int, Callable[[UUID], None]]] = {
            "update": (2, self.update_client),
            "contact": (2, self.link_contact),
            "team": (1, self.add_staff_and_assign),
            "hold": (1, self.hold),
            "comment": (2, self.comment),
            "invoice": (4, self.issue_invoice),
            "credit": (2, self.credit),
            "quote": (3, self.quote),
            "subscription": (2, self.subscription),
            "organization": (2, self.organization),
        }
        per_invoice: dict[str, tuple[int, Callable[[UUID], None]]] = {
            "pay": (4, self.pay),
            "void": (1, self.void),
        }
        names = [name for name, (weight, _) in {**per_client, **per_invoice}.items()]
        pool = [n for n in names for _ in range({**per_client, **per_invoice}[n][0])]
        pool += ["register", "register", "currency"]
        self.register_client()
        for _ in range(steps):
            choice = self.draw(st.sampled_from(pool))
            client = self.pick(self.clients)
            invoice = self.pick(self.invoices)
            if choice == "register" or client is None:
                self.register_client()
            elif choice == "currency":
                self.firm_currency()
            elif choice in per_invoice:
                if invoice is not None:
                    per_invoice[choice][1](invoice)
            else:
                per_client[choice][1](client)


def check_projectable(container: Container) -> None:
    """Everything recorded so far projects; nothing is parked."""
    runner = container.runner
    assert runner.catch_up() == container.store.head()
    assert runner.parked() == []


def check_rebuild(container: Container) -> None:
    """Rebuilding every projection from position 0 gives the same rows."""
    runner = container.runner
    before = dump(container.engine, runner.projections)
    for projection in all_projections():
        runner.rebuild(projection)
    assert dump(container.engine, runner.projections) == before


def test_every_recorded_event_projects_and_rebuilds_identically(idle: Container) -> None:
    examples = itertools.count()

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(who=actor_and_firm(), steps=st.integers(3, 16), data=st.data())
    def property_holds(who: tuple[Actor, str], steps: int, data: st.DataObject) -> None:
        actor, firm = who
        with ExitStack() as stack:
            try:
                stack.enter_context(acting_as(actor, firm, "owner"))
            except DomainError:
                return  # an actor or firm no event may carry: every command is refused
            Session(idle, data).run(steps)
        check_projectable(idle)
        if next(examples) % 4 == 3:  # rebuilds cost more as the shared history grows
            check_rebuild(idle)

    property_holds()
    check_projectable(idle)
    check_rebuild(idle)
