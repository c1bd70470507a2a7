"""The assembled strawberry.Schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.file_uploads import Upload
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from resolvers.unavailable import UnavailableErrors
from schema.analytics import AnalyticsQuery
from schema.audit import AuditQuery
from schema.billing import BillingMutation, Invoice
from schema.common import SCALAR_OVERRIDES
from schema.limits import QueryLimiter, QueryLimits
from schema.mutation import Mutation
from schema.organizations import LedgerAlert, LinkedOrganization, OrganizationsMutation
from schema.query import Query
from schema.quotes import QuotesMutation
from schema.service_subscriptions import ServiceSubscriptionsMutation
from schema.subscription import Subscription
from schema.types import ActivityEntry, Client, Comment, Contact, StaffMember

DEFAULT_MAX_DEPTH = 12
DOCUMENT_CACHE_SIZE = 256

# Each capability contributes its own root fields: add its Query/Mutation/Subscription
# classes here (they are merged into the three root types).
QUERY_PARTS: tuple[type, ...] = (Query, AuditQuery, AnalyticsQuery)
MUTATION_PARTS: tuple[type, ...] = (
    Mutation,
    BillingMutation,
    OrganizationsMutation,
    QuotesMutation,
    ServiceSubscriptionsMutation,
)
SUBSCRIPTION_PARTS: tuple[type, ...] = (Subscription,)
# Types reachable only through an interface or a union member list.
EXTRA_TYPES: list[type] = [Client, Contact, StaffMember, Comment, ActivityEntry, Invoice, Upload]
EXTRA_TYPES += [LinkedOrganization, LedgerAlert]


def is_expected(error: GraphQLError) -> bool:
    """Errors we raise on purpose (with a code) and GraphQL's own validation errors."""
    if error.original_error is None:
        return True
    return bool(error.extensions and "code" in error.extensions)


class DossierSchema(strawberry.Schema):
    """Logs only unexpected errors: auth, validation and input errors are the caller's, and
    database outages are logged once, briefly, by UnavailableErrors."""

    outage: Callable[[GraphQLError], bool] = staticmethod(lambda _error: False)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [e for e in errors if not is_expected(e) and not self.outage(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema(
    *,
    production: bool = False,
    max_depth: int = DEFAULT_MAX_DEPTH,
    limits: QueryLimits | None = None,
    is_unavailable: Callable[[BaseException], bool] | None = None,
    extra_extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema; in production unexpected errors are masked.

    `is_unavailable` tells which exceptions mean the database is out of reach (the
    composition root passes infra.db_errors.is_transient): they become SERVICE_UNAVAILABLE.
    `extra_extensions` are factories the composition root adds (e.g. operator metrics).
    """
    bounds = limits or QueryLimits(max_depth=max_depth)  # schema.limits: per-document limits
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        # Client apps send the same few documents: parse and validate each text once.
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        # Depth, aliases, directives, cost and input sizes first, then the cached validation.
        lambda: QueryLimiter(bounds, maxsize=DOCUMENT_CACHE_SIZE),
        lambda: MaxTokensLimiter(max_token_count=bounds.max_tokens),
    ]
    outage = _outage_check(is_unavailable)
    if production:
        extensions.append(
            lambda: MaskErrors(should_mask_error=lambda e: not is_expected(e) and not outage(e))
        )
    if is_unavailable is not None:
        predicate = is_unavailable
        extensions.append(lambda: UnavailableErrors(is_unavailable=predicate))
    extensions.extend(extra_extensions)
    built = DossierSchema(
        query=merge_types("Query", QUERY_PARTS),
        mutation=merge_types("Mutation", MUTATION_PARTS),
        subscription=merge_types("Subscription", SUBSCRIPTION_PARTS)
        if SUBSCRIPTION_PARTS
        else None,
        types=EXTRA_TYPES,
        extensions=extensions,
        # Money is parsed strictly (ASCII digits, one point, no exponents or JSON numbers).
        scalar_overrides=SCALAR_OVERRIDES,
    )
    built.outage = outage
    return built


def _outage_check(
    is_unavailable: Callable[[BaseException], bool] | None,
) -> Callable[[GraphQLError], bool]:
    """Whether an error's original exception means the database is out of reach."""

    def outage(error: GraphQLError) -> bool:
        original = error.original_error
        return original is not None and is_unavailable is not None and is_unavailable(original)

    return outage


schema = build_schema()


def sdl() -> str:
    """The exported SDL (schema/schema.graphql)."""
    return schema.as_str() + "\n"
