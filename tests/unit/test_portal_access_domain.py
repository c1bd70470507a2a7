"""Unit tests of the PortalAccess aggregate: invitation tokens (hash only, single use,
expiry, replacement, revocation), statuses, replay and sentences (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

import projections.registry  # noqa: F401  (registers every feature's sentences)
from domain.actor import ActingContext
from domain.errors import RuleViolated
from domain.portal_access import (
    ACTIVE,
    INVITED,
    NONE,
    REVOKED,
    PortalAccess,
    hash_secret,
    parse_token,
    portal_access_id,
)
from projections.sentences import Said, sentence_of
from tests.unit.helpers import FIRM_ID, collect, replay

ADA = uuid4()
CLIENT = uuid4()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = 86400


def label(subject: str, fallback: str) -> str:
    return {str(CLIENT): "Acme Ltd", str(ADA): "Ada Lovelace"}.get(subject, fallback)


def said(event: Any) -> str:
    return sentence_of(event, Said("Ann", label))


def refused(access: PortalAccess, token: str, now: datetime = NOW) -> str:
    access_id, token_hash = parse_token(token)
    assert access_id == access.id
    with pytest.raises(RuleViolated) as error:
        access.accept(token_hash, now)
    return error.value.rule


def test_an_invitation_records_only_the_hash_and_accepting_activates(
    acting: ActingContext,
) -> None:
    access = PortalAccess.open(FIRM_ID, ADA, CLIENT)
    assert access.id == portal_access_id(FIRM_ID, ADA)
    assert access.status == NONE
    token = access.invite("ada@acme.test", NOW, 7 * DAY)
    access_id, token_hash = parse_token(token)
    assert access_id == access.id
    assert access.status == INVITED
    events = collect(access)
    invited = events[-1]
    assert isinstance(invited, PortalAccess.Invited)
    secret = token.split(".", 1)[1]
    assert invited.token_hash == hash_secret(secret)
    assert secret not in repr(invited.__dict__)
    assert invited.expires_at == NOW + timedelta(days=7)

    assert access.accept(token_hash, NOW + timedelta(days=6)) == "ada@acme.test"
    session = access.start_session(NOW + timedelta(days=1))
    assert access.status == ACTIVE
    events += collect(access)
    assert [type(e).__name__ for e in events] == ["Opened", "Invited", "Accepted", "SessionStarted"]
    assert events[-1].session_id == session  # type: ignore[attr-defined]
    assert [said(e) for e in events[1:]] == [
        "Ann invited Ada Lovelace to the client portal at ada@acme.test.",
        "Ann accepted the portal invitation sent to ada@acme.test.",
        "Ann signed in to the client portal.",
    ]
    again = replay(events)
    assert (again.status, again.email, again.pending_hash) == (ACTIVE, "ada@acme.test", None)


def test_refused_tokens_say_why_and_change_nothing(acting: ActingContext) -> None:
    access = PortalAccess.open(FIRM_ID, ADA, CLIENT)
    first = access.invite("ada@acme.test", NOW, DAY)
    events = collect(access)
    assert refused(access, first, NOW + timedelta(days=1)) == "INVITATION_EXPIRED"
    second = access.resend(NOW, DAY)
    assert refused(access, first) == "INVITATION_REPLACED"
    assert refused(access, second.split(".")[0] + ".forged") == "INVITATION_INVALID"
    access.accept(parse_token(second)[1], NOW)
    assert refused(access, second) == "INVITATION_USED"
    access.revoke()
    assert access.status == REVOKED
    third = access.invite("ada@acme.test", NOW, DAY)  # a revoked contact may be invited again
    access.revoke()
    assert refused(access, third) == "INVITATION_REVOKED"
    events += collect(access)
    assert said(events[2]) == "Ann sent Ada Lovelace a new portal invitation at ada@acme.test."
    assert said(events[-1]) == "Ann revoked Ada Lovelace's portal access."


@pytest.mark.parametrize("token", ["", "x", "nothex" * 6 + ".abc", "a" * 32 + ".", "a" * 300])
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(RuleViolated) as error:
        parse_token(token)
    assert error.value.rule == "INVITATION_INVALID"


def test_status_rules(acting: ActingContext) -> None:
    access = PortalAccess.open(FIRM_ID, ADA, None)
    with pytest.raises(RuleViolated) as not_invited:
        access.resend(NOW, DAY)
    assert not_invited.value.rule == "PORTAL_NOT_INVITED"
    with pytest.raises(RuleViolated) as no_access:
        access.start_session(NOW)
    assert no_access.value.rule == "PORTAL_NOT_ACTIVE"
    token = access.invite("ada@acme.test", NOW, DAY)
    with pytest.raises(RuleViolated) as twice:
        access.invite("ada@acme.test", NOW, DAY)
    assert twice.value.rule == "PORTAL_ALREADY_INVITED"
    access.accept(parse_token(token)[1], NOW)
    with pytest.raises(RuleViolated) as active:
        access.invite("ada@acme.test", NOW, DAY)
    assert active.value.rule == "PORTAL_ALREADY_ACTIVE"
    access.revoke()
    with pytest.raises(RuleViolated) as revoked:
        access.revoke()
    assert revoked.value.rule == "PORTAL_ALREADY_REVOKED"
