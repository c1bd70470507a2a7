"""Commands on linked accounting organizations and their ledgers.

They run through DossierService._run (atomic save, idempotency records, retries on concurrent
writes) and check the client's visibility the same way as every client command.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.actor import current_context
from domain.errors import NotFound
from domain.organization import AccountingProvider, LinkedOrganization
from infra.service import Change, Commands, DossierService, Outcome


class OrganizationsService(Commands):
    """Link and unlink organizations, import ledger balances, acknowledge alerts."""

    def __init__(self, dossier: DossierService) -> None:
        self.dossier = dossier

    def get_organization(self, org_id: UUID) -> LinkedOrganization:
        """The organization, if its client exists in the actor's firm and is visible."""
        org = self.dossier._get(LinkedOrganization, org_id, "LinkedOrganization")
        try:
            self.dossier.visible_client(org.client_id)
        except NotFound:
            raise NotFound("LinkedOrganization", str(org_id)) from None
        return org

    def _ids(self, org: LinkedOrganization) -> dict[str, str]:
        return {"organization_id": str(org.id), "client_id": str(org.client_id)}

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
            client = self.dossier.visible_client(client_id)
            org = LinkedOrganization.link(
                firm_id=current_context().firm_id,
                client_id=client.id,
                provider=provider,
                external_id=external_id,
                name=name,
            )
            existing = self._existing(org.id)
            if existing is not None:
                existing.relink(name)
                org = existing
            return Change([org], self._ids(org))

        return self.dossier._run("linkOrganization", key, build)

    def _existing(self, org_id: UUID) -> LinkedOrganization | None:
        try:
            found: object = self.dossier.store.repository.get(org_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(found, LinkedOrganization)
        return found

    def unlink_organization(self, org_id: UUID, *, key: str | None = None) -> Outcome:
        """Unlink; the client's current team is recorded as having lost access."""

        def build() -> Change:
            org = self.get_organization(org_id)
            client = self.dossier.visible_client(org.client_id)
            org.unlink(list(client.team))
            return Change([org], self._ids(org))

        return self.dossier._run("unlinkOrganization", key, build)

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
            return Change([org], {**self._ids(org), "imported": str(count)})

        return self.dossier._run("importLedgerBalances", key, build)

    def acknowledge_ledger_alert(
        self,
        org_id: UUID,
        account: str,
        period: str,
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            org = self.get_organization(org_id)
            org.acknowledge_alert(account, period, note)
            ids = {**self._ids(org), "account": account, "period": period}
            return Change([org], ids)

        return self.dossier._run("acknowledgeLedgerAlert", key, build)
