"""API keys: writes need a write key when keys are configured; reads optionally need any key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from qa.errors import AuthenticationError, PermissionDeniedError

READ_ONLY_SUFFIX = ":read"
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
QUERY_POSTS = frozenset({"/v1/ask", "/v1/search", "/v1/chat/completions"})
READ_PATHS = frozenset({"/mcp"})  # every MCP tool only reads; DELETE ends a client session
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SCHEME = "apiKey"

# auto_error=False: the 401/403 and their JSON bodies stay ours (check_access)
bearer = HTTPBearer(
    scheme_name=SCHEME,
    description="An API key from QA_API_KEYS, sent as `Authorization: Bearer <key>`. Writes "
    "need a key without ':read'; reads need one only when QA_PROTECT_READS is set.",
    auto_error=False,
)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys, kept only as SHA-256 digests (equal length, so no length leak)."""

    write: tuple[bytes, ...]
    read: tuple[bytes, ...]

    @classmethod
    def parse(cls, raw: str) -> ApiKeys:
        """'k1,k2:read' -> k1 may read and write, k2 may only read."""
        write: list[bytes] = []
        read: list[bytes] = []
        for entry in (e.strip() for e in raw.split(",")):
            if entry.endswith(READ_ONLY_SUFFIX) and len(entry) > len(READ_ONLY_SUFFIX):
                read.append(_digest(entry[: -len(READ_ONLY_SUFFIX)]))
            elif entry:
                write.append(_digest(entry))
        if not write and not read:
            raise ValueError("QA_API_KEYS is set but holds no key")
        return cls(tuple(write), tuple(read))

    def scope_of(self, presented: str) -> str | None:
        """'write', 'read' or None; compares against every key in constant time."""
        candidate = _digest(presented)
        is_write = is_read = False
        for key in self.write:
            is_write |= hmac.compare_digest(candidate, key)
        for key in self.read:
            is_read |= hmac.compare_digest(candidate, key)
        return "write" if is_write else "read" if is_read else None


def is_write(method: str, path: str) -> bool:
    """Everything but GET/HEAD/OPTIONS, the three query POSTs and /mcp changes state."""
    return method not in SAFE_METHODS and path not in QUERY_POSTS and path not in READ_PATHS


def bearer_token(header: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header (parsed as HTTPBearer parses it)."""
    scheme, token = get_authorization_scheme_param(header)
    return token if scheme.lower() == "bearer" and token else None


def check_access(
    keys: ApiKeys | None, protect_reads: bool, method: str, path: str, token: str | None
) -> None:
    """Raise 401 (no or unknown key) or 403 (read-only key on a write) where a key is needed."""
    if keys is None or not needs_key(True, protect_reads, method, path):
        return
    write = is_write(method, path)
    if token is None:
        raise AuthenticationError("an API key is required: send 'Authorization: Bearer <key>'")
    scope = keys.scope_of(token)
    if scope is None:
        raise AuthenticationError("the API key is not valid")
    if write and scope != "write":
        raise PermissionDeniedError("this API key may only read")


async def require_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> None:
    """FastAPI dependency applied to every route: the key check for this request."""
    keys: ApiKeys | None = getattr(request.app.state, "api_keys", None)
    protect_reads = bool(getattr(request.app.state.settings, "protect_reads", False))
    token = credentials.credentials if credentials is not None else None
    check_access(keys, protect_reads, request.method, request.url.path, token)


def needs_key(keys: bool, protect_reads: bool, method: str, path: str) -> bool:
    """Whether a call must carry a key under this configuration (what OpenAPI declares)."""
    if not keys or path in OPEN_PATHS:
        return False
    return protect_reads or is_write(method, path)


def declare_security(schema: dict[str, Any], keys: bool, protect_reads: bool) -> dict[str, Any]:
    """Mark in an OpenAPI document which operations need the key, as configured.

    FastAPI lists the scheme on every operation because the key check depends on every route;
    the probes and (unless QA_PROTECT_READS) the reads are open, so their requirement goes.
    """
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if needs_key(keys, protect_reads, method.upper(), path):
                operation["security"] = [{SCHEME: []}]
                operation["responses"].setdefault("401", {"description": "No or unknown key"})
                if is_write(method.upper(), path):
                    operation["responses"].setdefault("403", {"description": "Read-only key"})
            else:
                operation.pop("security", None)
    return schema
