"""schema/schema.graphql is exported from code and must be current."""

from __future__ import annotations

from pathlib import Path

from schema.schema import sdl

EXPORTED = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"


def test_exported_schema_is_current() -> None:
    assert EXPORTED.read_text() == sdl(), (
        "schema/schema.graphql is stale: run `.venv/bin/dossier export-schema`"
    )
