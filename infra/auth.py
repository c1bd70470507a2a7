"""Bearer JWT authentication (HS256): token claims to a Viewer.

The secret must be at least 32 bytes (HS256's key size; a shorter one is refused at start).
Tokens must carry `sub`, `firm`, `role`, `iat` and `exp`, with `exp - iat` within the
maximum lifetime (DOSSIER_JWT_MAX_LIFETIME, 24 h by default); `iss` and `aud` are required and
checked when DOSSIER_JWT_ISSUER / DOSSIER_JWT_AUDIENCE are set. Claims are type-checked, never
coerced: `sub`, `firm`, `role`, `name` and `contact` must be strings of bounded length, and
`role` one of ROLES (in any letter case). The token gives the identity; for staff, the role
they act with comes from the firm's staff records (resolvers.staff_roles).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt

from domain.actor import check_firm_id, clean_actor_id
from domain.errors import InvalidInput
from resolvers.viewer import Viewer

if TYPE_CHECKING:
    from infra.settings import Settings

ROLES = ("owner", "admin", "manager", "agent", "watcher", "contact")
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
DEFAULT_MAX_LIFETIME = 24 * 3600
LEEWAY_SECONDS = 5  # clock skew allowed on exp and iat
CLAIM_MAX = {"sub": 200, "firm": 200, "role": 20, "name": 200, "contact": 200}
"""The longest value accepted for each string claim (ids are stored in 200-character columns)."""


class AuthError(Exception):
    """The token is missing, malformed, badly signed, expired or lacks a claim."""


class WeakSecretError(ValueError):
    """The configured JWT secret is too short to sign tokens with."""


def check_secret(secret: str | None) -> str:
    """The secret, if it is long enough for HS256; else a WeakSecretError saying what to do."""
    if not secret:
        raise WeakSecretError("DOSSIER_JWT_SECRET must be set (./scripts/serve generates one)")
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        raise WeakSecretError(
            f"DOSSIER_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes, not {size} "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return secret


@dataclass(frozen=True)
class TokenIssuer:
    """Signs and verifies Dossier's tokens with one shared secret."""

    secret: str = field(repr=False)  # never shown in logs or tracebacks
    issuer: str | None = None
    audience: str | None = None
    max_lifetime: int = DEFAULT_MAX_LIFETIME
    """The longest exp - iat accepted (seconds); tokens are issued for at most this long."""

    def __post_init__(self) -> None:
        check_secret(self.secret)
        if self.max_lifetime <= 0:
            raise ValueError("the maximum token lifetime must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenIssuer:
        """The issuer configured by DOSSIER_JWT_SECRET, _ISSUER, _AUDIENCE, _MAX_LIFETIME."""
        return cls(
            check_secret(settings.jwt_secret),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_lifetime=settings.jwt_max_lifetime,
        )

    def issue(
        self,
        *,
        sub: str,
        firm: str,
        role: str,
        name: str | None = None,
        contact: str | None = None,
        ttl_seconds: int | None = None,
    ) -> str:
        """A signed token valid for ttl_seconds (default and at most: the maximum lifetime)."""
        ttl = self.max_lifetime if ttl_seconds is None else ttl_seconds
        if ttl > self.max_lifetime:
            raise ValueError(
                f"a token cannot be valid for {ttl} s: the maximum lifetime is "
                f"{self.max_lifetime} s (DOSSIER_JWT_MAX_LIFETIME)"
            )
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": sub,
            "firm": firm,
            "role": role,
            "iat": now,
            "exp": now + ttl,
        }
        if self.issuer is not None:
            claims["iss"] = self.issuer
        if self.audience is not None:
            claims["aud"] = self.audience
        if name is not None:
            claims["name"] = name
        if contact is not None:
            claims["contact"] = contact
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Viewer:
        required = ["sub", "firm", "role", "exp", "iat"]
        if self.issuer is not None:
            required.append("iss")
        if self.audience is not None:
            required.append("aud")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_SECONDS,
                options={
                    "require": required,
                    "strict_aud": self.audience is not None,
                    "verify_sub": False,  # checked below, with the other string claims
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.MissingRequiredClaimError as error:
            raise AuthError(f"the token lacks the {error.claim!r} claim") from None
        except jwt.InvalidIssuerError:
            raise AuthError("the token's issuer (iss) is not accepted") from None
        except jwt.InvalidAudienceError:
            raise AuthError("the token's audience (aud) is not accepted") from None
        except jwt.InvalidTokenError as error:
            raise AuthError(f"the token is invalid: {error}") from None
        self._check_lifetime(claims)
        sub, firm = _string(claims, "sub"), _string(claims, "firm")
        # Ids must be storable as they are (no NUL, controls or spaces: the staff lookup and
        # the read models would refuse them), so the same rules as the domain's apply here.
        try:
            clean_actor_id("sub", sub)
            check_firm_id("firm", firm)
        except InvalidInput as error:
            raise AuthError(f"the token's {error.message}") from None
        role_claim = _string(claims, "role")
        role = role_claim.lower()
        if role not in ROLES:
            raise AuthError(f"the token's role {role_claim!r} is not one of {', '.join(ROLES)}")
        contact = _optional_string(claims, "contact")
        if role == "contact" and not contact:
            raise AuthError("a contact's token must name its contact")
        return Viewer(
            user_id=sub,
            firm_id=firm,
            role=role,
            name=_optional_string(claims, "name"),
            contact_id=contact,
            issued_at=_numeric_date(claims, "iat"),
        )

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        issued, expires = _numeric_date(claims, "iat"), _numeric_date(claims, "exp")
        if expires - issued > self.max_lifetime:
            raise AuthError(
                f"the token is valid for longer than the maximum of {self.max_lifetime} s "
                "(exp - iat)"
            )

    def viewer_from_header(self, authorization: str | None) -> Viewer:
        if not authorization:
            raise AuthError("a bearer token is required (Authorization: Bearer <token>)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())


def _string(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str):
        raise AuthError(f"the token's {name} claim must be a string, not {_kind(value)}")
    if not value.strip():
        raise AuthError(f"the token's {name} claim must not be empty")
    if len(value) > CLAIM_MAX[name]:
        raise AuthError(f"the token's {name} claim is longer than {CLAIM_MAX[name]} characters")
    return value


def _optional_string(claims: dict[str, Any], name: str) -> str | None:
    if claims.get(name) in (None, ""):
        return None
    return _string(claims, name)


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthError(f"the token's {name} claim must be a number of seconds, not {_kind(value)}")
    return float(value)


def _kind(value: object) -> str:
    """A claim's JSON type, for messages (never its value: it could be anything)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a string" if isinstance(value, str) else type(value).__name__
