"""The browser page: GET / and its few static files, served by the service itself (no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from qa.errors import NotFoundError

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Only these files are served: no directory listing, no path tricks.
STATIC_FILES: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

# The page loads nothing from elsewhere and builds passages with text nodes; the policy makes
# any injected markup inert all the same.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}

web_router = APIRouter(include_in_schema=False)


@web_router.get("/")
def page() -> FileResponse:
    """The question page, for people who use a browser rather than the JSON API."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


@web_router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """One of the page's own scripts or stylesheets; anything else is a 404."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFoundError(f"no static file named {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=HEADERS)
