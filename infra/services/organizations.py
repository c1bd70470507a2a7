"""Commands on linked accounting organizations and their ledgers."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from domain.actor import current_context
from domain.client import Client
from domain.organization import AccountingProvider, LinkedOrganization
from infra.services.unit_of_work import Change, Commands, Outcome


class OrganizationsService(Commands):
    """Link and unlink organizations, import ledger balances, acknowledge alerts."""

    def get_organization(self, org_id: UUID) -> LinkedOrganization:
        """The organization, if its client exists in the actor's firm and is visible."""
        return self.uow.visible(LinkedOrganization, org_id)

    def link_organization(
        self,
        client_id: UUID,
        *,
        provider: AccountingProvider,
        external_id: str,
        name: str,
        key: str | None = None,
    ) -> Outcome:
        """Link a client's organization, or link a previously unlinked one again."""

        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            org = LinkedOrganization.link(
                firm_id=current_context().firm_id,
                client_id=client.id,
                provider=provider,
                external_id=external_id,
                name=name,
            )
            existing = self.uow.find(LinkedOrganization, org.id)
            if existing is not None:
                existing.relink(name)
                org = existing
            return Change.of(org)

        return self.uow.run("linkOrganization", key, build)

    def unlink_organization(self, org_id: UUID, *, key: str | None = None) -> Outcome:
        """Unlink; the client's current team is recorded as having lost access."""

        def unlink(org: LinkedOrganization) -> None:
            org.unlink(list(self.uow.visible(Client, org.client_id).team))

        return self.uow.change("unlinkOrganization", key, LinkedOrganization, org_id, unlink)

    def import_ledger_balances(
        self,
        org_id: UUID,
        balances: Sequence[tuple[str, str, Decimal | str]],
        *,
        source: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Record one batch of balances atomically (all or nothing)."""

        def build() -> Change:
            org = self.get_organization(org_id)
            count = org.import_balances(balances, source)
            return Change.of(org, imported=str(count))

        return self.uow.run("importLedgerBalances", key, build)

    def acknowledge_ledger_alert(
        self,
        org_id: UUID,
        account: str,
        period: str,
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self.uow.change(
            "acknowledgeLedgerAlert",
            key,
            LinkedOrganization,
            org_id,
            lambda org: org.acknowledge_alert(account, period, note),
            extra={"account": account, "period": period},
        )
