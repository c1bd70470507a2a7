"""Linked accounting organizations, ledger balances and insight alerts on a client's profile."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from resolvers.commands import Failure, may_change, written
from resolvers.ids import to_global_id, uuid_of
from resolvers.organizations import OrganizationLoaders, alert_global_id, parse_alert_id
from resolvers.ports import Outcome
from schema.common import Actor, Info, Node, command
from schema.errors import LimitExceededError, NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef, StaffMember


@strawberry.enum(description="The accounting system an organization lives in.")
class AccountingProvider(Enum):
    ZOHO_BOOKS = "ZOHO_BOOKS"
    XERO = "XERO"
    QUICKBOOKS = "QUICKBOOKS"
    SAGE = "SAGE"
    OTHER = "OTHER"


@strawberry.type(description="One account's closing balance for one period (month).")
class LedgerBalance:
    account: str
    period: str = strawberry.field(description="The month, as YYYY-MM.")
    balance: Decimal


@strawberry.type(
    description="An unusual period-over-period change of a general-ledger account: its robust "
    "z-score against the account's trailing 12 changes is at least 3.5 in absolute value."
)
class LedgerAlert(Node):
    id: strawberry.ID
    account: str
    period: str = strawberry.field(description="The month of the change, as YYYY-MM.")
    balance: Decimal
    previous_balance: Decimal = strawberry.field(description="The balance of the month before.")
    change: Decimal = strawberry.field(description="balance - previousBalance.")
    median_change: Decimal = strawberry.field(
        description="Median of the account's changes over the trailing 12 periods."
    )
    z_score: Decimal | None = strawberry.field(
        description="Robust z-score, rounded to 2 places; null when every earlier change in "
        "the window was the same amount (no spread to measure against)."
    )
    history_size: int = strawberry.field(description="How many earlier changes were compared.")
    why: str = strawberry.field(description="The reason for the alert, in one paragraph.")
    raised_at: datetime
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: Actor | None
    acknowledgement_note: str | None
    organization_id: strawberry.Private[str]

    @classmethod
    async def load(cls, info: Info, key: tuple[str, str, str]) -> LedgerAlert:
        return cls.from_row(
            await written(
                info.context.loaders_of(OrganizationLoaders).alert,
                "LedgerAlert",
                key,
                alert_global_id(*key),
            )
        )

    @classmethod
    def from_row(cls, row: Any) -> LedgerAlert:
        return cls(
            id=strawberry.ID(alert_global_id(row.organization_id, row.account, row.period)),
            account=row.account,
            period=row.period,
            balance=Decimal(row.balance),
            previous_balance=Decimal(row.previous_balance),
            change=Decimal(row.change),
            median_change=Decimal(row.median_change),
            z_score=None if row.z_score is None else Decimal(row.z_score),
            history_size=row.history_size,
            why=row.why,
            raised_at=row.raised_at,
            acknowledged=row.acknowledged_at is not None,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=(
                None if row.acknowledged_by is None else Actor.from_dict(row.acknowledged_by)
            ),
            acknowledgement_note=row.acknowledgement_note,
            organization_id=row.organization_id,
        )

    @strawberry.field
    async def organization(self, info: Info) -> LinkedOrganization | None:
        row = await info.context.loaders_of(OrganizationLoaders).by_id.load(self.organization_id)
        return None if row is None else LinkedOrganization.from_row(row)


def _alerts(rows: list[Any], include_acknowledged: bool) -> list[LedgerAlert]:
    return [
        LedgerAlert.from_row(r) for r in rows if include_acknowledged or r.acknowledged_at is None
    ]


@strawberry.type(description="A client's organization in an accounting system.")
class LinkedOrganization(Node):
    id: strawberry.ID
    provider: AccountingProvider
    external_id: str = strawberry.field(description="The organization's id at the provider.")
    name: str
    linked: bool
    linked_at: datetime
    linked_by: Actor
    unlinked_at: datetime | None
    unlinked_by: Actor | None
    access_removed_for: list[strawberry.ID] = strawberry.field(
        description="User ids of the client's team when it was last unlinked: the staff who "
        "lost access to the organization."
    )
    local_id: strawberry.Private[str]
    client_id: strawberry.Private[str]

    @classmethod
    async def load(cls, info: Info, organization_id: str) -> LinkedOrganization:
        return cls.from_row(
            await written(
                info.context.loaders_of(OrganizationLoaders).by_id,
                "LinkedOrganization",
                organization_id,
            )
        )

    @classmethod
    def from_row(cls, row: Any) -> LinkedOrganization:
        return cls(
            id=strawberry.ID(to_global_id("LinkedOrganization", row.id)),
            provider=AccountingProvider(row.provider),
            external_id=row.external_id,
            name=row.name,
            linked=row.linked,
            linked_at=row.linked_at,
            linked_by=Actor.from_dict(row.linked_by),
            unlinked_at=row.unlinked_at,
            unlinked_by=None if row.unlinked_by is None else Actor.from_dict(row.unlinked_by),
            access_removed_for=[strawberry.ID(u) for u in row.staff_lost_access],
            local_id=row.id,
            client_id=row.client_id,
        )

    @strawberry.field(description="The staff members behind accessRemovedFor (known ones).")
    async def staff_who_lost_access(self, info: Info) -> list[StaffMember]:
        rows = await info.context.loaders.staff_by_user.load_many(
            [str(u) for u in self.access_removed_for]
        )
        return [StaffMember.from_row(r) for r in rows if r is not None]

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        row = await info.context.loaders.client.load(self.client_id)
        return None if row is None else ClientCore.from_row(row)

    @strawberry.field(description="Imported balances by account and period (one account if given).")
    async def ledger_balances(self, info: Info, account: str | None = None) -> list[LedgerBalance]:
        rows = await info.context.loaders_of(OrganizationLoaders).balances.load(self.local_id)
        return [
            LedgerBalance(account=r.account, period=r.period, balance=Decimal(r.balance))
            for r in rows
            if account is None or r.account == account
        ]

    @strawberry.field(description="Insight alerts of this organization, newest period first.")
    async def ledger_alerts(
        self, info: Info, include_acknowledged: bool | None = False
    ) -> list[LedgerAlert]:
        rows = await info.context.loaders_of(OrganizationLoaders).alerts_by_organization.load(
            self.local_id
        )
        return _alerts(rows, bool(include_acknowledged))


# Client fields (OrganizationsClientFields below) ------------------------------------------


async def client_linked_organizations(
    info: Info, client_id: str, include_unlinked: bool
) -> list[LinkedOrganization]:
    rows = await info.context.loaders_of(OrganizationLoaders).by_client.load(client_id)
    return [LinkedOrganization.from_row(r) for r in rows if include_unlinked or r.linked]


async def client_ledger_alerts(
    info: Info, client_id: str, include_acknowledged: bool
) -> list[LedgerAlert]:
    rows = await info.context.loaders_of(OrganizationLoaders).alerts_by_client.load(client_id)
    return _alerts(rows, include_acknowledged)


async def organization_node(info: Info, local_id: str) -> LinkedOrganization | None:
    """Query.node for a LinkedOrganization id."""
    row = await info.context.loaders_of(OrganizationLoaders).by_id.load(local_id)
    return None if row is None else LinkedOrganization.from_row(row)


async def ledger_alert_node(info: Info, local_id: str) -> LedgerAlert | None:
    """Query.node for a LedgerAlert id."""
    key = parse_alert_id(to_global_id("LedgerAlert", local_id))
    if key is None:
        return None
    alert = await info.context.loaders_of(OrganizationLoaders).alert.load(key)
    return None if alert is None else LedgerAlert.from_row(alert)


# Mutations -----------------------------------------------------------------------------


@strawberry.input
class LinkOrganizationInput:
    client_id: strawberry.ID
    provider: AccountingProvider
    external_id: str
    name: str
    idempotency_key: str | None = None


@strawberry.input
class UnlinkOrganizationInput:
    organization_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class LedgerBalanceInput:
    account: str
    period: str = strawberry.field(description="The month, as YYYY-MM.")
    balance: Decimal


@strawberry.input
class ImportLedgerBalancesInput:
    organization_id: strawberry.ID
    balances: list[LedgerBalanceInput]
    source: str | None = strawberry.field(
        default=None, description="Where the figures come from, e.g. a file name."
    )
    idempotency_key: str | None = None


@strawberry.input
class AcknowledgeLedgerAlertInput:
    alert_id: strawberry.ID
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.type
class LinkedOrganizationPayload:
    organization: LinkedOrganization
    client: ClientRef

    @classmethod
    async def load(cls, info: Info, done: Outcome) -> LinkedOrganizationPayload:
        return cls(
            organization=await LinkedOrganization.load(info, done.ids["organization_id"]),
            client=await ClientCore.load(info, done.ids["client_id"]),
        )


@strawberry.type
class ImportLedgerBalancesSuccess:
    organization: LinkedOrganization
    imported: int = strawberry.field(description="How many balances this batch recorded.")
    alerts: list[LedgerAlert] = strawberry.field(
        description="The organization's unacknowledged alerts after the import."
    )


@strawberry.type
class LedgerAlertPayload:
    alert: LedgerAlert
    organization: LinkedOrganization


LinkOrganizationResult: TypeAlias = Annotated[
    LinkedOrganizationPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("LinkOrganizationResult"),
]
UnlinkOrganizationResult: TypeAlias = Annotated[
    LinkedOrganizationPayload | NotFoundError | RuleViolationError,
    strawberry.union("UnlinkOrganizationResult"),
]
ImportLedgerBalancesResult: TypeAlias = Annotated[
    ImportLedgerBalancesSuccess
    | ValidationError
    | NotFoundError
    | RuleViolationError
    | LimitExceededError,
    strawberry.union("ImportLedgerBalancesResult"),
]
AcknowledgeLedgerAlertResult: TypeAlias = Annotated[
    LedgerAlertPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("AcknowledgeLedgerAlertResult"),
]


@strawberry.type
class OrganizationsMutation:
    @command(
        may_change("change clients"),
        description="Link a client to its organization in an accounting system.",
    )
    async def link_organization(
        self, info: Info, input: LinkOrganizationInput
    ) -> LinkOrganizationResult:
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.organizations.link_organization(
                client_id,
                provider=input.provider.value,
                external_id=input.external_id,
                name=input.name,
                key=input.idempotency_key,
            ),
        )
        return await LinkedOrganizationPayload.load(info, done)

    @command(
        may_change("change clients"),
        description="Unlink an organization; the client's team loses access to it.",
    )
    async def unlink_organization(
        self, info: Info, input: UnlinkOrganizationInput
    ) -> UnlinkOrganizationResult:
        done = await info.context.run_on(
            "LinkedOrganization",
            input.organization_id,
            lambda app, org_id: app.organizations.unlink_organization(
                org_id, key=input.idempotency_key
            ),
        )
        return await LinkedOrganizationPayload.load(info, done)

    @command(
        may_change("change clients"),
        description="Import a batch of general-ledger balances (all or nothing); a later "
        "balance for the same account and period replaces the earlier one.",
    )
    async def import_ledger_balances(
        self, info: Info, input: ImportLedgerBalancesInput
    ) -> ImportLedgerBalancesResult:
        rows: list[tuple[str, str, Decimal | str]] = [
            (b.account, b.period, b.balance) for b in input.balances
        ]
        done = await info.context.run_on(
            "LinkedOrganization",
            input.organization_id,
            lambda app, org_id: app.organizations.import_ledger_balances(
                org_id, rows, source=input.source, key=input.idempotency_key
            ),
        )
        local = done.ids["organization_id"]
        alerts = await info.context.loaders_of(OrganizationLoaders).alerts_by_organization.load(
            local
        )
        return ImportLedgerBalancesSuccess(
            organization=await LinkedOrganization.load(info, local),
            imported=int(done.ids["imported"]),
            alerts=_alerts(alerts, include_acknowledged=False),
        )

    @command(
        may_change("change clients"),
        description="Acknowledge a ledger alert; it is then hidden by default.",
    )
    async def acknowledge_ledger_alert(
        self, info: Info, input: AcknowledgeLedgerAlertInput
    ) -> AcknowledgeLedgerAlertResult:
        key = parse_alert_id(input.alert_id)
        org_id = (
            None
            if key is None
            else uuid_of(to_global_id("LinkedOrganization", key[0]), "LinkedOrganization")
        )
        if key is None or org_id is None:
            raise Failure.not_found("LedgerAlert", input.alert_id)
        done = await info.context.run(
            lambda app: app.organizations.acknowledge_ledger_alert(
                org_id, key[1], key[2], note=input.note, key=input.idempotency_key
            ),
            given={"LedgerAlert": input.alert_id, "LinkedOrganization": input.alert_id},
        )
        found = (done.ids["organization_id"], done.ids["account"], done.ids["period"])
        return LedgerAlertPayload(
            alert=await LedgerAlert.load(info, found),
            organization=await LinkedOrganization.load(info, found[0]),
        )


@strawberry.type
class OrganizationsClientFields:
    """The fields this feature adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(description="The client's accounting organizations, oldest link first.")
    async def linked_organizations(
        self, info: Info, include_unlinked: bool | None = False
    ) -> list[LinkedOrganization]:

        return await client_linked_organizations(info, self.local_id, bool(include_unlinked))

    @strawberry.field(
        description="Unusual general-ledger movements of the client's linked organizations, "
        "newest period first; acknowledged ones only when asked for."
    )
    async def ledger_alerts(
        self, info: Info, include_acknowledged: bool | None = False
    ) -> list[LedgerAlert]:

        return await client_ledger_alerts(info, self.local_id, bool(include_acknowledged))
