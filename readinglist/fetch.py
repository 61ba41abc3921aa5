"""Fetching a day of Hugging Face Daily Papers over HTTP: the only code that touches the
network. What comes back is parsed by :mod:`readinglist.dailypapers`.

The HTTP client is the stdlib's ``urllib``, not ``huggingface_hub``: in the installed
``huggingface_hub`` (2.4) ``HfApi.list_daily_papers`` has no timeout (its shared client is
built with ``timeout=None``: a stalled server hangs the command), no retry (a 429 raises at
once) and returns ``PaperInfo`` objects, which hide a wrongly shaped response (a numeric
title is accepted; a JSON object fails with a bare ``TypeError``). Importing it also costs
0.35-0.5 s and 13 packages. Nothing here imports anything heavier than ``urllib`` and only
:func:`fetch_day` touches the network.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from readinglist import __version__, dailypapers
from readinglist.dailypapers import (
    FetchedDay,
    FetchedPaper,
    Unreachable,
    clean_text,
    load_items,
    parse_items,
)
from readinglist.errors import FetchError
from readinglist.model import plural
from readinglist.safetext import printable_line

DEFAULT_ENDPOINT = "https://huggingface.co"
API_PATH = "/api/daily_papers"
#: Longest ``Retry-After`` we wait for; a longer one ends the fetch with its advice.
MAX_RETRY_AFTER = 60.0
#: Statuses that mean "try again shortly": rate limited, or a gateway/server hiccup.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: A whole request (headers and body) must finish within this many times ``timeout``.
TOTAL_TIMEOUT_FACTOR = 6
#: Pages fetched for one day at most (a server ignoring ``p`` is caught sooner).
MAX_PAGES = 100
_CHUNK = 64 * 1024


Sleep = Callable[[float], None]


def fetch_day(
    day: date,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    timeout: float = 10,
    retries: int = 3,
    limit: int = 100,
    sleep: Sleep = time.sleep,
) -> FetchedDay:
    """Fetch one day's papers, page by page, until a page comes back short.

    ``endpoint`` defaults to ``HF_ENDPOINT`` (else huggingface.co) and ``token`` to
    ``HF_TOKEN``. ``timeout`` bounds connecting and each read (a whole request gets
    ``TOTAL_TIMEOUT_FACTOR`` times that); 429/502/503/504 are retried ``retries`` times,
    waiting as ``Retry-After`` asks (up to ``MAX_RETRY_AFTER``) or 1, 2, 4… seconds. Any
    failure is one :class:`FetchError` naming the day; an empty day is an empty result.
    """
    import urllib.parse  # only a fetch pays for the HTTP stack

    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    iso = day.isoformat()
    source = f"daily papers of {iso}"
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise Unreachable(source, "HF_HUB_OFFLINE is set; unset it to fetch from the network")
    base = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).strip().rstrip("/")
    try:
        host = urllib.parse.urlsplit(base).netloc
    except ValueError:
        host = ""
    if not re.match(r"^https?://", base, re.IGNORECASE) or not host:
        raise Unreachable(
            source,
            f"endpoint {printable_line(base)!r} is not an http(s) address; check HF_ENDPOINT",
        )
    token = token if token is not None else os.environ.get("HF_TOKEN", "").strip() or None
    client = _Client(host, timeout, retries, sleep, source, token)

    papers: dict[str, FetchedPaper] = {}
    warnings: list[str] = []
    for page in range(MAX_PAGES):
        query = urllib.parse.urlencode({"date": iso, "p": page, "limit": limit})
        items = load_items(client.get(f"{base}{API_PATH}?{query}"), source)
        parsed, notes = parse_items(items, source, first=page * limit + 1)
        warnings.extend(notes)
        new = [paper for paper in parsed if paper.id not in papers]
        papers.update((paper.id, paper) for paper in new)
        if len(items) < limit or (parsed and not new):
            break  # a short page ends the day; a page of repeats means ``p`` was ignored
    else:
        warnings.append(f"{source}: stopped after {MAX_PAGES} pages of {limit}")
    return FetchedDay(iso, source, tuple(papers.values()), tuple(warnings))


@dataclass(slots=True)
class _Client:
    """GET with timeouts, a size cap and polite retries; every failure a FetchError."""

    host: str
    timeout: float
    retries: int
    sleep: Sleep
    source: str
    token: str | None

    def get(self, url: str) -> bytes:
        import http.client
        import urllib.error

        attempt = 0
        while True:
            try:
                return self._once(url)
            except urllib.error.HTTPError as error:
                status = error.code
                detail = _server_message(error)
                retry_after = error.headers.get("Retry-After") if error.headers else None
                error.close()
            except urllib.error.URLError as error:
                raise Unreachable(self.source, self._network(error.reason)) from None
            except ValueError as error:  # http.client.InvalidURL, a bad IDNA host name
                raise Unreachable(
                    self.source, f"{printable_line(str(error))}; check HF_ENDPOINT"
                ) from None
            except (OSError, http.client.HTTPException) as error:
                raise Unreachable(self.source, self._network(error)) from None
            if status not in RETRY_STATUSES or attempt >= self.retries:
                server_side = status in (401, 403, 404, 429) or status >= 500
                error_type = Unreachable if server_side else FetchError
                raise error_type(self.source, self._http(status, detail, attempt + 1))
            wait = _retry_wait(retry_after, attempt)
            if wait > MAX_RETRY_AFTER:
                raise Unreachable(
                    self.source,
                    f"HTTP {status} from {self.host}: asked to wait {wait:.0f} s; try again later",
                )
            self.sleep(wait)
            attempt += 1

    def _once(self, url: str) -> bytes:
        import urllib.request

        request = urllib.request.Request(
            url,
            headers={"User-Agent": f"readinglist/{__version__}", "Accept": "application/json"},
        )
        if self.token:
            # Unredirected: a redirect to another host must not carry the token along.
            request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        deadline = time.monotonic() + self.timeout * TOTAL_TIMEOUT_FACTOR
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > dailypapers.MAX_RESPONSE_BYTES:
                raise FetchError(self.source, f"response of {int(length):,} bytes is too large")
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > dailypapers.MAX_RESPONSE_BYTES:
                    raise FetchError(
                        self.source,
                        f"response larger than {dailypapers.MAX_RESPONSE_BYTES:,} bytes",
                    )
                if time.monotonic() > deadline:
                    raise Unreachable(
                        self.source,
                        f"{self.host} took over {self.timeout * TOTAL_TIMEOUT_FACTOR:g} s "
                        "to answer; try again later",
                    )
                chunks.append(chunk)
        return b"".join(chunks)

    def _http(self, status: int, detail: str, attempts: int) -> str:
        import http.client

        reason = http.client.responses.get(status, "")
        what = f"HTTP {status} {reason}".strip() + f" from {self.host}"
        if detail:
            what += f" ({detail})"
        if attempts > 1:
            what += f" after {plural(attempts, 'attempt')}"
        if status in (401, 403):
            return f"{what}; check HF_TOKEN"
        if status == 404:
            return f"{what}; check HF_ENDPOINT"
        if status == 429 or status >= 500:
            return f"{what}; try again later"
        return what

    def _network(self, reason: object) -> str:
        import http.client
        import socket
        import ssl

        if isinstance(reason, socket.gaierror):
            return f"cannot resolve {self.host}; check your connection or HF_ENDPOINT"
        if isinstance(reason, TimeoutError):
            return f"no answer from {self.host} within {self.timeout:g} s; try again later"
        if isinstance(reason, ConnectionRefusedError):
            return f"{self.host} refused the connection; check HF_ENDPOINT"
        if isinstance(reason, ssl.SSLCertVerificationError):
            return (
                f"cannot verify the certificate of {self.host} ({reason.verify_message}); "
                "check the system's certificates or SSL_CERT_FILE"
            )
        if isinstance(reason, ConnectionError):
            return f"{self.host} closed the connection without an answer; try again later"
        if isinstance(reason, http.client.IncompleteRead):
            return f"{self.host} closed the connection mid-answer; try again later"
        text = printable_line(str(getattr(reason, "strerror", None) or reason))
        return f"cannot fetch from {self.host} ({text}); check your connection"


def _server_message(error: Any) -> str:
    """The server's own short explanation (``{"error": …}``), if it gave one."""
    import http.client

    try:
        body = error.read(4096)
    except (OSError, http.client.HTTPException):
        return ""
    try:
        message = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return clean_text(message)[:200] if isinstance(message, str) else ""


def _retry_wait(header: str | None, attempt: int) -> float:
    """Seconds to wait: ``Retry-After`` (seconds or an HTTP date), else 1, 2, 4… s."""
    from email.utils import parsedate_to_datetime

    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return min(MAX_RETRY_AFTER, float(2**attempt))
