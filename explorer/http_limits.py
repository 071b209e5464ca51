"""A cap on HTTP request bodies, as a small ASGI middleware (explorer.ui.app.launch adds it to Gradio's app).

Gradio reads a whole request into memory, and prints a malformed one into the log in full: a 400 MB POST to
/gradio_api/queue/join once took 1.8 GB and went into app.log. Here a body larger than its route allows gets a
413 before it is read: at once when its Content-Length says so, else as soon as the bytes that arrive pass it.
"""
from __future__ import annotations

import json

from starlette.exceptions import HTTPException

API_BODY = 64 * 2**10  # an event's JSON: component values (files travel as references to uploads); ~1 KB
UPLOAD_BODY = 160 * 2**20  # /gradio_api/upload: files, up to launch()'s max_file_size of 150 MB
UPLOAD_PATHS = ("/gradio_api/upload",)


class BodyTooLarge(HTTPException):
    """Raised while a body arrives; an HTTPException, so the route's body parsing passes it on as a 413."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body too large: at most {limit:,} bytes here")


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes (``upload_limit`` on the upload route) with 413."""

    def __init__(self, app, *, limit: int = API_BODY, upload_limit: int = UPLOAD_BODY,
                 upload_paths: tuple[str, ...] = UPLOAD_PATHS):
        self.app, self.limit, self.upload_limit, self.upload_paths = app, limit, upload_limit, upload_paths

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path.rstrip("/").endswith(self.upload_paths) else self.limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await reject(send, limit)
        received, started = 0, False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # a chunked body, or more bytes than Content-Length said
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await reject(send, limit)


async def reject(send, limit: int) -> None:
    body = json.dumps({"detail": f"request body too large: at most {limit:,} bytes here"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
