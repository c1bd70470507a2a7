"""Cross-origin browser access, from one setting: DOSSIER_CORS_ORIGINS.

The same list governs HTTP (CORS, through Starlette's CORSMiddleware) and websocket upgrades
(the `Origin` check of the GraphQL view, before the upgrade is accepted). Empty, the default,
means no cross-origin browser access at all: preflights are refused (400) and simple requests
carry no Access-Control-Allow-Origin, so a page on another origin cannot read the answer.
Requests without an `Origin` header (non-browser clients) are not concerned. Tokens travel in
the Authorization header, never in cookies, so credentials are not allowed cross-origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from strawberry.http.websocket_origin import normalize_allowed_origins

from infra.settings import SettingsError

ALLOWED_METHODS = ("GET", "POST")
ALLOWED_HEADERS = ("Authorization", "Content-Type")
EXPOSED_HEADERS = ("Retry-After", "X-Request-ID", "X-Dossier-Cache")
PREFLIGHT_MAX_AGE = 600  # seconds a browser may cache a preflight's answer


def allowed_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """The configured origins as browsers send them (scheme://host[:port]), or "*" for any;
    anything else (a path, a bare host) is a SettingsError at start-up."""
    listed = list(origins)
    try:
        normalized = normalize_allowed_origins(listed)
    except ValueError as error:
        raise SettingsError(f"DOSSIER_CORS_ORIGINS: {error}") from None
    return tuple(sorted(normalized))


def cors_options(origins: Iterable[str]) -> dict[str, Any]:
    """Keyword arguments for `app.add_middleware(CORSMiddleware, **cors_options(...))`."""
    return {
        "allow_origins": list(allowed_origins(origins)),
        "allow_methods": list(ALLOWED_METHODS),
        "allow_headers": list(ALLOWED_HEADERS),
        "expose_headers": list(EXPOSED_HEADERS),
        "allow_credentials": False,
        "max_age": PREFLIGHT_MAX_AGE,
    }


__all__ = ["CORSMiddleware", "allowed_origins", "cors_options"]
