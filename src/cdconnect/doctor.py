"""Deployment checks behind ``cdconnect doctor``: each returns a frozen result with a fix.

The checks only read: the database is opened without migrating, a missing SQLite file or key
file is not created, and the token endpoint is probed with a dummy refresh token that names no
grant (its ``invalid_grant`` answer proves the client credentials without spending anything).
"""

from __future__ import annotations

import ssl
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cdconnect.errors import CDConnectError, ConfigurationError, KeyRingError, StoreError
from cdconnect.manager.factory import KEY_FILE_NAME
from cdconnect.models import Clock, ConnectionStatus
from cdconnect.oauth import build_http_client, parse_error_body, refresh_token_request
from cdconnect.oauth.urls import describe_url
from cdconnect.settings import Settings
from cdconnect.vault import KeyRing, SqlStore, mask_url, read_key_file
from cdconnect.vault.engine import Database, open_database, translate_errors
from cdconnect.vault.migrate import SchemaStatus, current_revision, head_revision

#: Clock skew we tolerate silently, and beyond which signed webhooks (5-minute windows) break.
SKEW_WARN_SECONDS = 5.0
SKEW_FAIL_SECONDS = 300.0
_PROBE_REFRESH_TOKEN = SecretStr("cdconnect-doctor-probe-not-a-real-token")
_FIX_REACH = "check CDCONNECT_DATABASE_URL and that the database server is running and reachable"
_FIX_SETTINGS = (
    "set the variables named above (environment or --env-file); see docs/configuration.md"
)


class CheckStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: what was found and, for a problem, how to fix it."""

    name: str
    status: CheckStatus
    summary: str
    fix: str | None = None
    details: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "summary": self.summary,
            "fix": self.fix,
            "details": list(self.details),
        }


@dataclass(frozen=True, slots=True)
class DoctorReport:
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """No check failed (warnings are fine)."""
        return all(result.status is not CheckStatus.FAIL for result in self.results)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [result.as_json() for result in self.results]}


def run_doctor(load: Callable[[], Settings], *, clock: Clock = time.time) -> DoctorReport:
    """Run every check; ``load`` reads the settings (a failure there skips the rest)."""
    try:
        settings = load()
    except ConfigurationError as error:
        failed = CheckResult(
            "settings",
            CheckStatus.FAIL,
            "the settings are invalid",
            _FIX_SETTINGS,
            tuple(error.problems),
        )
        skipped = [
            CheckResult(name, CheckStatus.SKIP, "skipped: the settings are invalid")
            for name in ("file permissions", "key ring", "database", "endpoints")
        ]
        return DoctorReport((failed, *skipped))
    summary = f"issuer {settings.issuer}, database {mask_url(settings.effective_database_url)}"
    # Permissions first: opening an SQLite file tightens a lax mode, which would hide the finding.
    permissions = check_permissions(settings)
    ring_result, ring = check_key_ring(settings)
    return DoctorReport(
        (
            CheckResult("settings", CheckStatus.OK, summary),
            permissions,
            ring_result,
            *check_database(settings, ring),
            *check_endpoints(settings, clock),
        )
    )


# -- key ring -----------------------------------------------------------------------------------


def key_file_path(settings: Settings) -> Path:
    return settings.key_file or settings.data_dir / KEY_FILE_NAME


def check_key_ring(settings: Settings) -> tuple[CheckResult, KeyRing | None]:
    """The ring loads and round-trips a value; a generated key file is a warning."""
    name = "key ring"
    try:
        if settings.encryption_keys is not None:
            ring = KeyRing.parse(settings.encryption_keys.get_secret_value())
            source = "CDCONNECT_ENCRYPTION_KEYS"
        else:
            path = key_file_path(settings)
            if not path.exists():
                return CheckResult(
                    name,
                    CheckStatus.WARN,
                    f"no key yet: cdconnect will generate {path}",
                    "for production set CDCONNECT_ENCRYPTION_KEYS (see `cdconnect keys generate`) "
                    "and keep it apart from the data",
                ), None
            ring = read_key_file(path)
            source = f"the key file {path}"
        sealed = ring.encrypt(b"doctor", record_id="doctor", field="probe")
        ring.decrypt(sealed, record_id="doctor", field="probe")
    except KeyRingError as error:
        return CheckResult(
            name, CheckStatus.FAIL, str(error), "fix the key ring text or key file"
        ), None
    found = f"{len(ring.kids)} key(s) from {source}, encrypting with {ring.primary_kid!r}"
    if settings.encryption_keys is None:
        return CheckResult(
            name,
            CheckStatus.WARN,
            found + " (stored next to the data it protects)",
            "for production set CDCONNECT_ENCRYPTION_KEYS from a secret manager",
        ), ring
    return CheckResult(name, CheckStatus.OK, found), ring


# -- database -----------------------------------------------------------------------------------


def sqlite_file(database_url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases or a malformed URL)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if not url.drivername.startswith("sqlite") or not url.database:
        return None
    return Path(url.database).expanduser()


def check_database(settings: Settings, ring: KeyRing | None) -> list[CheckResult]:
    """Reachable, schema at head, and (with a key ring) a stored token decrypts."""
    url = settings.effective_database_url
    masked = mask_url(url)
    file = sqlite_file(url)
    if file is not None and not file.exists():
        return [
            CheckResult(
                "database",
                CheckStatus.WARN,
                f"{masked} does not exist yet; cdconnect creates it (mode 0600) on first use",
            )
        ]
    try:
        database = open_database(url)
    except StoreError as error:
        return [CheckResult("database", CheckStatus.FAIL, str(error), _FIX_REACH)]
    # A throw-away ring suffices for the schema check when the real one is unusable.
    store = SqlStore(database, ring or KeyRing.generate())
    try:
        status = schema_status(database)
        if not status.up_to_date:
            return [_behind(masked, status)]
        counts = store.count_by_status()
        found = ", ".join(f"{counts.get(s, 0)} {s.value}" for s in ConnectionStatus)
        result = CheckResult(
            "database", CheckStatus.OK, f"{masked} reachable, schema current; {found}"
        )
        return [result] if ring is None else [result, _check_stored_token(store)]
    except StoreError as error:
        return [CheckResult("database", CheckStatus.FAIL, str(error), _FIX_REACH)]
    finally:
        store.close()


def _behind(masked_url: str, status: SchemaStatus) -> CheckResult:
    return CheckResult(
        "database",
        CheckStatus.FAIL,
        f"{masked_url} is at schema revision {status.current!r}, expected {status.head!r}",
        "apply the migrations: any command that opens the vault does "
        "(e.g. `cdconnect connections list`)",
    )


def schema_status(database: Database) -> SchemaStatus:
    """Current and expected revision; ``current`` is None for a database never migrated.

    (``SqlStore.schema_status`` reads ``alembic_version`` directly and fails when the table does
    not exist yet, which is exactly the case the doctor must explain.)
    """
    with translate_errors(database, "schema check"), database.engine.connect() as conn:
        return SchemaStatus(current=current_revision(conn), head=head_revision())


def _check_stored_token(store: SqlStore) -> CheckResult:
    name = "stored tokens"
    page = store.list_connections(status=ConnectionStatus.ACTIVE, limit=1)
    if not page.items:
        return CheckResult(name, CheckStatus.OK, "no active connection to decrypt yet")
    external_id = page.items[0].external_id
    try:
        store.get_connection(external_id)
    except KeyRingError as error:
        return CheckResult(
            name,
            CheckStatus.FAIL,
            str(error),
            "put the key that encrypted the vault back into CDCONNECT_ENCRYPTION_KEYS",
        )
    return CheckResult(name, CheckStatus.OK, f"the key ring decrypts {external_id!r}'s tokens")


# -- file permissions -----------------------------------------------------------------------------


def check_permissions(settings: Settings) -> CheckResult:
    """Data directory 0700; SQLite file (and WAL/SHM) and key file 0600: nobody else may read."""
    wanted: list[tuple[Path, int]] = [(settings.data_dir, 0o700)]
    database = sqlite_file(settings.effective_database_url)
    if database is not None:
        wanted += [(Path(f"{database}{suffix}"), 0o600) for suffix in ("", "-wal", "-shm")]
    if settings.encryption_keys is None:
        wanted.append((key_file_path(settings), 0o600))
    problems: list[str] = []
    fixes: list[str] = []
    for path, mode in wanted:
        if not path.exists():
            continue
        actual = stat.S_IMODE(path.stat().st_mode)
        if actual & 0o077:
            problems.append(f"{path} is {actual:04o}, should be {mode:04o}")
            fixes.append(f"chmod {mode:o} {path}")
    if problems:
        return CheckResult(
            "file permissions",
            CheckStatus.FAIL,
            "other users can read cdconnect's files",
            "; ".join(fixes),
            tuple(problems),
        )
    return CheckResult("file permissions", CheckStatus.OK, "data directory and files are private")


# -- endpoints ------------------------------------------------------------------------------------


def check_endpoints(settings: Settings, clock: Clock) -> list[CheckResult]:
    """TLS + an HTTP answer from the authorize and token endpoints, credentials, clock skew."""
    try:
        http = build_http_client(settings)
    except ConfigurationError as error:
        return [
            CheckResult(
                "endpoints",
                CheckStatus.FAIL,
                str(error),
                "point CDCONNECT_CA_FILE / SSL_CERT_FILE at a readable PEM bundle",
            )
        ]
    with http:
        authorize = _probe(http, "authorize endpoint", "GET", settings.authorize_endpoint)
        request = refresh_token_request(
            settings.token_endpoint,
            settings.connect_credentials(),
            refresh_token=_PROBE_REFRESH_TOKEN,
        )
        sent_at = clock()
        token = _probe(
            http,
            "token endpoint",
            "POST",
            request.url,
            content=request.body(),
            headers=request.headers(),
        )
        received_at = clock()
    results = [
        _reachability("authorize endpoint", authorize),
        _reachability("token endpoint", token),
    ]
    if isinstance(token, httpx.Response):
        results.append(_credentials(token))
        results.append(check_clock(token.headers.get("date"), (sent_at + received_at) / 2))
    return results


def _probe(
    http: httpx.Client, name: str, method: str, url: str, **kwargs: Any
) -> httpx.Response | CheckResult:
    shown = describe_url(url)
    fix_connect = "check CDCONNECT_ISSUER (or the endpoint URL), DNS, firewall and proxy settings"
    try:
        return http.request(method, url, **kwargs)
    except httpx.ConnectError as error:
        if _certificate_rejected(error):
            return CheckResult(
                name,
                CheckStatus.FAIL,
                f"the TLS certificate of {shown} is not trusted",
                "for a test server such as the sandbox set CDCONNECT_CA_FILE to its CA file; "
                "otherwise check the system CA store or an intercepting proxy",
            )
        return CheckResult(
            name, CheckStatus.FAIL, f"cannot connect to {shown} ({error})", fix_connect
        )
    except httpx.TimeoutException:
        return CheckResult(name, CheckStatus.FAIL, f"{shown} did not answer in time", fix_connect)
    except (httpx.HTTPError, CDConnectError) as error:
        return CheckResult(name, CheckStatus.FAIL, f"{shown}: {type(error).__name__}", fix_connect)


def _certificate_rejected(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error)


def _reachability(name: str, outcome: httpx.Response | CheckResult) -> CheckResult:
    if isinstance(outcome, CheckResult):
        return outcome
    shown = describe_url(str(outcome.request.url))
    if outcome.status_code >= 500:
        return CheckResult(
            name, CheckStatus.WARN, f"{shown} answered HTTP {outcome.status_code} (server error)"
        )
    return CheckResult(
        name, CheckStatus.OK, f"{shown} answered over HTTPS (HTTP {outcome.status_code})"
    )


def _credentials(response: httpx.Response) -> CheckResult:
    name = "client credentials"
    body = parse_error_body(response.headers, response.content)
    error = body.error if body is not None else None
    if error == "invalid_grant":
        return CheckResult(
            name, CheckStatus.OK, "accepted (a dummy refresh token got invalid_grant)"
        )
    if error == "invalid_client":
        return CheckResult(
            name,
            CheckStatus.FAIL,
            "Central Dispatch rejected the client (invalid_client)",
            "check CDCONNECT_CLIENT_ID and CDCONNECT_CLIENT_SECRET",
        )
    if error == "unauthorized_client":
        return CheckResult(
            name,
            CheckStatus.FAIL,
            "this client may not use refresh tokens",
            "ask Central Dispatch to enable the authorization-code and "
            "refresh-token grants for CDCONNECT_CLIENT_ID",
        )
    return CheckResult(
        name,
        CheckStatus.WARN,
        f"unexpected answer to the probe: HTTP {response.status_code}"
        + (f" ({error})" if error else ""),
    )


def check_clock(date_header: str | None, local_time: float) -> CheckResult:
    """Compare our clock with the server's ``Date`` header (one-second resolution)."""
    name = "clock"
    if not date_header:
        return CheckResult(name, CheckStatus.WARN, "the token endpoint sent no Date header")
    try:
        server_time = parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return CheckResult(
            name, CheckStatus.WARN, "the token endpoint sent a malformed Date header"
        )
    skew = local_time - server_time
    direction = "ahead of" if skew > 0 else "behind"
    found = f"this host is {abs(skew):.0f} s {direction} the server"
    fix = "synchronise the clock with NTP (e.g. `timedatectl set-ntp true` or chrony)"
    if abs(skew) > SKEW_FAIL_SECONDS:
        return CheckResult(name, CheckStatus.FAIL, found, fix)
    if abs(skew) > SKEW_WARN_SECONDS + 1:  # +1: the Date header has one-second resolution
        return CheckResult(name, CheckStatus.WARN, found, fix)
    return CheckResult(name, CheckStatus.OK, f"within {SKEW_WARN_SECONDS:g} s of the server")
