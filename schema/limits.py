"""Bounded work per document: size, shape and cost limits checked before validation.

`QueryLimiter` (register it as a factory, in place of Strawberry's ValidationCache, which it
extends) looks at the parsed document before graphql-core validates it, in one pass that visits
each fragment once however often it is spread, and refuses with one top-level error:

- `QUERY_TOO_COMPLEX`: more than `max_tokens` lexical tokens or `max_length` characters (the
  parser stops there), nesting deeper than `max_depth` (the depth QueryDepthLimiter measures:
  root fields are at depth 0, introspection fields do not count), more than `max_aliases`
  aliases or `max_directives` directives, one field selected more than `max_repeats` times in
  one selection set, or a cost over `max_cost`;
- `BAD_USER_INPUT`: an argument value, in the document or in the variables, longer or larger
  than the early bounds below (the domain checks each item afterwards, within its own limits);
- `RATE_LIMITED`: the document's cost does not fit the viewer's remaining budget (see
  `CostMeter`; the HTTP layer turns it into a 429).

Cost: each field costs 1. A field with a `first` argument (a connection) multiplies the cost of
its selection by `first` (the variable's value or the argument's default when not given, and
at most the largest page, MAX_PAGE); the lists directly inside a connection's selection
(`edges`) are that page and count once. Any other list of objects multiplies the cost of its
selection by ASSUMED_LIST_SIZE. Fragments and inline fragments are counted where they are
spread. A document's cost is the sum over its operations. For example
`{ clients(first: 10) { totalCount edges { node { id tags } } } }` costs
1 + 10 x (1 + (1 + (1 + 1 + 1))) = 51.

Strawberry's own QueryDepthLimiter and MaxAliasesLimiter are not used: their errors carry no
code, they expand fragments on every spread (a 22-level doubling fragment took 10 s), and
registered per request they create a new validation rule class each time, so the validation
cache never hits. MaxTokensLimiter is used as is.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, cast

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from graphql.pyutils import Undefined
from strawberry.extensions import ValidationCache

from resolvers.pages import MAX_PAGE

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
BAD_INPUT = "BAD_USER_INPUT"
RATE_LIMITED = "RATE_LIMITED"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"

ASSUMED_LIST_SIZE = 10
"""How many items a list of objects without a `first` argument is counted as."""

# Early bounds on argument values, checked before any work. Lists are bounded well above the
# domain's own limits (50 tags, 10 emails, 100 custom fields, 200 invoice lines, 5,000 ledger
# balances per import, 10,000 clients in a digest), so that a slightly too long list still gets
# the domain's typed error and only absurd ones are refused here.
ID_MAX = 200
STRING_MAX = 20_000
LIST_MAX = 1_000
STRING_MAX_BY_NAME: Mapping[str, int] = {"after": 200, "before": 200, "search": 200}
LIST_MAX_BY_NAME: Mapping[str, int] = {
    "tags": 500,
    "emails": 100,
    "customFields": 1_000,
    "lines": 2_000,
    "balances": 10_000,
    "clients": 10_000,
}
INPUT_NESTING_MAX = 16


@dataclass(frozen=True)
class QueryLimits:
    """The per-document limits (DOSSIER_MAX_QUERY_* settings)."""

    max_depth: int = 12
    max_tokens: int = 2_000
    max_length: int = 100_000
    max_aliases: int = 50
    max_directives: int = 50
    max_cost: int = 300_000
    max_repeats: int = 20
    """Times one field (response name) may be selected in one selection set: graphql-core
    compares such fields pairwise, so 500 copies of `viewer { userId }` take ~0.6 s to validate."""


@dataclass(frozen=True)
class Measure:
    """What a selection costs and holds, fragments counted where they are spread."""

    cost: int = 0
    aliases: int = 0
    directives: int = 0
    depth: int = 0  # the longest chain of nested (non-introspection) fields
    repeats: int = 0  # the most times one response name is selected in one selection set


ZERO = Measure()


def too_complex(message: str, **details: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": TOO_COMPLEX, **details})


def bad_input(message: str, argument: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": BAD_INPUT, "argument": argument})


def rate_limited(retry_after: float) -> GraphQLError:
    seconds = max(1, math.ceil(retry_after))
    return GraphQLError(
        f"too many requests: this viewer's query cost budget is spent; retry in {seconds} s",
        extensions={"code": RATE_LIMITED, "retryAfter": seconds},
    )


# Cost ------------------------------------------------------------------------------------------


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
) -> Measure:
    """The document's cost, aliases, directives and depth (summed over its operations)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    total = ZERO
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            found = _Measurer(schema, fragments, variables or {}, definition).run()
            total = _plus(total, found)
    return total


def _plus(a: Measure, b: Measure) -> Measure:
    return Measure(
        a.cost + b.cost,
        a.aliases + b.aliases,
        a.directives + b.directives,
        max(a.depth, b.depth),
        max(a.repeats, b.repeats),
    )


class _Measurer:
    """Measures one operation; each fragment is measured once (per kind of parent)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        operation: OperationDefinitionNode,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.operation = operation
        self.defaults = {
            v.variable.name.value: v.default_value for v in operation.variable_definitions or ()
        }
        self.memo: dict[tuple[str, bool], tuple[Measure, Counter[str]]] = {}
        self.active: set[tuple[str, bool]] = set()

    def run(self) -> Measure:
        root = self.schema.get_root_type(self.operation.operation)
        found = self.selections(self.operation.selection_set, root, paged=False)
        return _plus(found, Measure(directives=len(self.operation.directives or ())))

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, *, paged: bool
    ) -> Measure:
        found, names = self.merged(selection_set, parent, paged=paged)
        return _plus(found, Measure(repeats=max(names.values(), default=0)))

    def merged(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, *, paged: bool
    ) -> tuple[Measure, Counter[str]]:
        """The selection set's measure and how often each response name is selected in it
        (fields of inline fragments and spread fragments merge into it)."""
        cost = aliases = directives = depth = repeats = 0
        names: Counter[str] = Counter()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found = self.field(selection, parent, paged=paged)
                names[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = parent if condition is None else self.schema.get_type(condition.name.value)
                found, more = self.merged(selection.selection_set, inner, paged=paged)
                names.update(more)
            elif isinstance(selection, FragmentSpreadNode):
                found, more = self.fragment(selection.name.value, paged=paged)
                names.update(more)
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            cost += found.cost
            aliases += found.aliases
            directives += found.directives + len(selection.directives or ())
            depth = max(depth, found.depth)
            repeats = max(repeats, found.repeats)
        return Measure(cost, aliases, directives, depth, repeats), names

    def fragment(self, name: str, *, paged: bool) -> tuple[Measure, Counter[str]]:
        key = (name, paged)
        if key in self.memo:
            return self.memo[key]
        definition = self.fragments.get(name)
        if definition is None or key in self.active:  # unknown or cyclic: validation refuses
            return ZERO, Counter()
        self.active.add(key)
        parent = self.schema.get_type(definition.type_condition.name.value)
        found, names = self.merged(definition.selection_set, parent, paged=paged)
        found = _plus(found, Measure(directives=len(definition.directives or ())))
        self.active.discard(key)
        self.memo[key] = (found, names)
        return found, names

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, *, paged: bool) -> Measure:
        name = node.name.value
        definition = _field_definition(self.schema, parent, name)
        named: GraphQLNamedType | None = None
        multiplier = 1
        connection = False
        if definition is not None:
            named = get_named_type(definition.type)
            if "first" in definition.args:
                connection = True
                multiplier = self.first(node, definition)
            elif node.selection_set is not None and not paged and _is_list(definition.type):
                multiplier = ASSUMED_LIST_SIZE
        inner = ZERO
        if node.selection_set is not None:
            inner = self.selections(node.selection_set, named, paged=connection)
        introspection = name.startswith("__")
        return Measure(
            cost=1 + multiplier * inner.cost,
            aliases=inner.aliases + (1 if node.alias is not None else 0),
            directives=inner.directives,
            depth=0 if introspection else 1 + inner.depth,
            repeats=inner.repeats,
        )

    def first(self, node: FieldNode, definition: GraphQLField) -> int:
        """The page size a connection field asks for (the largest page when unknowable)."""
        value: Any = None
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        if argument is not None:
            value = self.literal(argument.value)
        if value is None:
            default = definition.args["first"].default_value
            value = default if default is not Undefined else None
        if not isinstance(value, int) or isinstance(value, bool):
            return MAX_PAGE
        return max(0, min(value, MAX_PAGE))

    def literal(self, value: ValueNode) -> Any:
        if isinstance(value, IntValueNode):
            try:
                return int(value.value)
            except ValueError:  # pragma: no cover - the lexer only makes integers
                return None
        if isinstance(value, VariableNode):
            name = value.name.value
            if name in self.variables:
                return self.variables[name]
            default = self.defaults.get(name)
            return None if default is None else self.literal(default)
        return None


def _field_definition(
    schema: GraphQLSchema, parent: GraphQLNamedType | None, name: str
) -> GraphQLField | None:
    if name == "__typename":
        return None
    if name in ("__schema", "__type"):
        return schema.get_field(schema.query_type, name) if schema.query_type else None
    if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def _is_list(kind: Any) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def check_measure(found: Measure, limits: QueryLimits) -> GraphQLError | None:
    """The first limit the document goes over, as a QUERY_TOO_COMPLEX error."""
    if found.depth - 1 > limits.max_depth:  # root fields are at depth 0
        return too_complex(
            f"the document nests fields to depth {found.depth - 1}; the maximum depth is "
            f"{limits.max_depth} (root fields are at depth 0)",
            depth=found.depth - 1,
            maxDepth=limits.max_depth,
        )
    if found.repeats > limits.max_repeats:
        return too_complex(
            f"the document selects one field {found.repeats} times in one selection set; at "
            f"most {limits.max_repeats} are allowed",
            repeats=found.repeats,
            maxRepeats=limits.max_repeats,
        )
    if found.aliases > limits.max_aliases:
        return too_complex(
            f"the document uses {found.aliases} aliases; at most {limits.max_aliases} are allowed",
            aliases=found.aliases,
            maxAliases=limits.max_aliases,
        )
    if found.directives > limits.max_directives:
        return too_complex(
            f"the document uses {found.directives} directives; at most "
            f"{limits.max_directives} are allowed",
            directives=found.directives,
            maxDirectives=limits.max_directives,
        )
    if found.cost > limits.max_cost:
        return too_complex(
            f"the document's cost is {found.cost}; at most {limits.max_cost} is allowed "
            "(each field costs 1, a connection multiplies its selection by first)",
            cost=found.cost,
            maxCost=limits.max_cost,
        )
    return None


# Input sizes -----------------------------------------------------------------------------------


def check_inputs(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None = None
) -> GraphQLError | None:
    """The first argument value (a literal or a variable's value) over its early bound."""
    try:
        _InputCheck(schema, document, variables or {}).run()
    except _Refused as refused:
        return refused.error
    return None


class _Refused(Exception):
    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        self.error = error


class _InputCheck:
    """Walks every argument of every field with its declared input type."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.document = document
        self.variables = variables
        self.seen: set[tuple[str, str]] = set()

    def run(self) -> None:
        for definition in self.document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                root = self.schema.get_root_type(definition.operation)
                self.selections(definition.selection_set, root)
            elif isinstance(definition, FragmentDefinitionNode):
                parent = self.schema.get_type(definition.type_condition.name.value)
                self.selections(definition.selection_set, parent)

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> None:
        for selection in selection_set.selections:
            self.directives(selection.directives or ())
            if isinstance(selection, FieldNode):
                definition = _field_definition(self.schema, parent, selection.name.value)
                args = definition.args if definition is not None else {}
                for argument in selection.arguments or ():
                    found = args.get(argument.name.value)
                    self.argument(argument, found.type if found is not None else None)
                if selection.selection_set is not None:
                    named = get_named_type(definition.type) if definition is not None else None
                    self.selections(selection.selection_set, named)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = parent if condition is None else self.schema.get_type(condition.name.value)
                self.selections(selection.selection_set, inner)

    def directives(self, directives: Sequence[DirectiveNode]) -> None:
        for directive in directives:
            for argument in directive.arguments or ():
                self.argument(argument, None)

    def argument(self, argument: ArgumentNode, kind: GraphQLInputType | None) -> None:
        name = argument.name.value
        self.literal(argument.value, kind, name, name, 0)

    def literal(
        self, value: ValueNode, kind: GraphQLInputType | None, name: str, path: str, depth: int
    ) -> None:
        if depth > INPUT_NESTING_MAX:
            raise _Refused(bad_input(f"{path} is nested too deeply", path))
        kind = _nullable(kind)
        if isinstance(value, VariableNode):
            variable = value.name.value
            if (variable, name) not in self.seen and variable in self.variables:
                self.seen.add((variable, name))
                self.raw(self.variables[variable], kind, name, path, depth)
        elif isinstance(value, ListValueNode):
            self.count(len(value.values), name, path)
            item = _nullable(kind.of_type) if isinstance(kind, GraphQLList) else None
            for i, element in enumerate(value.values):
                self.literal(element, item, name, f"{path}.{i}", depth + 1)
        elif isinstance(value, ObjectValueNode):
            fields = kind.fields if isinstance(kind, GraphQLInputObjectType) else {}
            for field in value.fields:
                key = field.name.value
                found = fields.get(key)
                inner = found.type if found is not None else None
                self.literal(field.value, inner, key, f"{path}.{key}", depth + 1)
        elif isinstance(value, StringValueNode):
            self.length(value.value, kind, name, path)

    def raw(
        self, value: Any, kind: GraphQLInputType | None, name: str, path: str, depth: int
    ) -> None:
        if depth > INPUT_NESTING_MAX:
            raise _Refused(bad_input(f"{path} is nested too deeply", path))
        kind = _nullable(kind)
        if isinstance(value, str):
            self.length(value, kind, name, path)
        elif isinstance(value, list):
            self.count(len(value), name, path)
            item = _nullable(kind.of_type) if isinstance(kind, GraphQLList) else None
            for i, element in enumerate(value):
                self.raw(element, item, name, f"{path}.{i}", depth + 1)
        elif isinstance(value, dict):
            fields = kind.fields if isinstance(kind, GraphQLInputObjectType) else {}
            for key, element in value.items():
                found = fields.get(key) if isinstance(key, str) else None
                inner = found.type if found is not None else None
                self.raw(element, inner, str(key), f"{path}.{key}", depth + 1)

    def count(self, size: int, name: str, path: str) -> None:
        bound = LIST_MAX_BY_NAME.get(name, LIST_MAX)
        if size > bound:
            raise _Refused(
                bad_input(f"{path} has {size} items; at most {bound} are accepted", path)
            )

    def length(self, text: str, kind: GraphQLInputType | None, name: str, path: str) -> None:
        bound = STRING_MAX_BY_NAME.get(name)
        if bound is None:
            bound = ID_MAX if getattr(kind, "name", None) == "ID" else STRING_MAX
        if len(text) > bound:
            raise _Refused(
                bad_input(
                    f"{path} is {len(text)} characters long; at most {bound} are accepted", path
                )
            )


def _nullable(kind: Any) -> Any:
    return kind.of_type if isinstance(kind, GraphQLNonNull) else kind


# The rate limit's hook ---------------------------------------------------------------------------


class CostMeter(Protocol):
    """Charges a request's cost to its viewer's budget (infra.rate_limit provides one)."""

    def charge(self, points: int) -> float | None:
        """Charge the points; when they do not fit, charge nothing and return the seconds
        until they would."""


CURRENT_METER: ContextVar[CostMeter | None] = ContextVar("dossier_cost_meter", default=None)
"""The meter of the HTTP request being served (unset: nothing is charged, e.g. websockets)."""


# The extension -----------------------------------------------------------------------------------

_LIMIT_MESSAGES = ("Document contains more than", "Source contains more than")


def _code_parse_error(error: GraphQLError) -> None:
    """Give a syntax error a code: QUERY_TOO_COMPLEX when the parser stopped at a limit."""
    if isinstance(error, GraphQLSyntaxError) and not (error.extensions or {}).get("code"):
        limit = any(part in error.message for part in _LIMIT_MESSAGES)
        error.extensions = {"code": TOO_COMPLEX if limit else PARSE_FAILED}


class QueryLimiter(ValidationCache):
    """Refuses documents over the limits before graphql-core validates them, charges the cost
    of the others to the request's meter, then validates with Strawberry's ValidationCache.

    Register as a factory (a fresh instance per request) and together with Strawberry's
    MaxTokensLimiter, which makes the parser stop after `max_tokens` tokens.
    """

    def __init__(self, limits: QueryLimits, maxsize: int | None = None) -> None:
        super().__init__(maxsize=maxsize)
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        options = cast("dict[str, Any]", self.execution_context.parse_options)
        options["max_source_length"] = self.limits.max_length
        try:
            yield
        except GraphQLSyntaxError as syntax_error:  # raised through the hooks by ParserCache
            _code_parse_error(syntax_error)
            raise
        result = self.execution_context.result
        for error in (result.errors if result is not None else None) or ():
            _code_parse_error(error)

    def on_validate(self) -> Iterator[None]:
        refusal = self.refusal()
        if refusal is not None:
            self.execution_context.pre_execution_errors = [refusal]
            yield
            return
        yield from super().on_validate()

    def refusal(self) -> GraphQLError | None:
        context = self.execution_context
        document = context.graphql_document
        if document is None:  # pragma: no cover - validation follows a parsed document
            return None
        schema = context.schema._schema
        found = measure(schema, document, context.variables)
        error = check_measure(found, self.limits) or check_inputs(
            schema, document, context.variables
        )
        if error is not None:
            return error
        meter = CURRENT_METER.get()
        if meter is not None:
            wait = meter.charge(found.cost)
            if wait is not None:
                return rate_limited(wait)
        return None
