"""Who may see and do what: one policy used by queries, commands and streamed events."""

from __future__ import annotations

from collections.abc import Iterable

FIRM_WIDE_ROLES = frozenset({"owner", "admin", "manager", "system"})
STAFF_ROLES = frozenset({"owner", "admin", "manager", "agent", "watcher"})
STAFF_ADMIN_ROLES = frozenset({"owner", "admin"})
MUTATING_ROLES = frozenset({"owner", "admin", "manager", "agent", "system"})


def is_staff(role: str) -> bool:
    return role in STAFF_ROLES


def sees_all_clients(role: str) -> bool:
    """Owners, admins and managers see every client of their firm."""
    return role in FIRM_WIDE_ROLES


def can_see_client(role: str, user_id: str, team_user_ids: Iterable[str]) -> bool:
    """Agents and watchers see only the clients whose team they are on."""
    if sees_all_clients(role):
        return True
    return role in STAFF_ROLES and user_id in set(team_user_ids)


def can_mutate(role: str) -> bool:
    """Watchers (and, until the portal, contacts) cannot change anything."""
    return role in MUTATING_ROLES


def can_manage_staff(role: str) -> bool:
    return role in STAFF_ADMIN_ROLES


def can_manage_clients(role: str) -> bool:
    """Registering clients and changing their teams is for owners, admins and managers."""
    return role in FIRM_WIDE_ROLES


def effective_staff_role(
    token_role: str, recorded_role: str | None, *, firm_has_staff: bool, firm_has_owner: bool
) -> str | None:
    """The role a staff token acts with, decided by the firm's staff records (None: refused).

    - A member on the records acts with the recorded role, whatever the token says, so a
      demotion or promotion counts from the next request.
    - A firm without any staff records trusts the token's role: a firm exists as soon as a
      valid token names it, and its first owner bootstraps it.
    - Once the firm has records, a token of someone not on them is refused (a removed member
      loses every right), except an owner's token while the firm has no owner on record, so
      that a firm whose records hold only other roles can still be run by its owner.
    """
    if token_role not in STAFF_ROLES:
        return None
    if recorded_role is not None:
        role = recorded_role.lower()
        return role if role in STAFF_ROLES else None
    if not firm_has_staff:
        return token_role
    if token_role == "owner" and not firm_has_owner:
        return token_role
    return None
