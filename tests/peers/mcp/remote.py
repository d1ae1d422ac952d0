"""A remote MCP server for keyport's tests: the official MCP Python SDK (`mcp`, pinned in
tests/peers/requirements-v3.txt) serving Streamable HTTP as an OAuth resource server, with
the SDK's own auth support (MCPServer `token_verifier` + `AuthSettings`): RFC 9728 protected
resource metadata, 401 with `WWW-Authenticate: Bearer ... resource_metadata=...`. Tokens are
checked by RFC 7662 introspection at the authorization server (tests/peers/oidc/server.js
with an introspection client) and must be issued for this server's audience.

    python remote.py --issuer http://127.0.0.1:AS --introspect-client-id rs \
        --introspect-client-secret rs-secret [--scopes mcp:tools] [--port 0] \
        [--no-prm] [--foreign-issuer URL] [--audience URL] [--stateless] [--json-response]

Binds 127.0.0.1 only. Prints exactly one JSON line on stdout when ready:
    {"url": "http://127.0.0.1:PORT/mcp", "port": PORT, "issuer": ..., "prm": URL|null, ...}
Everything else goes to stderr. Runs until SIGTERM/SIGINT. See README.md beside this file.
"""

import argparse
import asyncio
import hashlib
import json
import logging
import signal
import socket
import sys
import time
import warnings
from collections import Counter

import httpx2
import uvicorn
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import UrlElicitationRequiredError
from mcp.types import ElicitRequestURLParams

log = logging.getLogger("remote-mcp")

ADMIN_SCOPE = "mcp:admin"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="remote MCP server (resource server) for keyport tests")
    p.add_argument("--issuer", required=True, help="the authorization server's issuer URL")
    p.add_argument("--introspect-client-id", required=True)
    p.add_argument("--introspect-client-secret", required=True)
    p.add_argument(
        "--introspection-endpoint",
        help="default: the AS metadata's introspection_endpoint (else ISSUER/token/introspection)",
    )
    p.add_argument(
        "--scopes", default="mcp:tools", help="space- or comma-separated scopes every request needs"
    )
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--no-prm", action="store_true", help="serve no protected resource metadata")
    p.add_argument("--foreign-issuer", help="the PRM lists this authorization server instead")
    p.add_argument("--audience", help="the audience tokens must carry (default: this server's /mcp URL)")
    p.add_argument("--stateless", action="store_true", help="Streamable HTTP without sessions")
    p.add_argument("--json-response", action="store_true", help="JSON answers instead of SSE streams")
    return p.parse_args(argv)


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class Stats:
    def __init__(self):
        self.requests = 0
        self.by_method = Counter()  # HTTP method of requests to /mcp
        self.status = Counter()
        self.unauthorized = 0  # 401s
        self.forbidden = 0  # 403s
        self.requests_without_token = 0
        self.introspections = 0
        self.tokens_refused = Counter()  # why: inactive, audience, introspection_error
        self.tool_calls = Counter()  # tools actually run, by name
        self.step_up = 0  # admin_task refused for scope (403 insufficient_scope)
        self.fingerprints = []  # distinct accepted tokens, sha256 prefix, first-seen order
        self.last_audience = None

    def accepted(self, token: str):
        fp = fingerprint(token)
        if fp not in self.fingerprints:
            self.fingerprints.append(fp)

    def as_json(self):
        return {
            "requests": self.requests,
            "by_method": dict(self.by_method),
            "status": {str(k): v for k, v in self.status.items()},
            "unauthorized": self.unauthorized,
            "forbidden": self.forbidden,
            "requests_without_token": self.requests_without_token,
            "introspections": self.introspections,
            "tokens_refused": dict(self.tokens_refused),
            "tool_calls": dict(self.tool_calls),
            "step_up": self.step_up,
            "tokens_accepted": len(self.fingerprints),
            "token_fingerprints": list(self.fingerprints),
        }


STATS = Stats()


class IntrospectionVerifier:
    """RFC 7662: ask the AS whether the token is active, then demand our audience."""

    def __init__(self, endpoint, client_id, client_secret, audience):
        self.endpoint = endpoint
        self.auth = (client_id, client_secret)
        self.audience = audience
        self.http = httpx2.AsyncClient(timeout=10)

    async def verify_token(self, token: str) -> AccessToken | None:
        STATS.introspections += 1
        try:
            resp = await self.http.post(
                self.endpoint, data={"token": token, "token_type_hint": "access_token"}, auth=self.auth
            )
            data = resp.json()
        except Exception as e:  # noqa: BLE001 - the token is refused, the reason logged
            log.warning("introspection failed: %s", e)
            STATS.tokens_refused["introspection_error"] += 1
            return None
        if resp.status_code != 200 or not data.get("active"):
            log.info("token %s inactive (%s)", fingerprint(token), resp.status_code)
            STATS.tokens_refused["inactive"] += 1
            return None
        aud = data.get("aud")
        auds = aud if isinstance(aud, list) else ([aud] if aud else [])
        if self.audience not in auds:
            log.info("token %s for audience %r, not %r", fingerprint(token), aud, self.audience)
            STATS.tokens_refused["audience"] += 1
            return None
        exp = data.get("exp")
        if exp is not None and exp < time.time():
            STATS.tokens_refused["expired"] += 1
            return None
        STATS.accepted(token)
        return AccessToken(
            token=token,
            client_id=data.get("client_id") or "unknown",
            scopes=(data.get("scope") or "").split(),
            expires_at=exp,
            resource=self.audience,
            subject=data.get("sub"),
            claims={"iss": data.get("iss")} if data.get("iss") else None,
        )


# ------------------------------------------------------------------ ASGI pieces
class CountingMiddleware:
    """Outermost: counts every request and the status it got."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == "/__stats":
            return await self.app(scope, receive, send)
        STATS.requests += 1
        if scope["path"] == "/mcp":
            STATS.by_method[scope["method"]] += 1
        headers = dict(scope.get("headers") or [])
        if not headers.get(b"authorization", b"").lower().startswith(b"bearer "):
            STATS.requests_without_token += 1

        async def counting_send(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                STATS.status[status] += 1
                if status == 401:
                    STATS.unauthorized += 1
                elif status == 403:
                    STATS.forbidden += 1
            await send(message)

        return await self.app(scope, receive, counting_send)


class StepUp:
    """Per-tool scopes, which the SDK lacks: a tools/call of a tool that needs a scope the
    token does not carry is answered 403 insufficient_scope with the scopes to ask for, as
    the MCP authorization spec's step-up flow has it. Sits between the SDK's bearer
    authentication (scope["user"] is set) and its RequireAuthMiddleware."""

    def __init__(self, app, tool_scopes, base_scopes, resource_metadata_url):
        self.app = app
        self.tool_scopes = tool_scopes  # tool name -> extra scopes it needs
        self.base_scopes = base_scopes
        self.resource_metadata_url = resource_metadata_url

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if scope["type"] != "http" or scope["method"] != "POST" or not isinstance(user, AuthenticatedUser):
            return await self.app(scope, receive, send)
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        needed = self._needed(body)
        missing = [s for s in needed if s not in user.scopes]
        if missing:
            STATS.step_up += 1
            want = " ".join(dict.fromkeys([*self.base_scopes, *needed]))
            parts = [
                'error="insufficient_scope"',
                f'scope="{want}"',
                f'error_description="this tool needs {" ".join(missing)}"',
            ]
            if self.resource_metadata_url:
                parts.append(f'resource_metadata="{self.resource_metadata_url}"')
            payload = json.dumps(
                {"error": "insufficient_scope", "error_description": f"this tool needs {' '.join(missing)}"}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                        (b"www-authenticate", ("Bearer " + ", ".join(parts)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return None
        return await self.app(scope, replay, send)

    def _needed(self, body):
        try:
            msg = json.loads(body)
        except ValueError:
            return []
        msgs = msg if isinstance(msg, list) else [msg]
        needed = []
        for m in msgs:
            if isinstance(m, dict) and m.get("method") == "tools/call":
                name = (m.get("params") or {}).get("name")
                needed.extend(self.tool_scopes.get(name, []))
        return list(dict.fromkeys(needed))


# ------------------------------------------------------------------ the server
class AddResult(BaseModel):
    a: int
    b: int
    sum: int


def build_server(args, own_url, introspection_endpoint):
    audience = args.audience or own_url
    scopes = [s for s in args.scopes.replace(",", " ").split() if s]
    verifier = IntrospectionVerifier(
        introspection_endpoint, args.introspect_client_id, args.introspect_client_secret, audience
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auth = AuthSettings(
            issuer_url=args.foreign_issuer or args.issuer,
            resource_server_url=None if args.no_prm else own_url,
            required_scopes=scopes,
            # the verifier checks the audience itself (so --audience can demand another)
            validate_token_resource=False,
        )
    server = MCPServer(name="keyport-remote-peer", version="1.0.0", token_verifier=verifier, auth=auth)

    @server.tool(description="Echo the text back.")
    def echo(text: str) -> str:
        STATS.tool_calls["echo"] += 1
        return text

    @server.tool(description="Add two integers; the result is structured.")
    def add(a: int, b: int) -> AddResult:
        STATS.tool_calls["add"] += 1
        return AddResult(a=a, b=b, sum=a + b)

    @server.tool(description="Send COUNT log messages and progress notifications, then answer.")
    async def notify(count: int, ctx: Context) -> str:
        STATS.tool_calls["notify"] += 1
        for i in range(1, count + 1):
            await ctx.info(f"notification {i} of {count}")
            await ctx.report_progress(i, count, f"step {i}")
            await asyncio.sleep(0.05)
        return f"sent {count}"

    @server.tool(description=f"An admin task; needs the {ADMIN_SCOPE} scope (step-up).")
    def admin_task() -> str:
        STATS.tool_calls["admin_task"] += 1
        return "admin task done"

    @server.tool(description="Needs a third-party connection first: answers JSON-RPC -32042 (URL elicitation).")
    def connect_required(service: str = "github") -> str:
        STATS.tool_calls["connect_required"] += 1
        origin = own_url.removesuffix("/mcp")
        raise UrlElicitationRequiredError(
            [
                ElicitRequestURLParams(
                    message=f"Connect {service} first",
                    url=f"{origin}/connect/{service}",
                    elicitation_id=f"connect-{service}",
                )
            ]
        )

    @server.custom_route("/__stats", methods=["GET"])
    async def stats(_request: Request):
        return JSONResponse(STATS.as_json())

    app = server.streamable_http_app(stateless_http=args.stateless, json_response=args.json_response)
    prm_url = None if args.no_prm else own_url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    for route in app.routes:
        if isinstance(route, Route) and route.path == "/mcp":
            route.app = StepUp(route.app, {"admin_task": [ADMIN_SCOPE]}, scopes, prm_url)
    return CountingMiddleware(app), audience, prm_url, scopes


def discover_introspection(issuer):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        try:
            r = httpx2.get(issuer.rstrip("/") + path, timeout=10)
            if r.status_code == 200 and r.json().get("introspection_endpoint"):
                return r.json()["introspection_endpoint"]
        except Exception as e:  # noqa: BLE001
            log.warning("AS metadata %s: %s", path, e)
    return issuer.rstrip("/") + "/token/introspection"


async def serve(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", args.port))
    except OSError as e:
        print(f"remote.py: cannot listen on 127.0.0.1:{args.port}: {e}", file=sys.stderr)
        sys.exit(1)
    sock.listen(128)
    port = sock.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    own_url = f"{origin}/mcp"
    endpoint = args.introspection_endpoint or discover_introspection(args.issuer)
    app, audience, prm_url, scopes = build_server(args, own_url, endpoint)

    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # ours below
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))

    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            sys.exit(1)
        await asyncio.sleep(0.02)
    ready = {
        "url": own_url,
        "port": port,
        "issuer": args.issuer,
        "prm_issuer": None if args.no_prm else (args.foreign_issuer or args.issuer),
        "prm": prm_url,
        "audience": audience,
        "scopes": scopes,
        "introspection_endpoint": endpoint,
        "stats": f"{origin}/__stats",
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    await task


def main():
    args = parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="remote.py %(levelname)s %(name)s: %(message)s")
    # ctx.info (notifications/message) is deprecated for the 2026-07-28 revision; this
    # server speaks the handshake revisions, where it is the way to log to the client.
    warnings.filterwarnings("ignore", message="The logging capability is deprecated")
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
