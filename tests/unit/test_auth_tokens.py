"""JWT checks (infra.auth): secret length, lifetime, issuer and audience, typed claims."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from typer.testing import CliRunner

from infra.auth import (
    ALGORITHM,
    DEFAULT_MAX_LIFETIME,
    MIN_SECRET_BYTES,
    AuthError,
    TokenIssuer,
    WeakSecretError,
)
from infra.cli import app as cli_app
from infra.settings import Settings, SettingsError

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = TokenIssuer(SECRET)


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims (an hour's token), with changes; a value of None drops the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "user-1",
        "firm": "firm-a",
        "role": "agent",
        "name": "Ann",
        "iat": now,
        "exp": now + 3600,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def refusal(token: str, issuer: TokenIssuer = ISSUER) -> str:
    with pytest.raises(AuthError) as caught:
        issuer.verify(token)
    return str(caught.value)


# The secret ---------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["x", "test-secret", "é" * 15, "s" * (MIN_SECRET_BYTES - 1)])
def test_a_secret_under_32_bytes_is_refused(secret: str) -> None:
    with pytest.raises(WeakSecretError, match="DOSSIER_JWT_SECRET must be at least 32 bytes"):
        TokenIssuer(secret)


def test_a_missing_secret_is_refused_by_from_settings() -> None:
    with pytest.raises(WeakSecretError, match="DOSSIER_JWT_SECRET must be set"):
        TokenIssuer.from_settings(Settings(jwt_secret=None))


def test_32_bytes_are_enough_and_the_secret_is_never_shown() -> None:
    issuer = TokenIssuer("s" * MIN_SECRET_BYTES)
    assert "s" * MIN_SECRET_BYTES not in repr(issuer)


def test_create_app_refuses_a_short_secret(tmp_path: Any) -> None:
    from infra.web import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", jwt_secret="short")
    with pytest.raises(WeakSecretError, match="at least 32 bytes"):
        create_app(settings)


# Settings -----------------------------------------------------------------------------------


def test_jwt_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DOSSIER_JWT_SECRET": SECRET,
            "DOSSIER_JWT_ISSUER": "https://id.example",
            "DOSSIER_JWT_AUDIENCE": "dossier",
            "DOSSIER_JWT_MAX_LIFETIME": "600",
        }
    )
    issuer = TokenIssuer.from_settings(settings)
    assert (issuer.issuer, issuer.audience, issuer.max_lifetime) == (
        "https://id.example",
        "dossier",
        600,
    )
    defaults = Settings.from_env({})
    assert (defaults.jwt_issuer, defaults.jwt_audience) == (None, None)
    assert defaults.jwt_max_lifetime == DEFAULT_MAX_LIFETIME == 24 * 3600


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_a_bad_maximum_lifetime_is_a_settings_error(value: str) -> None:
    with pytest.raises(SettingsError, match="DOSSIER_JWT_MAX_LIFETIME"):
        Settings.from_env({"DOSSIER_JWT_MAX_LIFETIME": value})


# Lifetime -----------------------------------------------------------------------------------


def test_issued_tokens_carry_iat_and_exp_within_the_maximum() -> None:
    issuer = TokenIssuer(SECRET, max_lifetime=600)
    decoded = jwt.decode(issuer.issue(sub="u", firm="f", role="owner"), SECRET, [ALGORITHM])
    assert decoded["exp"] - decoded["iat"] == 600
    assert issuer.verify(issuer.issue(sub="u", firm="f", role="owner", ttl_seconds=60)).user_id
    with pytest.raises(ValueError, match="maximum lifetime is 600 s"):
        issuer.issue(sub="u", firm="f", role="owner", ttl_seconds=601)


def test_a_token_valid_for_longer_than_the_maximum_is_refused() -> None:
    now = int(time.time())
    token = signed(claims(iat=now, exp=now + DEFAULT_MAX_LIFETIME + 1))
    assert "longer than the maximum" in refusal(token)
    # Exactly the maximum is fine.
    ISSUER.verify(signed(claims(iat=now, exp=now + DEFAULT_MAX_LIFETIME)))


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "firm", "role"])
def test_a_token_without_a_required_claim_is_refused(missing: str) -> None:
    assert refusal(signed(claims(**{missing: None}))) == f"the token lacks the {missing!r} claim"


def test_an_expired_token_and_one_issued_in_the_future_are_refused() -> None:
    now = int(time.time())
    assert refusal(signed(claims(iat=now - 7200, exp=now - 3600))) == "the token has expired"
    assert "not yet valid" in refusal(signed(claims(iat=now + 600, exp=now + 1200)))


@pytest.mark.parametrize("value", ["1700000000", [1], True, None])
def test_exp_and_iat_must_be_numbers(value: Any) -> None:
    token = signed({**claims(), "iat": value})
    assert "iat" in refusal(token)


# Issuer and audience ------------------------------------------------------------------------


def test_issuer_and_audience_are_issued_and_required_when_set() -> None:
    strict = TokenIssuer(SECRET, issuer="https://id.example", audience="dossier")
    viewer = strict.verify(strict.issue(sub="u", firm="f", role="admin"))
    assert viewer.role == "admin"
    assert refusal(ISSUER.issue(sub="u", firm="f", role="admin"), strict) in (
        "the token lacks the 'iss' claim",
        "the token lacks the 'aud' claim",
    )
    assert refusal(signed(claims(iss="https://evil.example", aud="dossier")), strict) == (
        "the token's issuer (iss) is not accepted"
    )
    assert refusal(signed(claims(iss="https://id.example", aud="other")), strict) == (
        "the token's audience (aud) is not accepted"
    )
    assert refusal(signed(claims(iss="https://id.example", aud=["dossier", "x"])), strict) == (
        "the token's audience (aud) is not accepted"
    )
    # Without an audience configured, a token meant for another audience is refused too.
    assert refusal(signed(claims(aud="other"))) == "the token's audience (aud) is not accepted"


# Typed claims -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "value", "message"),
    [
        ("sub", 42, "the token's sub claim must be a string, not a number"),
        ("sub", ["user-1"], "the token's sub claim must be a string, not a list"),
        ("firm", 7, "the token's firm claim must be a string, not a number"),
        ("firm", {"id": "a"}, "the token's firm claim must be a string, not an object"),
        ("firm", "   ", "the token's firm claim must not be empty"),
        ("firm", "f" * 201, "the token's firm claim is longer than 200 characters"),
        ("sub", "u" * 201, "the token's sub claim is longer than 200 characters"),
        ("role", ["owner"], "the token's role claim must be a string, not a list"),
        ("role", True, "the token's role claim must be a string, not a boolean"),
        ("role", "superuser", "the token's role 'superuser' is not one of owner, admin, "),
        ("name", 3, "the token's name claim must be a string, not a number"),
        ("name", "n" * 201, "the token's name claim is longer than 200 characters"),
        ("contact", 12, "the token's contact claim must be a string, not a number"),
    ],
)
def test_claims_are_type_checked_never_coerced(claim: str, value: Any, message: str) -> None:
    assert refusal(signed({**claims(), claim: value})).startswith(message)


def test_valid_claims_make_a_viewer() -> None:
    viewer = ISSUER.verify(signed(claims(role="Manager", name="")))
    assert (viewer.user_id, viewer.firm_id, viewer.role, viewer.name) == (
        "user-1",
        "firm-a",
        "manager",
        None,
    )
    contact = ISSUER.verify(signed(claims(role="contact", contact="contact-1")))
    assert contact.contact_id == "contact-1"
    assert "must name its contact" in refusal(signed(claims(role="contact")))


# dossier token ------------------------------------------------------------------------------


def test_the_token_command_issues_within_the_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSSIER_JWT_SECRET", SECRET)
    monkeypatch.setenv("DOSSIER_JWT_ISSUER", "https://id.example")
    monkeypatch.setenv("DOSSIER_JWT_MAX_LIFETIME", "3600")
    runner = CliRunner()
    result = runner.invoke(cli_app, ["token", "--sub", "agent-9", "--role", "agent"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    issuer = TokenIssuer(SECRET, issuer="https://id.example", max_lifetime=3600)
    assert issuer.verify(token).user_id == "agent-9"
    decoded = jwt.decode(token, SECRET, [ALGORITHM], issuer="https://id.example")
    assert decoded["exp"] - decoded["iat"] == 3600

    too_long = runner.invoke(cli_app, ["token", "--ttl", "3601"])
    assert too_long.exit_code == 2
    assert "maximum lifetime is 3600 s" in too_long.output

    monkeypatch.setenv("DOSSIER_JWT_SECRET", "short")
    weak = runner.invoke(cli_app, ["token"])
    assert weak.exit_code == 2
    assert "at least 32 bytes" in weak.output
