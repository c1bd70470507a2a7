"""The role policy: who may see and do what."""

from __future__ import annotations

import pytest

from domain.access import (
    can_manage_clients,
    can_manage_staff,
    can_mutate,
    can_see_client,
    effective_staff_role,
    is_staff,
    sees_all_clients,
)
from domain.actor import acting_as
from domain.values import ClientType
from tests.unit.helpers import ANN, FIRM_ID, new_client

# role: (is_staff, sees_all_clients, can_mutate, can_manage_staff, can_manage_clients)
POLICY: dict[str, tuple[bool, bool, bool, bool, bool]] = {
    "owner": (True, True, True, True, True),
    "admin": (True, True, True, True, True),
    "manager": (True, True, True, False, True),
    "agent": (True, False, True, False, False),
    "watcher": (True, False, False, False, False),
    "system": (False, True, True, False, True),
    "contact": (False, False, False, False, False),
    "": (False, False, False, False, False),
    "guest": (False, False, False, False, False),
}


@pytest.mark.parametrize(("role", "expected"), list(POLICY.items()), ids=list(POLICY))
def test_role_policy(role: str, expected: tuple[bool, bool, bool, bool, bool]) -> None:
    assert (
        is_staff(role),
        sees_all_clients(role),
        can_mutate(role),
        can_manage_staff(role),
        can_manage_clients(role),
    ) == expected


@pytest.mark.parametrize("role", ["owner", "admin", "manager", "system"])
def test_firm_wide_roles_see_a_client_without_being_on_its_team(role: str) -> None:
    assert can_see_client(role, "user-x", []) is True


@pytest.mark.parametrize("role", ["agent", "watcher"])
def test_agents_and_watchers_see_only_clients_whose_team_they_are_on(role: str) -> None:
    assert can_see_client(role, "user-ann", ["user-bob", "user-ann"]) is True
    assert can_see_client(role, "user-ann", ["user-bob"]) is False
    assert can_see_client(role, "user-ann", []) is False


@pytest.mark.parametrize("role", ["contact", "guest", ""])
def test_non_staff_never_see_a_client_even_if_listed_on_its_team(role: str) -> None:
    assert can_see_client(role, "user-ann", ["user-ann"]) is False


def test_team_membership_is_matched_on_the_exact_user_id() -> None:
    assert can_see_client("agent", "user-ann", ["user-anna", "USER-ANN"]) is False


def test_can_see_client_accepts_any_iterable_of_user_ids() -> None:
    assert can_see_client("agent", "user-ann", (u for u in ["user-ann"])) is True


def test_an_agent_sees_a_client_once_assigned_to_its_team() -> None:
    with acting_as(ANN, FIRM_ID, "owner"):
        client = new_client(client_type=ClientType.COMPANY)
        assert can_see_client("agent", "user-carol", client.team) is False

        client.assign_team_member("user-carol")
        assert can_see_client("agent", "user-carol", client.team) is True

        client.remove_team_member("user-carol")
        assert can_see_client("agent", "user-carol", client.team) is False


# The role a staff token acts with: (token role, recorded role, firm has staff, has owner).
EFFECTIVE: list[tuple[str, str | None, bool, bool, str | None]] = [
    ("agent", "MANAGER", True, True, "manager"),  # the records decide, either way
    ("owner", "WATCHER", True, True, "watcher"),
    ("manager", "MANAGER", True, False, "manager"),
    ("manager", None, False, False, "manager"),  # no records at all: the token is trusted
    ("agent", None, False, False, "agent"),
    ("agent", None, True, True, None),  # not (or no longer) on the records: refused
    ("admin", None, True, False, None),
    ("owner", None, True, True, None),
    ("owner", None, True, False, "owner"),  # no owner on the records yet
    ("contact", None, False, False, None),  # never a staff role
    ("contact", "AGENT", True, True, None),
    ("agent", "SOMETHING", True, True, None),
]


@pytest.mark.parametrize(("token", "recorded", "staffed", "owned", "expected"), EFFECTIVE)
def test_the_staff_records_decide_the_role(
    token: str, recorded: str | None, staffed: bool, owned: bool, expected: str | None
) -> None:
    assert (
        effective_staff_role(token, recorded, firm_has_staff=staffed, firm_has_owner=owned)
        == expected
    )
