"""The exception tree mapped once to HTTP status codes; every error body is JSON."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import (
    AuthenticationError,
    ConfigError,
    IndexMismatchError,
    IndexNotReadyError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QAError,
    UnsupportedFormatError,
)

log = logging.getLogger("qa.api")

HTTP_STATUS: dict[type[QAError], int] = {
    PayloadTooLargeError: 413,
    UnsupportedFormatError: 415,
    InvalidInputError: 422,
    NotFoundError: 404,
    IndexNotReadyError: 503,
    IndexMismatchError: 500,
    ConfigError: 500,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
}


def status_for(error: QAError) -> int:
    """The HTTP status of an error: its closest mapped ancestor, else 500."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one error body shape: {"error": {"code", "message"}}."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def qa_error_response(error: QAError) -> JSONResponse:
    """The response for one of our errors (also sent by routes outside FastAPI's handlers)."""
    status = status_for(error)
    if status >= 500:
        log.error("service error: %s", error)
    response = error_response(status, error.code, str(error))
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through error_response."""

    @app.exception_handler(QAError)
    async def on_qa_error(_: Request, exc: QAError) -> JSONResponse:
        return qa_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for item in exc.errors()[:5]:
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item["msg"])
        body_error = any(i.get("type") == "json_invalid" for i in exc.errors())
        code = "invalid_json" if body_error else "invalid_request"
        return error_response(422, code, "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        return error_response(
            exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail)
        )

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal_error", "the service failed to handle the request")
