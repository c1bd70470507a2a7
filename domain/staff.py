"""The firm's staff registry: one StaffMember aggregate per (firm, user id)."""

from __future__ import annotations

import json
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.actor import ACTOR_ID_MAX, clean_actor_id
from domain.base import DossierAggregate, DossierCreated
from domain.values import NAME_MAX, StaffRole, clean_email, required_text

USER_ID_MAX = ACTOR_ID_MAX


def staff_member_id(firm_id: str, user_id: str) -> UUID:
    """Deterministic id, so a user id is registered at most once per firm."""
    return uuid5(NAMESPACE_URL, json.dumps(["dossier:staff", firm_id, user_id]))


class StaffMember(DossierAggregate):
    """A member of the firm's staff, identified by the identity provider's user id."""

    class StaffMemberAdded(DossierCreated):
        user_id: str
        name: str
        email: str
        role: str

    def __init__(self, firm_id: str, user_id: str, name: str, email: str, role: str) -> None:
        self.firm_id = firm_id
        self.user_id = user_id
        self.name = name
        self.email = email
        self.role = role

    @classmethod
    def add(
        cls, *, firm_id: str, user_id: str, name: str, email: str, role: StaffRole
    ) -> StaffMember:
        uid = clean_actor_id("input.userId", user_id)
        return cls._create(
            cls.StaffMemberAdded,
            id=staff_member_id(firm_id, uid),
            firm_id=firm_id,
            user_id=uid,
            name=required_text("input.name", name, NAME_MAX),
            email=clean_email("input.email", email),
            role=StaffRole(role).value,
        )
