"""A cap on HTTP request bodies, as a small ASGI middleware (explorer.ui.app.launch adds it to Gradio's app).

Gradio reads a whole request into memory, and prints a malformed one into the log in full: a 400 MB POST to
/gradio_api/queue/join once took 1.8 GB and went into app.log. Here a body larger than its route allows gets a
413 before it is read: at once when its Content-Length says so, else as soon as the bytes that arrive pass it.

Gradio's upload route keeps what it receives for up to 25 minutes, with no session needed, and its own bound
(launch's max_file_size) is per file: 800 MB went in within 3.3 s. So its bytes are also counted per client
address and in all over that window (UploadQuota); past either bound a request gets 429 and a message.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque

from starlette.exceptions import HTTPException

API_BODY = 64 * 2**10  # an event's JSON: component values (files travel as references to uploads); ~1 KB
UPLOAD_BODY = 160 * 2**20  # /gradio_api/upload: files, up to launch()'s max_file_size of 150 MB
UPLOAD_PATHS = ("/gradio_api/upload", "/gradio_api/process_recording")  # both keep files on the server


class BodyTooLarge(HTTPException):
    """Raised while a body arrives; an HTTPException, so the route's body parsing passes it on as a 413."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body too large: at most {limit:,} bytes here")


class OverQuota(HTTPException):
    """Raised while an upload arrives past a quota; the message says which and when to try again."""

    def __init__(self, message: str):
        super().__init__(429, message)


class UploadQuota:
    """Bytes the upload route took within the last ``window`` seconds: at most ``per_client`` from one client
    address and ``total`` from everyone (what Gradio's cache can hold of them)."""

    def __init__(self, per_client: int, total: int, window: float):
        self.per_client, self.total, self.window = per_client, total, window
        self._log: deque = deque()  # (time, client, bytes), oldest first
        self._lock = threading.Lock()

    def _used(self, now: float) -> tuple[dict[str, int], int]:
        while self._log and now - self._log[0][0] > self.window:
            self._log.popleft()
        by_client: dict[str, int] = {}
        for _, client, size in self._log:
            by_client[client] = by_client.get(client, 0) + size
        return by_client, sum(by_client.values())

    def take(self, client: str, size: int, count: bool = True) -> None:
        """Count ``size`` bytes from ``client`` (``count`` False: only check), or raise OverQuota (counting
        nothing) when they do not fit."""
        with self._lock:
            now = time.time()
            by_client, total = self._used(now)
            minutes = f"{self.window / 60:g} min"
            if by_client.get(client, 0) + size > self.per_client:
                raise OverQuota(f"uploads from your address: at most {self.per_client / 2**20:,.0f} MB within "
                                f"{minutes} on this server; try again later")
            if total + size > self.total:
                raise OverQuota(f"this server takes at most {self.total / 2**20:,.0f} MB of uploads within {minutes} "
                                "from everyone, and has them now; try again in a few minutes")
            if count:
                self._log.append((now, client, size))


def client_of(scope, behind_proxy: bool = False) -> str:
    """The client's address: the first X-Forwarded-For address behind a proxy (a Space), else the socket's."""
    if behind_proxy:
        forwarded = dict(scope.get("headers") or []).get(b"x-forwarded-for", b"").decode("latin-1")
        if forwarded.split(",")[0].strip():
            return forwarded.split(",")[0].strip()
    return (scope.get("client") or ("?",))[0]


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes (``upload_limit`` on the upload route) with 413,
    and uploads past ``quota`` with 429."""

    def __init__(self, app, *, limit: int = API_BODY, upload_limit: int = UPLOAD_BODY,
                 upload_paths: tuple[str, ...] = UPLOAD_PATHS, quota: UploadQuota | None = None,
                 behind_proxy: bool = False):
        self.app, self.limit, self.upload_limit, self.upload_paths = app, limit, upload_limit, upload_paths
        self.quota, self.behind_proxy = quota, behind_proxy

    def is_upload(self, path: str) -> bool:
        return path.rstrip("/").endswith(self.upload_paths)

    def limit_for(self, path: str) -> int:
        return self.upload_limit if self.is_upload(path) else self.limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope.get("path", ""))
        quota = self.quota if self.is_upload(scope.get("path", "")) and scope.get("method") == "POST" else None
        client = client_of(scope, self.behind_proxy)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await reject(send, limit)
        if quota is not None and declared is not None:
            try:
                quota.take(client, int(declared), count=False)  # refused before a byte is read
            except OverQuota as e:
                return await reject(send, limit, 429, e.detail)
        received, started = 0, False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = len(message.get("body", b""))
                received += chunk
                if received > limit:  # a chunked body, or more bytes than Content-Length said
                    raise BodyTooLarge(limit)
                if quota is not None and chunk:
                    quota.take(client, chunk)
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
        except OverQuota as e:
            if not started:
                await reject(send, limit, 429, e.detail)


async def reject(send, limit: int, status: int = 413, detail: str = "") -> None:
    body = json.dumps({"detail": detail or f"request body too large: at most {limit:,} bytes here"}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
