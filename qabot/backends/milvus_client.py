"""Connecting to Milvus (a server, a cluster or a Milvus Lite *.db file) with one-line errors.

pymilvus is imported here, lazily, and nowhere in the core outside this package. The token is
passed to the client and never logged or shown: messages name the URI and the database only.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ConfigError, IndexUnreachable
from ..settings import Settings

CONNECT_TIMEOUT = 10.0  # seconds to wait for a server before saying it is down
CALL_TIMEOUT = 120.0  # seconds for one request (an insert batch, a load)
# pymilvus pings every 10 s even when idle; a gRPC server with default settings (Milvus Lite's)
# answers "too many pings" with GOAWAY after a few, failing whatever request is in flight (seen
# mid-build). Ping only during requests, and rarely.
GRPC_OPTIONS = {"grpc.keepalive_permit_without_calls": False, "grpc.keepalive_time_ms": 300_000}

T = TypeVar("T")


def where(settings: Settings) -> str:
    """The URI and database, for messages (never the token)."""
    db = f", database {settings.milvus_db!r}" if settings.milvus_db else ""
    return f"Milvus at {settings.milvus_uri}{db}"


def connect(settings: Settings) -> Any:
    """A MilvusClient for the settings, or a one-line error saying what to do."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise ConfigError(
            "QABOT_BACKEND=milvus needs the Milvus client: pip install 'qabot[milvus]' (or set QABOT_BACKEND=faiss)."
        ) from exc
    # pymilvus logs its own connection-recovery failures with tracebacks on stderr; qabot turns
    # every failure into one line itself, so only pymilvus's critical messages are let through.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    kwargs: dict[str, Any] = {"uri": settings.milvus_uri, "timeout": CONNECT_TIMEOUT}
    if not settings.milvus_uri.endswith(".db"):
        kwargs["grpc_options"] = dict(GRPC_OPTIONS)
    if settings.milvus_token is not None and settings.milvus_token.get_secret_value():
        kwargs["token"] = settings.milvus_token.get_secret_value()
    if settings.milvus_db:
        kwargs["db_name"] = settings.milvus_db
    try:
        client = MilvusClient(**kwargs)
    except Exception as exc:  # a server that answers but refuses says little more than "cannot connect"
        error = translate(settings, exc)
        if str(error).startswith("Cannot reach") and _listening(settings.milvus_uri):
            error = IndexUnreachable(
                f"{where(settings)} is up but refused the connection: check QABOT_MILVUS_TOKEN "
                "('user:password' or an API key) and QABOT_MILVUS_DB."
            )
        raise error from exc
    if settings.milvus_db:  # some servers (2.3) accept a database that does not exist and find nothing in it
        try:
            databases = client.list_databases()
        except Exception:  # noqa: BLE001 - a user allowed into one database may not list them
            databases = None
        if databases is not None and settings.milvus_db not in databases:
            with contextlib.suppress(Exception):
                client.close()
            raise IndexUnreachable(f"{where(settings)}: no such database; create it or fix QABOT_MILVUS_DB.")
    return client


def _listening(uri: str) -> bool:
    """Whether something accepts TCP connections at the URI's host and port (not for *.db files)."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(uri if "://" in uri else f"tcp://{uri}")
        host, port = parts.hostname, parts.port or 19530
    except ValueError:
        return False
    if not host or uri.endswith(".db"):
        return False
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def call(settings: Settings, fn: Callable[[], T]) -> T:
    """Run one client request; failures of the server or the credentials become IndexUnreachable."""
    try:
        return fn()
    except Exception as exc:  # pymilvus raises many kinds; each is turned into one line
        raise translate(settings, exc) from exc


def translate(settings: Settings, exc: BaseException) -> Exception:
    """The one-line error a pymilvus failure means for the user."""
    if isinstance(exc, ConfigError | IndexUnreachable):
        return exc
    text = _message(exc)
    low = text.lower()
    token = settings.milvus_token.get_secret_value() if settings.milvus_token is not None else ""
    if token:
        text = text.replace(token, "***")
    if any(w in low for w in ("auth", "credential", "password", "permission denied", "unauthenticated")):
        return IndexUnreachable(
            f"{where(settings)} refused the credentials: check QABOT_MILVUS_TOKEN ('user:password' or an API key)."
        )
    if "database" in low and ("not" in low or "exist" in low):
        return IndexUnreachable(f"{where(settings)} has no such database: create it or fix QABOT_MILVUS_DB.")
    if any(
        w in low
        for w in ("unavailable", "fail connecting", "connection refused", "deadline", "timed out", "timeout",
                  "connect", "open local milvus failed", "server unavailable")
    ):  # fmt: skip
        hint = (
            "one process at a time can open a Milvus Lite file: "
            "run `milvus-lite server` and point QABOT_MILVUS_URI at it"
            if settings.milvus_uri.endswith(".db") and "open local" in low
            else "start the server or fix QABOT_MILVUS_URI"
        )
        return IndexUnreachable(f"Cannot reach {where(settings)}: {hint}.")
    return IndexUnreachable(f"{where(settings)} failed: {text}; check the server, or set QABOT_BACKEND=faiss.")


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    text = " ".join(str(text).split())
    return re.sub(r"[<>]", "", text)[:300]
