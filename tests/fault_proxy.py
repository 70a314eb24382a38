"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the moto server (tests/aws_emulator.py).

Each request is read, matched against the rules (method and request target: path and query), and then passed on
to moto unchanged (Host header included: moto serves path-style S3 at any host), answered with a canned error,
stalled (the proxy reads `after` bytes of the body and then neither reads nor answers: a dead network),
dropped (the connection is reset), or passed on after a hook ran. One request per connection: every answer says
`Connection: close`, which urllib3 (under botocore) handles by opening a new connection for the next request.
Every request seen is logged.
"""

from __future__ import annotations

import http.client
import re
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

Match = Callable[[str, str], bool]  # (method, target) -> whether the rule applies
# How often the serving loop looks for shutdown(), which waits for it: by default every 0.5 s (CPython's
# socketserver.py, BaseServer.serve_forever), up to half a second at the end of every `with FaultProxy(...)`.
POLL_INTERVAL = 0.05


@dataclass
class Rule:
    """What to do with matching requests: `reply` (status and body), `stall` or `drop` after `after` body bytes,
    or `pass` them on; `hook` runs first (e.g. to change a local file at that moment of an upload)."""

    match: Match
    action: str = "reply"
    status: int = 500
    body: bytes = b""
    after: int = 0
    times: Optional[int] = None  # how many matching requests it applies to; None: all
    hook: Optional[Callable[[], None]] = None


def s3_error(code: str, message: str) -> bytes:
    """An S3 error document (S3's REST error responses: <Error><Code/><Message/></Error>)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>FAULT</RequestId></Error>").encode()


def part_number(target: str) -> int:
    """The partNumber of an UploadPart request target, else 0."""
    found = re.search(r"[?&]partNumber=(\d+)", target)
    return int(found.group(1)) if found else 0


def is_put_object(method: str, target: str) -> bool:
    """A PutObject or UploadPart (any PUT of a key, not of a bucket)."""
    return method == "PUT" and "/" in urlsplit(target).path.strip("/")


class FaultProxy:
    """The proxy; use as a context manager. `rules` are tried in order, the first that applies wins."""

    def __init__(self, upstream: str, rules: Optional[list[Rule]] = None) -> None:
        up = urlsplit(upstream)
        self.upstream = (up.hostname or "127.0.0.1", up.port or 80)
        self.rules = list(rules or [])
        self.log: list[tuple[str, str]] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._handle(self)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def requests(self, method: str, pattern: str = "") -> list[str]:
        """Targets of the logged requests with this method whose target matches `pattern`."""
        return [t for m, t in self.log if m == method and re.search(pattern, t)]

    def _rule(self, method: str, target: str) -> Optional[Rule]:
        with self._lock:
            for rule in self.rules:
                if (rule.times is None or rule.times > 0) and rule.match(method, target):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def _handle(self, h: socketserver.StreamRequestHandler) -> None:
        line = h.rfile.readline(65537).decode("latin-1")
        if not line.strip():
            return
        method, target, _ = line.split(" ", 2)
        headers = http.client.parse_headers(h.rfile)
        self.log.append((method, target))
        length = int(headers.get("Content-Length") or 0)
        if headers.get("Expect", "").lower() == "100-continue":
            h.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            h.wfile.flush()
        rule = self._rule(method, target)
        if rule is not None and rule.hook is not None:
            rule.hook()
        if rule is not None and rule.action == "pass":
            rule = None
        if rule is not None and rule.action in ("stall", "drop"):
            h.rfile.read(min(rule.after, length))
            if rule.action == "stall":
                self.released.wait()
            else:  # RST instead of FIN: the client sees a reset connection
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        body = h.rfile.read(length) if length else b""
        if rule is not None:
            self._answer(h, rule.status, [("Content-Type", "application/xml")], rule.body, method)
            return
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                if name.lower() not in ("expect", "connection"):
                    conn.putheader(name, value)
            conn.endheaders(body)
            answer = conn.getresponse()
            data = answer.read()
            self._answer(h, answer.status, answer.getheaders(), data, method)
        finally:
            conn.close()

    @staticmethod
    def _answer(h: socketserver.StreamRequestHandler, status: int, headers: list[tuple[str, str]], data: bytes,
                method: str) -> None:
        reason = http.client.responses.get(status, "Status")
        kept = [(k, v) for k, v in headers if k.lower() not in ("connection", "transfer-encoding", "content-length")]
        length = dict((k.lower(), v) for k, v in headers).get("content-length", "0") if method == "HEAD" else len(data)
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in kept), f"Content-Length: {length}",
                 "Connection: close"]
        h.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if method == "HEAD" else data))
        h.wfile.flush()
