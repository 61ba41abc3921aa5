"""A local stand-in for the Hugging Face Daily Papers API, so no test reaches the internet.

``DailyPapersServer`` is a stdlib ``http.server`` on 127.0.0.1 (a free port) in a thread. It
answers ``GET /api/daily_papers?date=…&p=…&limit=…`` with the items given to
:meth:`~DailyPapersServer.add_day`, paged like the real API, and can be told to answer the
next requests with a scripted failure instead (:class:`Reply`): a status with headers
(429 + ``Retry-After``), a body that is not JSON or not the right shape, a delay longer
than the client's timeout, or a dropped connection. Every request is logged.

Point the code under test at it with ``monkeypatch.setenv("HF_ENDPOINT", server.endpoint)``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PATH = "/api/daily_papers"
#: Page size when the request has no ``limit``, as documented for the real API.
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Reply:
    """What to answer one request with instead of the day's papers."""

    status: int = 200
    #: ``None`` serves the real page (useful with ``delay``).
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (longer than the client's timeout to test it).
    delay: float = 0.0
    #: Drop the connection without answering.
    close: bool = False


def rate_limited(retry_after: str | None = "3") -> Reply:
    """HTTP 429, with ``Retry-After`` when given."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(429, b'{"error":"rate limited"}', headers)


def status(code: int) -> Reply:
    return Reply(code, json.dumps({"error": f"status {code}"}).encode())


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


def paper_item(
    arxiv_id: str,
    title: str,
    summary: str = "We study a problem and report results.",
    *,
    authors: Sequence[str] = ("Ada Lovelace", "Alan Turing"),
    day: str = "2024-03-13",
    **paper_fields: Any,
) -> dict[str, Any]:
    """One item shaped like the API's, from its documented fields; extra fields go in ``paper``."""
    published = f"{day}T17:59:00.000Z"
    paper: dict[str, Any] = {
        "id": arxiv_id,
        "title": title,
        "summary": summary,
        "authors": [
            {"_id": f"a{n}", "name": name, "hidden": False} for n, name in enumerate(authors)
        ],
        "publishedAt": published,
        "submittedOnDailyAt": f"{day}T01:02:03.000Z",
        "upvotes": 12,
        "githubRepo": None,
        "githubStars": None,
        "projectPage": None,
        "ai_summary": "A short summary.",
        "ai_keywords": ["benchmark", "reasoning"],
    }
    paper.update(paper_fields)
    return {
        "paper": paper,
        "publishedAt": published,
        "title": title,
        "summary": summary,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": 2,
        "submittedBy": {"_id": "u1", "fullname": "AK", "name": "akhaliq", "type": "user"},
        "isAuthorParticipating": False,
    }


class DailyPapersServer:
    """The API on a local port; use as a context manager (or ``start``/``stop``)."""

    def __init__(self) -> None:
        self.days: dict[str, list[Any]] = {}
        self.requests: list[Request] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ setting up

    def add_day(self, day: str, items: Sequence[Any]) -> None:
        """Serve these items (any JSON values, to test bad shapes too) for ``date=day``."""
        self.days[day] = list(items)

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then normally again."""
        with self._lock:
            self._script.extend(replies)

    @property
    def endpoint(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def params(self, key: str) -> list[str | None]:
        """The value of one query parameter in every request so far, in order."""
        return [request.params.get(key) for request in self.requests]

    # ------------------------------------------------------------------ running

    def start(self) -> DailyPapersServer:
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cut short any scripted delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DailyPapersServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ answering

    def _next_reply(self, request: Request) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else None

    def _page(self, params: dict[str, str]) -> tuple[int, bytes]:
        day = params.get("date")
        if day is None:
            return 400, b'{"error":"date is required by this test server"}'
        try:
            page = int(params.get("p", "0"))
            limit = int(params.get("limit", str(DEFAULT_LIMIT)))
        except ValueError:
            return 400, b'{"error":"p and limit must be integers"}'
        items = self.days.get(day, [])
        return 200, json.dumps(items[page * limit : (page + 1) * limit]).encode()


class _Handler(BaseHTTPRequestHandler):
    api: DailyPapersServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {key: values[-1] for key, values in parse_qs(url.query).items()}
        request = Request(url.path, params, {k.lower(): v for k, v in self.headers.items()})
        reply = self.api._next_reply(request)
        if reply is not None and reply.delay and self.api._stopping.wait(reply.delay):
            return
        if reply is not None and reply.close:
            self.close_connection = True
            return  # nothing written: the client sees the connection closed
        if url.path != PATH:
            code, body, headers = 404, b'{"error":"Not Found"}', {}
        elif reply is None or reply.body is None:
            code, body = self.api._page(params)
            headers = reply.headers if reply is not None else {}
            code = reply.status if reply is not None and reply.status != 200 else code
        else:
            code, body, headers = reply.status, reply.body, reply.headers
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (a timeout test): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the requests through ``DailyPapersServer.requests`` instead."""


@contextmanager
def serving(days: dict[str, Sequence[Any]] | None = None) -> Iterator[DailyPapersServer]:
    """A started server with these days, stopped afterwards."""
    with DailyPapersServer() as server:
        for day, items in (days or {}).items():
            server.add_day(day, items)
        yield server
