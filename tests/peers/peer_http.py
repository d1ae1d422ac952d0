"""Shared plumbing for keyport's Python test peers: a threaded HTTP server on 127.0.0.1
that hands every request to one function and announces its port.

A peer is started by the Rust tests as `python PEER.py CONFIG_JSON`; it prints
`PORT <n>` on stdout once it listens and serves until killed. `handle(request)` returns
`(status, headers, body)` where a dict or list body is sent as JSON. A peer with a clock
the tests move (`POST /_control`) hands its state to `serve`, which answers that route.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Headers(dict):
    """Request headers as sent (HTTP/1.1 names are case-insensitive; keyport's client
    sends them in lower case), with a case-insensitive `get`."""

    def get(self, name, default=None):
        for key, value in self.items():
            if key.lower() == name.lower():
                return value
        return default


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        split = urlsplit(path)
        self.route = split.path
        self.query = split.query
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body or b"null")

    def uri(self):
        """The absolute URI as the client addressed it (Host header + request target)."""
        return "http://" + self.headers.get("Host", "") + self.path


def serve(handle, clock=None):
    """Serves `handle`. A peer with a clock passes its state as `clock`, and its
    `POST /_control` is answered here (see `control`)."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path, Headers(self.headers.items()), body)
            with lock:
                try:
                    if clock is not None and request.route == "/_control":
                        status, headers, payload = control(request, clock)
                    else:
                        status, headers, payload = handle(request)
                except Exception as error:  # a peer bug must show up as a failure
                    status, headers, payload = 500, {}, {"error": "peer_bug", "detail": repr(error)}
            if isinstance(payload, (dict, list)):
                payload = json.dumps(payload).encode()
                headers = {"Content-Type": "application/json", **headers}
            elif isinstance(payload, str):
                payload = payload.encode()
            elif payload is None:
                payload = b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def log_message(self, fmt, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


def control(request, state):
    """`POST /_control` of a peer with a clock: `{"advance": seconds}` moves the clock
    (`state["offset"]`), every other key replaces that entry of `state`."""
    change = request.json()
    state["offset"] += change.pop("advance", 0)
    state.update(change)
    return 200, {}, {"ok": True}


def config():
    return json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
