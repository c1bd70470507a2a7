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
