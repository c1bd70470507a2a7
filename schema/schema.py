"""The assembled strawberry.Schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import strawberry
import structlog
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.file_uploads import Upload
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from resolvers.unavailable import UnavailableErrors
from schema.analytics import AnalyticsQuery
from schema.audit import AuditQuery
from schema.billing import BillingMutation, Invoice
from schema.chat import ChatMutation
from schema.client import Client
from schema.client_requests import ClientRequestsMutation
from schema.common import SCALAR_OVERRIDES
from schema.documents import DocumentsMutation
from schema.emails import EmailsMutation
from schema.limits import QueryLimiter, QueryLimits
from schema.mutation import Mutation
from schema.notifications import NotificationsMutation, NotificationsQuery
from schema.organizations import LedgerAlert, LinkedOrganization, OrganizationsMutation
from schema.overview import OverviewMutation
from schema.portal_access import PortalMutation, PortalQuery
from schema.portal_preferences import PortalPreferencesMutation, PortalPreferencesQuery
from schema.query import Query
from schema.quotes import QuotesMutation
from schema.service_subscriptions import ServiceSubscriptionsMutation
from schema.subscription import Subscription
from schema.time_entries import TimeMutation
from schema.types import ActivityEntry, Comment, Contact, StaffMember
from schema.work_mutations import WorkMutation, WorkQuery

log = structlog.get_logger(__name__)

DEFAULT_MAX_DEPTH = 12
DOCUMENT_CACHE_SIZE = 256

# Each capability contributes its own root fields: add its Query/Mutation/Subscription
# classes here (they are merged into the three root types).
QUERY_PARTS: tuple[type, ...] = (
    Query,
    AuditQuery,
    AnalyticsQuery,
    NotificationsQuery,
    WorkQuery,
    PortalQuery,
    PortalPreferencesQuery,
)
MUTATION_PARTS: tuple[type, ...] = (
    Mutation,
    BillingMutation,
    OrganizationsMutation,
    QuotesMutation,
    ServiceSubscriptionsMutation,
    DocumentsMutation,
    NotificationsMutation,
    ChatMutation,
    EmailsMutation,
    ClientRequestsMutation,
    TimeMutation,
    WorkMutation,
    OverviewMutation,
    PortalMutation,
    PortalPreferencesMutation,
)
SUBSCRIPTION_PARTS: tuple[type, ...] = (Subscription,)
# Types reachable only through an interface or a union member list.
EXTRA_TYPES: list[type] = [Client, Contact, StaffMember, Comment, ActivityEntry, Invoice, Upload]
EXTRA_TYPES += [LinkedOrganization, LedgerAlert]


def is_expected(error: GraphQLError) -> bool:
    """Errors we raise on purpose (with a code) and GraphQL's own: validation, and variable
    coercion (whose original error is the GraphQLError saying what did not coerce)."""
    if error.original_error is None or isinstance(error.original_error, GraphQLError):
        return True
    return bool(error.extensions and "code" in error.extensions)


class DossierSchema(strawberry.Schema):
    """Logs only unexpected errors: auth, validation and input errors are the caller's, and
    database outages are logged once, briefly, by UnavailableErrors. The log line (with the
    request id bound by the HTTP layer) is the only place their text and traceback go."""

    outage: Callable[[GraphQLError], bool] = staticmethod(lambda _error: False)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_expected(error) or self.outage(error):
                continue
            original = error.original_error
            log.error(
                "unexpected_error",
                path=error.path,
                error_class=type(original or error).__name__,
                detail=str(original or error)[:2000],
                exc_info=original if original is not None else False,
            )


class MaskUnexpected(MaskErrors):
    """Unexpected errors (no code: a bug, a driver's error) lose their text, which may hold SQL,
    values or event data: "Unexpected error." in production; in development the exception's
    class and the request id to look for in the log."""

    def __init__(self, should_mask_error: Callable[[GraphQLError], bool], *, detailed: bool):
        super().__init__(should_mask_error=should_mask_error)
        self.detailed = detailed

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        if self.detailed:
            kind = type(error.original_error or error).__name__
            request_id = getattr(self.execution_context.context, "request_id", None)
            where = f" under request id {request_id}" if request_id else ""
            masked.message = f"Unexpected error ({kind}); the server log has the details{where}."
        return masked


class HideSuggestions(SchemaExtension):
    """Production: no "Did you mean ...?" in error messages (they reveal the schema's names
    when introspection is off). Errors are copied, never changed in place: validation results
    are cached and shared."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [_without_suggestion(error) for error in errors]


def _without_suggestion(error: GraphQLError) -> GraphQLError:
    head, found, _rest = error.message.partition(" Did you mean ")
    if not found:
        return error
    return GraphQLError(
        head.rstrip(),
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


def build_schema(
    *,
    production: bool = False,
    max_depth: int = DEFAULT_MAX_DEPTH,
    limits: QueryLimits | None = None,
    is_unavailable: Callable[[BaseException], bool] | None = None,
    extra_extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema. Unexpected errors are masked in every mode (see MaskUnexpected); production
    also refuses introspection (`__schema`, `__type`; `__typename` stays) and leaves
    "Did you mean ...?" out of error messages.

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
    detailed = not production
    extensions.append(
        lambda: MaskUnexpected(
            should_mask_error=lambda e: not is_expected(e) and not outage(e), detailed=detailed
        )
    )
    if production:
        extensions += [DisableIntrospection, HideSuggestions]
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
