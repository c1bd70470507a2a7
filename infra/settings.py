"""Settings from DOSSIER_* environment variables, read in this one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_VAR_DIR = Path("var")


class SettingsError(ValueError):
    """A DOSSIER_* variable has a value that cannot be used."""


@dataclass
class LiveOptions:
    """Limits of the live stream (per subscriber) and of the fan-out (per process)."""

    buffer: int = 1000
    """Entries read ahead for one subscriber that it has not taken yet."""
    stall_timeout: float = 10.0
    """How long a subscriber's full buffer may stay full before it is closed as too slow."""
    batch: int = 200
    """Rows read per query."""
    poll_interval: float = 1.0
    """How often the watcher re-reads the activity tracking position (safety net)."""
    heartbeat_interval: float = 15.0
    """Seconds between the server's graphql-transport-ws pings."""
    pong_timeout: float = 10.0
    """Seconds a client has to answer a server ping before its connection is closed."""
    init_timeout: float = 10.0
    """Seconds a new websocket has to send a valid connection_init (DOSSIER_WS_INIT_TIMEOUT)."""
    max_subscriptions_per_connection: int = 20

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LiveOptions:
        """DOSSIER_LIVE_BUFFER, _STALL_TIMEOUT, _BATCH, _POLL_INTERVAL, _HEARTBEAT_INTERVAL,
        _PONG_TIMEOUT, _MAX_SUBSCRIPTIONS and DOSSIER_WS_INIT_TIMEOUT (unset: the defaults)."""
        env = os.environ if environ is None else environ
        defaults = cls()
        values: dict[str, Any] = {}
        for name, variable in (
            ("buffer", "DOSSIER_LIVE_BUFFER"),
            ("stall_timeout", "DOSSIER_LIVE_STALL_TIMEOUT"),
            ("batch", "DOSSIER_LIVE_BATCH"),
            ("poll_interval", "DOSSIER_LIVE_POLL_INTERVAL"),
            ("heartbeat_interval", "DOSSIER_LIVE_HEARTBEAT_INTERVAL"),
            ("pong_timeout", "DOSSIER_LIVE_PONG_TIMEOUT"),
            ("init_timeout", "DOSSIER_WS_INIT_TIMEOUT"),
            ("max_subscriptions_per_connection", "DOSSIER_LIVE_MAX_SUBSCRIPTIONS"),
        ):
            raw = env.get(variable)
            if raw in (None, ""):
                continue
            kind = type(getattr(defaults, name))
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{variable} must be a number, not {raw!r}") from None
            if not value > 0 or value == float("inf"):
                raise SettingsError(f"{variable} must be positive and finite, not {raw!r}")
            values[name] = value
        return cls(**values)


def _flag(raw: str, variable: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{variable} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class MailOptions:
    """Outgoing mail (infra/mail): the SMTP server, or a directory of .eml files when no host
    is set, and the delivery worker's pace."""

    smtp_host: str | None = None
    """DOSSIER_SMTP_HOST; unset: mail is written to `mail_dir` as .eml files instead."""
    smtp_port: int | None = None
    """DOSSIER_SMTP_PORT; unset: 465 with DOSSIER_SMTP_TLS, else 587 with STARTTLS, else 25."""
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool | None = None
    """DOSSIER_SMTP_STARTTLS: true requires STARTTLS, false never uses it, unset: when offered."""
    smtp_tls: bool = False
    """DOSSIER_SMTP_TLS: implicit TLS from the first byte (port 465)."""
    smtp_timeout: float = 30.0
    mail_from: str = "Dossier <dossier@localhost>"
    """DOSSIER_MAIL_FROM: the From header and envelope sender."""
    mail_dir: Path = DEFAULT_VAR_DIR / "mail"
    """DOSSIER_MAIL_DIR: where the .eml files go without an SMTP host."""
    worker: bool = True
    """DOSSIER_MAIL_WORKER: run the delivery worker inside the server process."""
    poll_interval: float = 5.0
    retry_first: float = 30.0
    """Seconds before the second attempt; doubled after each failure up to `retry_max`."""
    retry_max: float = 3600.0
    max_attempts: int = 8
    """Attempts after which a message that keeps failing transiently fails for good."""
    lease: float = 300.0
    """Seconds a worker holds an email it is delivering before another may take it over."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailOptions:
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str) -> str | None:
            value = env.get(f"DOSSIER_{name}")
            return value if value not in (None, "") else None

        def positive(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"DOSSIER_{name} must be a number, not {raw!r}") from None
            if not value > 0 or value == float("inf"):
                raise SettingsError(f"DOSSIER_{name} must be positive and finite, not {raw!r}")
            return value

        def flag(name: str) -> bool | None:
            raw = get(name)
            return None if raw is None else _flag(raw, f"DOSSIER_{name}")

        port = get("SMTP_PORT")
        if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
            raise SettingsError(f"DOSSIER_SMTP_PORT must be a port number, not {port!r}")
        attempts = float(positive("MAIL_MAX_ATTEMPTS", defaults.max_attempts))
        if not attempts.is_integer():
            raise SettingsError("DOSSIER_MAIL_MAX_ATTEMPTS must be a whole number")
        tls = flag("SMTP_TLS")
        worker = flag("MAIL_WORKER")
        return cls(
            smtp_host=get("SMTP_HOST"),
            smtp_port=None if port is None else int(port),
            smtp_username=get("SMTP_USERNAME"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=flag("SMTP_STARTTLS"),
            smtp_tls=bool(tls),
            smtp_timeout=positive("SMTP_TIMEOUT", defaults.smtp_timeout),
            mail_from=get("MAIL_FROM") or defaults.mail_from,
            mail_dir=Path(get("MAIL_DIR") or defaults.mail_dir),
            worker=defaults.worker if worker is None else worker,
            poll_interval=positive("MAIL_POLL_INTERVAL", defaults.poll_interval),
            retry_first=positive("MAIL_RETRY_FIRST", defaults.retry_first),
            retry_max=positive("MAIL_RETRY_MAX", defaults.retry_max),
            max_attempts=int(attempts),
            lease=positive("MAIL_LEASE", defaults.lease),
        )


@dataclass(frozen=True)
class Settings:
    """Everything the process is configured with."""

    database_url: str = field(default_factory=lambda: f"sqlite:///{DEFAULT_VAR_DIR / 'dossier.db'}")
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: str | None = None
    jwt_issuer: str | None = None  # tokens carry and must carry this iss when set
    jwt_audience: str | None = None  # tokens carry and must carry this aud when set
    jwt_max_lifetime: int = 24 * 3600  # seconds; a token's exp - iat must not exceed it
    env: str = "production"  # development: GraphiQL, introspection, field suggestions
    run_projections: bool = True
    read_your_writes_timeout: float = 10.0
    poll_interval: float = 0.2
    readiness_max_lag: int = 1000
    max_query_depth: int = 12
    max_query_cost: int = 300_000  # schema.limits: each field 1, a connection times its first
    max_query_aliases: int = 50
    max_query_directives: int = 50
    max_query_tokens: int = 2_000
    rate_limit_cost: int = 1_000_000  # cost points per viewer per window; 0 turns it off
    rate_limit_window: float = 60.0  # seconds (a sliding window, in each process's memory)
    db_timeout: float = 5.0  # connect, statement, lock and pool waits (seconds)
    export_signing_key: str | None = None  # HMAC-SHA256 key for export manifests
    export_signing_key_file: str | None = None  # Ed25519 private key (PEM) instead of HMAC
    live: LiveOptions = field(default_factory=LiveOptions)
    cors_origins: tuple[str, ...] = ()  # browser origins allowed cross-origin (HTTP and websocket)
    metrics: bool = False  # serve /metrics on the API's own port
    metrics_port: int | None = None  # or serve it alone on this port (never public by accident)
    max_body_bytes: int = 1024 * 1024  # request bodies (and websocket messages) at most this
    response_cache_mb: float = 64.0  # the response cache's byte budget (0 turns it off)
    mail: MailOptions = field(default_factory=MailOptions)  # DOSSIER_SMTP_*, DOSSIER_MAIL_*
    blob_store: str = "directory"  # where document bytes live: directory or postgresql
    blob_dir: str = str(DEFAULT_VAR_DIR / "blobs")  # the directory store's root
    public_url: str | None = None  # the server's public base URL (portal invitation links)
    portal_invitation_ttl: int = 7 * 24 * 3600  # seconds a portal invitation link is valid

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str) -> str | None:
            value = env.get(f"DOSSIER_{name}")
            return value if value not in (None, "") else None

        def number(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                return float(raw)
            except ValueError:
                raise SettingsError(f"DOSSIER_{name} must be a number, not {raw!r}") from None

        mode = (get("ENV") or defaults.env).lower()
        if mode not in ("development", "production"):
            raise SettingsError(f"DOSSIER_ENV must be development or production, not {mode!r}")
        url = get("DATABASE_URL") or defaults.database_url
        if not url.startswith(("sqlite:", "postgresql:", "postgres:", "postgresql+psycopg:")):
            raise SettingsError("DOSSIER_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        return cls(
            database_url=url,
            host=get("HOST") or defaults.host,
            port=int(number("PORT", defaults.port)),
            jwt_secret=get("JWT_SECRET"),
            jwt_issuer=get("JWT_ISSUER"),
            jwt_audience=get("JWT_AUDIENCE"),
            jwt_max_lifetime=int(
                _positive("JWT_MAX_LIFETIME", number("JWT_MAX_LIFETIME", defaults.jwt_max_lifetime))
            ),
            env=mode,
            run_projections=(get("RUN_PROJECTIONS") or "true").lower() not in ("0", "false", "no"),
            read_your_writes_timeout=number("READ_YOUR_WRITES_TIMEOUT", 10.0),
            poll_interval=number("POLL_INTERVAL", defaults.poll_interval),
            readiness_max_lag=int(number("READINESS_MAX_LAG", defaults.readiness_max_lag)),
            max_query_depth=int(number("MAX_QUERY_DEPTH", defaults.max_query_depth)),
            max_query_cost=_count(
                "MAX_QUERY_COST", number("MAX_QUERY_COST", defaults.max_query_cost)
            ),
            max_query_aliases=_count(
                "MAX_QUERY_ALIASES", number("MAX_QUERY_ALIASES", defaults.max_query_aliases)
            ),
            max_query_directives=_count(
                "MAX_QUERY_DIRECTIVES",
                number("MAX_QUERY_DIRECTIVES", defaults.max_query_directives),
            ),
            max_query_tokens=_count(
                "MAX_QUERY_TOKENS", number("MAX_QUERY_TOKENS", defaults.max_query_tokens)
            ),
            rate_limit_cost=_count(
                "RATE_LIMIT_COST", number("RATE_LIMIT_COST", defaults.rate_limit_cost), zero=True
            ),
            rate_limit_window=_positive(
                "RATE_LIMIT_WINDOW", number("RATE_LIMIT_WINDOW", defaults.rate_limit_window)
            ),
            db_timeout=_positive("DB_TIMEOUT", number("DB_TIMEOUT", defaults.db_timeout)),
            export_signing_key=get("EXPORT_SIGNING_KEY"),
            export_signing_key_file=get("EXPORT_SIGNING_KEY_FILE"),
            live=LiveOptions.from_env(env),
            cors_origins=tuple(
                item.strip() for item in (get("CORS_ORIGINS") or "").split(",") if item.strip()
            ),
            metrics=(get("METRICS") or "false").lower() in ("1", "true", "yes"),
            metrics_port=int(number("METRICS_PORT", 0)) or None,
            max_body_bytes=int(
                _positive("MAX_BODY_BYTES", number("MAX_BODY_BYTES", defaults.max_body_bytes))
            ),
            response_cache_mb=_non_negative(
                "RESPONSE_CACHE_MB", number("RESPONSE_CACHE_MB", defaults.response_cache_mb)
            ),
            mail=MailOptions.from_env(env),
            blob_store=_blob_store(get("BLOB_STORE") or defaults.blob_store),
            blob_dir=get("BLOB_DIR") or defaults.blob_dir,
            public_url=get("PUBLIC_URL"),
            portal_invitation_ttl=int(
                _positive(
                    "PORTAL_INVITATION_TTL",
                    number("PORTAL_INVITATION_TTL", defaults.portal_invitation_ttl),
                )
            ),
        )


def _positive(name: str, value: float) -> float:
    if value <= 0:
        raise SettingsError(f"DOSSIER_{name} must be positive, not {value!r}")
    return value


def _non_negative(name: str, value: float) -> float:
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"DOSSIER_{name} must be a non-negative number, not {value!r}")
    return value


def _count(name: str, value: float, *, zero: bool = False) -> int:
    """A whole number, positive (or zero when allowed)."""
    if not float(value).is_integer() or value < 0 or (value == 0 and not zero):
        raise SettingsError(
            f"DOSSIER_{name} must be a {'non-negative' if zero else 'positive'} "
            f"whole number, not {value!r}"
        )
    return int(value)


def _blob_store(value: str) -> str:
    kind = value.strip().lower()
    if kind not in ("directory", "postgresql"):
        raise SettingsError(f"DOSSIER_BLOB_STORE must be directory or postgresql, not {value!r}")
    return kind
