"""Bearer JWT authentication (HS256): token claims to a Viewer."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from resolvers.viewer import Viewer

ROLES = ("owner", "admin", "manager", "agent", "watcher", "contact")
ALGORITHM = "HS256"


class AuthError(Exception):
    """The token is missing, malformed, badly signed, expired or lacks a claim."""


@dataclass(frozen=True)
class TokenIssuer:
    """Signs and verifies Dossier's tokens with one shared secret."""

    secret: str

    def issue(
        self,
        *,
        sub: str,
        firm: str,
        role: str,
        name: str | None = None,
        contact: str | None = None,
        ttl_seconds: int = 30 * 24 * 3600,
    ) -> str:
        claims: dict[str, object] = {
            "sub": sub,
            "firm": firm,
            "role": role,
            "exp": int(time.time()) + ttl_seconds,
        }
        if name is not None:
            claims["name"] = name
        if contact is not None:
            claims["contact"] = contact
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Viewer:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "firm", "role", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.InvalidTokenError as error:
            raise AuthError(f"the token is invalid: {error}") from None
        role = str(claims["role"]).lower()
        if role not in ROLES:
            raise AuthError(f"the token's role {claims['role']!r} is not one of {', '.join(ROLES)}")
        sub, firm = str(claims["sub"]), str(claims["firm"])
        if not sub or not firm:
            raise AuthError("the token's sub and firm must not be empty")
        contact = claims.get("contact")
        if role == "contact" and not contact:
            raise AuthError("a contact's token must name its contact")
        name = claims.get("name")
        return Viewer(
            user_id=sub,
            firm_id=firm,
            role=role,
            name=str(name) if name is not None else None,
            contact_id=str(contact) if contact else None,
        )

    def viewer_from_header(self, authorization: str | None) -> Viewer:
        if not authorization:
            raise AuthError("a bearer token is required (Authorization: Bearer <token>)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())
