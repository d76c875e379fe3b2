"""API keys: writes need a write key when keys are configured; reads optionally need any key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request

from qa.errors import AuthenticationError, PermissionDeniedError

READ_ONLY_SUFFIX = ":read"
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
QUERY_POSTS = frozenset({"/v1/ask", "/v1/search", "/v1/chat/completions"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
    """Everything but GET/HEAD/OPTIONS and the three query POSTs changes state."""
    return method not in SAFE_METHODS and path not in QUERY_POSTS


def bearer_token(header: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def check_access(
    keys: ApiKeys | None, protect_reads: bool, method: str, path: str, auth: str | None
) -> None:
    """Raise 401 (no or unknown key) or 403 (read-only key on a write) where a key is needed."""
    if keys is None or path in OPEN_PATHS:
        return
    write = is_write(method, path)
    if not write and not protect_reads:
        return
    token = bearer_token(auth)
    if token is None:
        raise AuthenticationError("an API key is required: send 'Authorization: Bearer <key>'")
    scope = keys.scope_of(token)
    if scope is None:
        raise AuthenticationError("the API key is not valid")
    if write and scope != "write":
        raise PermissionDeniedError("this API key may only read")


async def require_access(request: Request) -> None:
    """FastAPI dependency applied to every route: the key check for this request."""
    keys: ApiKeys | None = getattr(request.app.state, "api_keys", None)
    protect_reads = bool(getattr(request.app.state.settings, "protect_reads", False))
    check_access(
        keys,
        protect_reads,
        request.method,
        request.url.path,
        request.headers.get("authorization"),
    )
