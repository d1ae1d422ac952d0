"""Proof that the remote-MCP peers work, without keyport: the oidc peer (registration,
one resource, an introspection client), remote.py, a native public client registered by
DCR, a login in Chromium (drive.js) with PKCE S256 and `resource` on both legs, the SDK
client over Streamable HTTP with that token, the audience refusal, step-up 403, the fault
switches, bridge_client.py through a fixed-token stdio bridge, and naive_hosts.py losing
the grant to reuse detection.

    target/test-venv-v3/bin/python tests/peers/mcp/selftest.py

Needs `npm ci` in tests/peers/oidc, /usr/bin/chromium and the venv of
tests/peers/requirements-v3.txt. Prints `ok - …` / `FAIL - …` per check and
`N passed, N failed` last; exit 1 if any check failed.
"""

import base64
import hashlib
import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.dirname(HERE)
OIDC = os.path.join(PEERS, "oidc")
PY = sys.executable

PASSED = []
FAILED = []
PROCS = []


def check(label, cond, detail=""):
    if cond:
        PASSED.append(label)
        print(f"ok - {label}", flush=True)
    else:
        FAILED.append(label)
        print(f"FAIL - {label}: {detail}", flush=True)
    return cond


def start(cmd, env=None, name="peer"):
    """Start a peer; return (process, its one JSON readiness line)."""
    errlog = open(f"/tmp/keyport-mcp-selftest-{name}.log", "w")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog, env=env, text=True)
    PROCS.append(proc)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"{name} printed nothing (see {errlog.name})")
    return proc, json.loads(line)


def stop_all():
    for proc in PROCS:
        if proc.poll() is None:
            proc.terminate()
    for proc in PROCS:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


class Callback(http.server.BaseHTTPRequestHandler):
    """keyport's loopback callback stand-in: a page that loads."""

    def do_GET(self):  # noqa: N802
        body = b"<html><body><p>callback received</p></body></html>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def login(meta, client_id, redirect_uri, resource, scope, expect_error=False):
    """Authorize in Chromium; return (the callback URL's query, verifier)."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resource,
        "prompt": "consent",
    }
    url = meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(query)
    out = subprocess.run(
        ["node", os.path.join(OIDC, "drive.js"), url, "--timeout", "40"],
        capture_output=True,
        text=True,
        timeout=70,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"drive.js failed: {out.stderr}")
    final = json.loads(out.stdout)["finalUrl"]
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(final).query))
    assert params.get("state") == state, params
    return params, verifier


def token(meta, form):
    r = httpx2.post(meta["token_endpoint"], data=form, timeout=20)
    return r.status_code, r.json()


def parse_www_authenticate(value):
    out = {}
    if not value or not value.lower().startswith("bearer"):
        return out
    import re

    for k, v in re.findall(r'(\w+)="([^"]*)"', value):
        out[k] = v
    return out


async def mcp_session_checks(url, access_token):
    """The SDK's Streamable HTTP client with the bearer: echo, add, notify."""
    logs, progress = [], []

    async def on_log(params):
        logs.append(params.data)

    async def on_progress(p, total, message):
        progress.append((p, total, message))

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {access_token}"}, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, logging_callback=on_log) as session,
    ):
        init = await session.initialize()
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        echo = await session.call_tool("echo", {"text": "hello remote"})
        add = await session.call_tool("add", {"a": 2, "b": 40})
        notify = await session.call_tool("notify", {"count": 3}, progress_callback=on_progress)
        elicit_error = None
        try:
            await session.call_tool("connect_required", {"service": "github"})
        except MCPError as e:
            elicit_error = e
        admin_error = None
        try:
            await session.call_tool("admin_task", {})
        except Exception as e:  # noqa: BLE001 - the SDK client surfaces the 403 as an error
            admin_error = e
    return {
        "server": init.server_info.name,
        "tools": tools,
        "echo": echo,
        "add": add,
        "notify": notify,
        "logs": logs,
        "progress": progress,
        "elicit_error": elicit_error,
        "admin_error": admin_error,
    }


def main():
    t0 = time.time()
    # ---------------------------------------------------------------- the AS
    as_env = dict(os.environ)
    as_env["OIDC_PEER_CONFIG"] = json.dumps(
        {
            "registration": True,
            "introspection_client_id": "mcp-rs",
            "introspection_client_secret": "mcp-rs-secret",
            "access_ttl": 60,
        }
    )
    _, as_ready = start(["node", os.path.join(OIDC, "server.js")], env=as_env, name="oidc")
    issuer = as_ready["issuer"]
    check("AS readiness line names the registration and introspection endpoints",
          as_ready.get("registration_endpoint") == issuer + "/reg"
          and as_ready.get("introspection_endpoint") == issuer + "/token/introspection", as_ready)

    # ---------------------------------------------------------------- the RS
    rs_cmd = [PY, os.path.join(HERE, "remote.py"), "--issuer", issuer,
              "--introspect-client-id", "mcp-rs", "--introspect-client-secret", "mcp-rs-secret",
              "--scopes", "mcp:tools"]
    _, rs = start(rs_cmd, name="remote")
    mcp_url = rs["url"]
    stats_url = rs["stats"]
    r = httpx2.post(issuer + "/__config", json={"resource": mcp_url, "resource_scopes": ["mcp:tools", "mcp:admin"]})
    check("AS takes the resource at run time (/__config)", r.status_code == 200 and r.json()["resource"] == mcp_url, r.text)

    # ---------------------------------------------------------------- discovery, as a client does it
    r = httpx2.post(mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={"accept": "application/json, text/event-stream"})
    www = parse_www_authenticate(r.headers.get("www-authenticate"))
    check("RS: 401 with WWW-Authenticate resource_metadata", r.status_code == 401 and "resource_metadata" in www,
          f"{r.status_code} {r.headers}")
    prm = httpx2.get(www.get("resource_metadata", rs["prm"])).json()
    check("PRM (RFC 9728): resource = the MCP URL, authorization_servers = [issuer], scopes_supported",
          prm.get("resource") == mcp_url and prm.get("authorization_servers") == [issuer]
          and prm.get("scopes_supported") == ["mcp:tools"], prm)
    meta = httpx2.get(issuer + "/.well-known/oauth-authorization-server").json()
    oidc_meta = httpx2.get(issuer + "/.well-known/openid-configuration").json()
    check("AS metadata (RFC 8414 and OIDC): S256, registration_endpoint, iss parameter supported",
          meta.get("code_challenge_methods_supported") == ["S256"] and meta.get("issuer") == issuer
          and meta.get("registration_endpoint") == issuer + "/reg"
          and meta.get("authorization_response_iss_parameter_supported") is True
          and oidc_meta.get("code_challenge_methods_supported") == ["S256"], meta)

    # ---------------------------------------------------------------- fault switches
    httpx2.post(issuer + "/__config", json={"strip_pkce_metadata": True})
    a = httpx2.get(issuer + "/.well-known/oauth-authorization-server").json()
    b = httpx2.get(issuer + "/.well-known/openid-configuration").json()
    check("strip_pkce_metadata: both discovery documents lose code_challenge_methods_supported",
          "code_challenge_methods_supported" not in a and "code_challenge_methods_supported" not in b
          and a.get("issuer") == issuer, a)
    httpx2.post(issuer + "/__config", json={"strip_pkce_metadata": False})

    registration = {
        "client_name": "keyport selftest",
        "application_type": "native",
        "redirect_uris": ["http://127.0.0.1:1/callback"],  # any port will do for native loopback
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    httpx2.post(issuer + "/__config", json={"refuse_registration": True})
    r = httpx2.post(meta["registration_endpoint"], json=registration)
    check("refuse_registration: 400 invalid_client_metadata",
          r.status_code == 400 and r.json().get("error") == "invalid_client_metadata", r.text)
    httpx2.post(issuer + "/__config", json={"refuse_registration": False})

    # ---------------------------------------------------------------- DCR (RFC 7591)
    r = httpx2.post(meta["registration_endpoint"], json=registration)
    reg = r.json()
    check("DCR: 201, a public native client (no secret), refresh allowed",
          r.status_code == 201 and reg.get("token_endpoint_auth_method") == "none"
          and "client_secret" not in reg and reg.get("application_type") == "native"
          and "refresh_token" in reg.get("grant_types", []) and reg.get("registration_access_token"), reg)
    client_id = reg["client_id"]
    s = httpx2.get(issuer + "/__stats").json()
    check("AS stats: registrations 1, registrations_refused 1",
          s["registrations"] == 1 and s["registrations_refused"] == 1, s)

    # ---------------------------------------------------------------- login in Chromium
    cb = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=cb.serve_forever, daemon=True).start()
    redirect_uri = f"http://127.0.0.1:{cb.server_address[1]}/callback"
    scope = "mcp:tools offline_access"
    params, verifier = login(meta, client_id, redirect_uri, mcp_url, scope)
    check("login: code and iss (RFC 9207) = issuer on the loopback callback (another port than registered)",
          "code" in params and params.get("iss") == issuer, params)
    s = httpx2.get(issuer + "/__stats").json()
    auth_log = [e for e in s["requests"] if e["endpoint"] == "authorization"][-1]
    check("AS saw S256 and state on the authorization request",
          auth_log["code_challenge_method"] == "S256" and auth_log["state_present"], auth_log)

    code_form = {"grant_type": "authorization_code", "code": params["code"], "client_id": client_id,
                 "redirect_uri": redirect_uri, "code_verifier": verifier}
    status, body = token(meta, code_form)
    check("code exchange without resource: 400 invalid_target (nothing consumed)",
          status == 400 and body.get("error") == "invalid_target", body)
    status, tok = token(meta, {**code_form, "resource": mcp_url})
    check("code exchange with resource: access token (mcp:tools), refresh token",
          status == 200 and tok.get("refresh_token") and "mcp:tools" in tok.get("scope", "").split()
          and tok.get("token_type") == "Bearer", tok)
    access, refresh_token = tok["access_token"], tok["refresh_token"]
    print("# token response: " + json.dumps({k: (v[:8] + "…" if k.endswith("token") else v) for k, v in tok.items()}))
    intro = httpx2.post(issuer + "/token/introspection", data={"token": access},
                        auth=("mcp-rs", "mcp-rs-secret")).json()
    print(f"# introspection: {json.dumps(intro)}")
    check("introspection: active, aud = the MCP URL, scope, client_id, sub",
          intro.get("active") is True and intro.get("aud") == mcp_url and intro.get("client_id") == client_id
          and intro.get("sub") == "keyport-user" and "mcp:tools" in intro.get("scope", ""), intro)

    # ---------------------------------------------------------------- the SDK client with the token
    try:
        res = anyio.run(mcp_session_checks, mcp_url, access)
        check("SDK client over Streamable HTTP: initialize, tools/list",
              res["server"] == "keyport-remote-peer"
              and res["tools"] == ["add", "admin_task", "connect_required", "echo", "notify"], res["tools"])
        check("echo", res["echo"].content[0].text == "hello remote", res["echo"])
        check("add: structured result", res["add"].structured_content == {"a": 2, "b": 40, "sum": 42},
              res["add"].structured_content)
        check("notify(3): 3 log messages and 3 progress notifications arrive during the call",
              res["notify"].content[0].text == "sent 3" and len(res["logs"]) == 3 and len(res["progress"]) == 3,
              (res["logs"], res["progress"]))
        e = res["elicit_error"]
        check("connect_required: JSON-RPC -32042 with data.elicitations[0].url",
              e is not None and e.code == -32042 and e.data["elicitations"][0]["url"].endswith("/connect/github"),
              repr(e))
        check("admin_task without mcp:admin: the SDK client gets an error", res["admin_error"] is not None,
              repr(res["admin_error"]))
    except Exception:  # noqa: BLE001
        check("SDK client session", False, traceback.format_exc())

    # ---------------------------------------------------------------- step-up 403, raw
    r = httpx2.post(mcp_url, json={"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                                   "params": {"name": "admin_task", "arguments": {}}},
                    headers={"authorization": f"Bearer {access}", "accept": "application/json, text/event-stream"})
    www = parse_www_authenticate(r.headers.get("www-authenticate"))
    check("step-up: 403 insufficient_scope, scope=\"mcp:tools mcp:admin\", resource_metadata",
          r.status_code == 403 and www.get("error") == "insufficient_scope"
          and www.get("scope") == "mcp:tools mcp:admin" and www.get("resource_metadata") == rs["prm"],
          f"{r.status_code} {r.headers.get('www-authenticate')}")

    # ---------------------------------------------------------------- refresh: resource required, rotation
    status, body = token(meta, {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id})
    check("refresh without resource: 400 invalid_target", status == 400 and body.get("error") == "invalid_target", body)
    status, tok2 = token(meta, {"grant_type": "refresh_token", "refresh_token": refresh_token,
                                "client_id": client_id, "resource": mcp_url})
    check("refresh with resource (same token, not consumed before): rotated, new access token",
          status == 200 and tok2["refresh_token"] != refresh_token and tok2["access_token"] != access, tok2)

    # ---------------------------------------------------------------- one session, a new token
    hdr = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "selftest", "version": "0"}}}
    r = httpx2.post(mcp_url, json=init, headers={**hdr, "authorization": f"Bearer {access}"})
    sid = r.headers.get("mcp-session-id")
    hdr2 = {**hdr, "mcp-session-id": sid or "", "mcp-protocol-version": "2025-11-25"}
    httpx2.post(mcp_url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers={**hdr2, "authorization": f"Bearer {access}"})
    r = httpx2.post(mcp_url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                   "params": {"name": "echo", "arguments": {"text": "same session"}}},
                    headers={**hdr2, "authorization": f"Bearer {tok2['access_token']}"})
    check("a session begun with one access token goes on with the refreshed one (same client and sub)",
          sid and r.status_code == 200 and "same session" in r.text, f"{sid} {r.status_code} {r.text[:300]}")

    # ---------------------------------------------------------------- audience refusal
    _, other = start(rs_cmd + ["--audience", "http://127.0.0.1:1/elsewhere"], name="remote-other-audience")
    r = httpx2.post(other["url"], json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={"authorization": f"Bearer {tok2['access_token']}",
                             "accept": "application/json, text/event-stream"})
    check("a server demanding another audience: 401 invalid_token for the same token",
          r.status_code == 401 and parse_www_authenticate(r.headers.get("www-authenticate")).get("error")
          == "invalid_token", r.status_code)
    os_ = httpx2.get(other["stats"]).json()
    check("... its stats: refused for audience", os_["tokens_refused"].get("audience") == 1, os_)

    # ---------------------------------------------------------------- --no-prm, --foreign-issuer
    _, noprm = start(rs_cmd + ["--no-prm"], name="remote-no-prm")
    r = httpx2.post(noprm["url"], json={})
    base = noprm["url"].removesuffix("/mcp")
    check("--no-prm: 401 without resource_metadata, no PRM at either well-known path",
          r.status_code == 401 and "resource_metadata" not in r.headers.get("www-authenticate", "")
          and httpx2.get(base + "/.well-known/oauth-protected-resource/mcp").status_code == 404
          and httpx2.get(base + "/.well-known/oauth-protected-resource").status_code == 404,
          r.headers.get("www-authenticate"))
    _, foreign = start(rs_cmd + ["--foreign-issuer", "http://127.0.0.1:9/evil"], name="remote-foreign")
    fprm = httpx2.get(foreign["prm"]).json()
    check("--foreign-issuer: the PRM lists the other AS", fprm["authorization_servers"] == ["http://127.0.0.1:9/evil"],
          fprm)

    # ---------------------------------------------------------------- expiry
    httpx2.post(issuer + "/__config", json={"access_ttl": 2})
    status, tok3 = token(meta, {"grant_type": "refresh_token", "refresh_token": tok2["refresh_token"],
                                "client_id": client_id, "resource": mcp_url})
    check("access_ttl 2: expires_in 2", status == 200 and tok3.get("expires_in") == 2, tok3)
    time.sleep(3.2)
    r = httpx2.post(mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={"authorization": f"Bearer {tok3['access_token']}",
                             "accept": "application/json, text/event-stream"})
    check("an expired access token: 401", r.status_code == 401, r.status_code)
    httpx2.post(issuer + "/__config", json={"access_ttl": 60})
    status, tok4 = token(meta, {"grant_type": "refresh_token", "refresh_token": tok3["refresh_token"],
                                "client_id": client_id, "resource": mcp_url})

    # ---------------------------------------------------------------- bridge_client.py over stdio
    out = subprocess.run(
        [PY, os.path.join(HERE, "bridge_client.py"), "--call", "echo", "--args", '{"text": "via stdio"}',
         "--call", "notify", "--args", '{"count": 2}', "--call", "connect_required",
         "--calls", "4", "--interval", "0.2", "--declare-url-elicitation", "--",
         PY, os.path.join(HERE, "token_bridge.py"), "--url", mcp_url, "--token", tok4["access_token"]],
        capture_output=True, text=True, timeout=120, check=False,
    )
    try:
        summary = json.loads(out.stdout)
        print(f"# bridge_client: {out.stdout.strip()}", flush=True)
        calls = summary["calls"]
        check("bridge_client: one JSON line, exit 0, tools listed",
              out.returncode == 0 and summary["ok"] and "echo" in summary["tools"], out.stderr[-2000:])
        check("bridge_client: echo text, notify's 2 log + 2 progress notifications",
              calls[0]["text"] == "via stdio" and calls[1]["text"] == "sent 2"
              and len(summary["notifications"]["logging"]) == 2 and len(summary["notifications"]["progress"]) == 2,
              summary)
        check("bridge_client: -32042 with data.elicitations[0].url; url elicitation declared",
              calls[2]["error"]["code"] == -32042 and calls[2]["error"]["data"]["elicitations"][0]["url"]
              and summary["declared_capabilities"].get("elicitation") == {"url": {}}, calls[2])
        check("bridge_client: --calls loop 4/4", summary["loop"]["successes"] == 4, summary["loop"])
    except Exception:  # noqa: BLE001
        check("bridge_client summary", False, f"{traceback.format_exc()}\nstdout={out.stdout}\nstderr={out.stderr[-3000:]}")

    rstats = httpx2.get(stats_url).json()
    check("RS stats: requests, 401s, 403s, tool calls, distinct accepted tokens",
          rstats["unauthorized"] >= 2 and rstats["forbidden"] >= 2 and rstats["tool_calls"].get("echo", 0) >= 2
          and rstats["tokens_accepted"] >= 2 and len(rstats["token_fingerprints"][0]) == 16, rstats)

    # ---------------------------------------------------------------- iss_override
    httpx2.post(issuer + "/__config", json={"iss_override": "http://127.0.0.1:9/evil"})
    params2, _ = login(meta, client_id, redirect_uri, mcp_url, scope)
    check("iss_override: the callback carries the rewritten iss", params2.get("iss") == "http://127.0.0.1:9/evil",
          params2)
    httpx2.post(issuer + "/__config", json={"iss_override": None})

    # ---------------------------------------------------------------- step-up: re-authorize with mcp:admin
    params4, verifier4 = login(meta, client_id, redirect_uri, mcp_url, "mcp:tools mcp:admin offline_access")
    status, admin = token(meta, {"grant_type": "authorization_code", "code": params4["code"], "client_id": client_id,
                                 "redirect_uri": redirect_uri, "code_verifier": verifier4, "resource": mcp_url})
    check("step-up login: the token carries mcp:admin",
          status == 200 and set(admin.get("scope", "").split()) >= {"mcp:tools", "mcp:admin"}, admin)
    r = httpx2.post(mcp_url, json={"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                                   "params": {"name": "admin_task", "arguments": {}}},
                    headers={"authorization": f"Bearer {admin.get('access_token')}",
                             "accept": "application/json, text/event-stream"})
    # no session: the SDK refuses the request (400), but not for scope (403)
    check("... admin_task is no longer refused for scope", r.status_code != 403, f"{r.status_code} {r.text[:200]}")
    out = subprocess.run(
        [PY, os.path.join(HERE, "bridge_client.py"), "--call", "admin_task", "--",
         PY, os.path.join(HERE, "token_bridge.py"), "--url", mcp_url, "--token", admin.get("access_token", "")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    try:
        call = json.loads(out.stdout)["calls"][0]
        check("... and runs: admin task done", call["ok"] and call["text"] == "admin task done", call)
    except Exception:  # noqa: BLE001
        check("admin_task with mcp:admin", False, f"{out.stdout} {out.stderr[-2000:]}")

    # ---------------------------------------------------------------- naive hosts lose the grant
    params3, verifier3 = login(meta, client_id, redirect_uri, mcp_url, scope)
    status, fresh = token(meta, {"grant_type": "authorization_code", "code": params3["code"], "client_id": client_id,
                                 "redirect_uri": redirect_uri, "code_verifier": verifier3, "resource": mcp_url})
    check("a fresh login for the naive hosts", status == 200 and fresh.get("refresh_token"), fresh)
    out = subprocess.run(
        [PY, os.path.join(HERE, "naive_hosts.py"), "--token-url", meta["token_endpoint"], "--client-id", client_id,
         "--refresh-token", fresh["refresh_token"], "--resource", mcp_url, "--processes", "5", "--mcp-url", mcp_url,
         "--introspect-url", issuer + "/token/introspection", "--introspect-client-id", "mcp-rs",
         "--introspect-client-secret", "mcp-rs-secret", "--stats-url", issuer + "/__stats"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    try:
        naive = json.loads(out.stdout)
        print(f"# naive_hosts: {json.dumps({k: v for k, v in naive.items() if k != 'outcomes'})}", flush=True)
        check("naive_hosts: 5 processes refreshed at once, ≥1 refused",
              out.returncode == 0 and naive["round1"]["requests"] == 5 and naive["round1"]["refused"] >= 1, naive)
        check("naive_hosts: the grant is lost (grant_alive false)", naive["grant_alive"] is False, naive)
        check("AS: reuse detected ≥1, a grant revoked",
              naive["as_stats"]["refresh_reuse_detected"] >= 1 and naive["as_stats"]["grants_revoked"] >= 1,
              naive["as_stats"])
    except Exception:  # noqa: BLE001
        check("naive_hosts summary", False, f"{traceback.format_exc()}\nstdout={out.stdout}\nstderr={out.stderr[-3000:]}")

    s = httpx2.get(issuer + "/__stats").json()
    check("AS stats: token_without_resource counts the two refused requests", s["token_without_resource"] == 2, s)
    print(f"# selftest took {time.time() - t0:.1f} s")


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001
        FAILED.append("harness")
        traceback.print_exc()
    finally:
        stop_all()
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    sys.exit(1 if FAILED else 0)
