"""Every error as JSON ``{"error": {"code", "message", "field"}}``: what went wrong, which field, what to do.

A malformed body is a 400 or a 422, never a 500; an unexpected exception is a 500 whose message names the
exception (no traceback leaves the server), and the server stays up.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "error_response", "field_name", "install_error_handlers"]

log = logging.getLogger("rnnkit.serve")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    422: "invalid_input",
    429: "queue_full",
    503: "not_ready",
    504: "timeout",
}


class ApiError(Exception):
    """An answer other than 200: ``status``, a machine-readable ``code``, a message saying what to do, the
    request ``field`` at fault (``inputs[2]``) and extra headers (``Retry-After``)."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
        self.code = code or CODES.get(status, "error")
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}}, status_code=status, headers=headers
    )


def field_name(location: tuple[Any, ...] | list[Any]) -> str | None:
    """A pydantic error location as the request field it names.

    Example:
        >>> field_name(("body", "inputs", 2))
        'inputs[2]'
        >>> field_name(("body",)) is None
        True
    """
    parts = [p for p in location if p not in ("body", "query", "path")]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or None


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as JSON in the one shape."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.field, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}; the API is under /v1 (see /openapi.json)"
        code = CODES.get(error.status_code, "error")
        return error_response(error.status_code, code, message, None, getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {"loc": (), "msg": "invalid request", "type": ""}
        if first.get("type") == "json_invalid":
            return error_response(400, "malformed_json", f"the body is not valid JSON: {first.get('msg')}")
        if tuple(first.get("loc", ())) == ("body",):  # not a JSON object (or not sent as JSON)
            return error_response(
                400,
                "bad_request",
                "the body must be a JSON object sent with "
                f"Content-Type: application/json ({first.get('msg')})",
            )
        field = field_name(first.get("loc", ()))
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        return error_response(422, "invalid_request", message, field)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, "internal", f"the server failed: {type(error).__name__}: {error}")
