"""The ASGI entry point for uvicorn: `uvicorn infra.asgi:app`."""

from __future__ import annotations

from infra.logging import configure_logging
from infra.web import create_app

configure_logging(json=True)
app = create_app()
