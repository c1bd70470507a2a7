"""The GraphQL documents the bench sends, trimmed to what the exported schema has."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    REMOVE,
    DocumentNode,
    FieldNode,
    GraphQLObjectType,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    parse,
    print_ast,
    validate,
    visit,
)

SCHEMA_FILE = Path("schema/schema.graphql")
# The whole-profile query a client app sends (tests/test_contract.py keeps it equal to the
# team's reference copy when that is present).
PROFILE_FILE = Path(__file__).resolve().parent / "profile.graphql"
# The whole overview tab (every list of `ClientOverview`), measured next to the profile.
OVERVIEW_FILE = Path(__file__).resolve().parent / "overview.graphql"


def load_schema(path: Path = SCHEMA_FILE) -> GraphQLSchema:
    return build_schema(path.read_text())


def profile_source() -> str:
    if not PROFILE_FILE.exists():
        raise FileNotFoundError(f"the profile query is missing: {PROFILE_FILE}")
    return PROFILE_FILE.read_text()


def overview_source() -> str:
    return OVERVIEW_FILE.read_text()


@dataclass(frozen=True)
class Trimmed:
    """A document with the fields the schema lacks removed, and their names."""

    text: str
    removed: list[str]


class _Strip(Visitor):
    def __init__(self, type_info: TypeInfo, removed: list[str]) -> None:
        super().__init__()
        self.type_info = type_info
        self.removed = removed

    def enter_field(self, node: FieldNode, *_args: Any) -> Any:
        if self.type_info.get_field_def() is None:
            parent = self.type_info.get_parent_type()
            self.removed.append(f"{getattr(parent, 'name', '?')}.{node.name.value}")
            return REMOVE
        return None


class _DropEmpty(Visitor):
    def leave_field(self, node: FieldNode, *_args: Any) -> Any:
        if node.selection_set is not None and not node.selection_set.selections:
            return REMOVE
        return None


def trim(source: str, schema: GraphQLSchema) -> Trimmed:
    """Remove every field the schema does not define (and selections left empty)."""
    removed: list[str] = []
    type_info = TypeInfo(schema)
    document: DocumentNode = visit(
        parse(source), TypeInfoVisitor(type_info, _Strip(type_info, removed))
    )
    for _ in range(10):
        again: DocumentNode = visit(document, _DropEmpty())
        if print_ast(again) == print_ast(document):
            break
        document = again
    errors = validate(schema, document)
    if errors:
        raise ValueError(f"the trimmed document is not valid: {errors[0].message}")
    return Trimmed(print_ast(document), removed)


def has_field(schema: GraphQLSchema, type_name: str, field: str) -> bool:
    kind = schema.get_type(type_name)
    return isinstance(kind, GraphQLObjectType) and field in kind.fields


CLIENTS_LIST = """
query ClientsList {
  clients(first: 50) {
    totalCount
    edges {
      node {
        id name
        contacts(first: 100) {
          totalCount
          edges {
            node { description contact { id firstName lastName emails { address primary } } }
          }
        }
        billing {
          unpaidTotal { amount currency }
          overdueTotal { amount currency }
          unpaidCount
          overdueCount
        }
      }
    }
  }
}
"""

LINK_CONTACT = """
mutation Link($input: LinkContactInput!) {
  linkContact(input: $input) {
    __typename
    ... on LinkContactSuccess { client { id version } contact { id } }
  }
}
"""

ADD_COMMENT = """
mutation Comment($input: AddCommentInput!) {
  addComment(input: $input) { __typename ... on AddCommentSuccess { comment { id } } }
}
"""

RECORD_PAYMENT = """
mutation Pay($input: RecordPaymentInput!) {
  recordPayment(input: $input) {
    __typename
    ... on InvoicePayload { invoice { id balance { amount } } }
  }
}
"""

UPDATE_DETAILS = """
mutation Update($input: UpdateClientDetailsInput!) {
  updateClientDetails(input: $input) { __typename ... on ClientPayload { client { id version } } }
}
"""

AS_OF = """
query AsOf($id: ID!, $version: Int) {
  client(id: $id) { asOf(version: $version) { version name tags } }
}
"""

LIVE = """
subscription Live($filter: ActivityFilter) {
  activity(filter: $filter) { id position occurredAt }
}
"""

MUTATION_TYPENAMES = ["LinkContactSuccess", "AddCommentSuccess", "InvoicePayload", "ClientPayload"]
