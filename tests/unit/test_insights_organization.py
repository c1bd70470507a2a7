"""The LinkedOrganization aggregate: commands, events, summaries (no I/O)."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.application import project_aggregate

import projections.registry  # noqa: F401  (registers every feature's sentences)
from domain.actor import ActingContext
from domain.errors import InvalidInput, NotFound, RuleViolated
from domain.organization import AccountingProvider, LinkedOrganization, organization_id
from projections.sentences import Said, sentence_of, subject_of
from tests.unit.helpers import ANN_DICT, FIRM_ID

CLIENT = UUID("00000000-0000-4000-8000-0000000000c1")
LABELS = {str(CLIENT): "Acme", f"staff:{FIRM_ID}:user-bob": "Bob Baker"}


def label(subject: str, fallback: str) -> str:
    return LABELS.get(subject, fallback)


def linked() -> LinkedOrganization:
    return LinkedOrganization.link(
        firm_id=FIRM_ID,
        client_id=CLIENT,
        provider=AccountingProvider.ZOHO_BOOKS,
        external_id=" 6001 ",
        name=" Acme Books ",
    )


def spike() -> list[tuple[str, str, Decimal | str]]:
    steady = ["0", "10", "20", "31", "40", "50", "61", "70"]
    rows: list[tuple[str, str, Decimal | str]] = [
        ("Bank", f"2024-{n + 1:02d}", v) for n, v in enumerate(steady)
    ]
    return [*rows, ("Bank", "2024-09", "500")]


def test_link_has_a_deterministic_id_and_a_readable_summary(acting: ActingContext) -> None:
    org = linked()
    assert org.id == organization_id(FIRM_ID, CLIENT, "ZOHO_BOOKS", "6001")
    [event] = org.collect_events()
    assert isinstance(event, LinkedOrganization.OrganizationLinked)
    assert (event.external_id, event.name, event.actor) == ("6001", "Acme Books", ANN_DICT)
    assert event.about_client() == CLIENT
    assert subject_of(event) == (str(org.id), "Acme Books")
    LABELS[str(org.id)] = "Acme Books"
    assert (
        sentence_of(event, Said("Ann", label))
        == "Ann linked the Zoho Books organization Acme Books (6001) to Acme."
    )


def test_import_acknowledge_unlink_and_replay(acting: ActingContext) -> None:
    org = linked()
    assert org.import_balances(spike()) == 9
    assert org.balances["Bank"]["2024-09"] == Decimal("500.00")
    finding = org.finding("Bank", "2024-09")
    assert finding is not None and finding.alert
    with pytest.raises(NotFound):
        org.acknowledge_alert("Bank", "2024-08", None)
    with pytest.raises(NotFound):
        org.acknowledge_alert("Bank", "not-a-period", None)
    org.acknowledge_alert("Bank", "2024-09", "  ok ")
    with pytest.raises(RuleViolated):
        org.acknowledge_alert("Bank", "2024-09", None)
    org.unlink(["user-zoe", "user-bob"])
    events = org.collect_events()
    unlinked = events[-1]
    assert isinstance(unlinked, LinkedOrganization.OrganizationUnlinked)
    assert unlinked.staff_lost_access == ["user-bob", "user-zoe"]
    assert sentence_of(unlinked, Said("Ann", label)) == (
        f"Ann unlinked the organization {label(str(org.id), 'an organization')} from Acme; "
        "Bob Baker and user-zoe lost access to it."
    )
    acked = events[-2]
    assert isinstance(acked, LinkedOrganization.LedgerAlertAcknowledged)
    assert (acked.change, acked.note) == ("430.00", "ok")
    # Replaying the events rebuilds the same state.
    copy = project_aggregate(None, events)
    assert copy is not None
    assert (copy.linked, copy.balances, copy.acknowledged) == (
        False,
        org.balances,
        {"Bank": ["2024-09"]},
    )
    with pytest.raises(RuleViolated) as closed:
        org.import_balances([("Bank", "2024-10", "1")])
    assert closed.value.rule == "NOT_LINKED"
    org.relink("Acme Books 2")
    assert org.linked is True
    with pytest.raises(RuleViolated) as again:
        org.relink("x")
    assert again.value.rule == "ALREADY_LINKED"


def test_validation_comes_before_state(acting: ActingContext) -> None:
    org = linked()
    org.collect_events()
    with pytest.raises(InvalidInput) as error:
        org.import_balances([("Bank", "2024-01", "1"), ("Bank", "2024-02", "1e400")])
    assert error.value.field == "input.balances.1.balance"
    with pytest.raises(InvalidInput):
        LinkedOrganization.link(
            firm_id=FIRM_ID,
            client_id=CLIENT,
            provider=AccountingProvider.XERO,
            external_id="x",
            name=" ",
        )
    assert org.collect_events() == []
