"""The API key (``Authorization: Bearer``, compared in constant time) and the request body limit (413)."""

from __future__ import annotations

import hmac
import json

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rnnkit.serve.errors import ApiError

__all__ = ["BodyLimit", "bearer", "check_key"]

bearer = HTTPBearer(auto_error=False, description="the key named by `rnnkit serve --api-key-env NAME`")


def check_key(expected: str | None, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Raise a 401 :class:`ApiError` unless ``credentials`` carry the ``expected`` key (None: no key set).

    Example:
        >>> check_key(None, None)  # no key set: every request passes
        >>> check_key("s3cret", HTTPAuthorizationCredentials(scheme="Bearer", credentials="s3cret"))
        >>> check_key("s3cret", None)
        Traceback (most recent call last):
        ...
        rnnkit.serve.errors.ApiError: this server needs an API key: send the header Authorization: Bearer ...
    """
    if expected is None:
        return
    headers = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401, "this server needs an API key: send the header Authorization: Bearer <key>", headers=headers
        )
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(401, "wrong API key", headers=headers)


async def key_dependency(request: Request) -> None:
    """FastAPI dependency: the app's key (``app.state.config.api_key``) against the request's (no key set:
    the header is not even parsed)."""
    expected = request.app.state.config.api_key
    if expected is not None:
        check_key(expected, await bearer(request))


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` (declared or sent) is answered 413 before the
    app reads it; a smaller one is passed on whole."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(send)
                return
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        message = f"the request body is over {self.max_bytes} bytes (rnnkit serve --max-body-bytes)"
        payload = json.dumps(
            {"error": {"code": "body_too_large", "message": message, "field": None}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"connection", b"close"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
