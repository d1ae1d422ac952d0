"""What MCP hosts do today with one login shared by several processes: each OS process
holds its own copy of the tokens and refreshes them itself. With refresh-token rotation
and reuse detection (OAuth 2.1, oidc-provider), the processes that present the rotated
refresh token trip reuse detection and the provider revokes the whole grant, the
winner's new tokens included: everyone must sign in again. Plain HTTP (urllib), no SDK.

    python naive_hosts.py --token-url URL --client-id ID --refresh-token RT --resource URL
        [--processes 5] [--client-secret S] [--scope "mcp:tools offline_access"]
        [--mcp-url URL] [--introspect-url URL --introspect-client-id ID --introspect-client-secret S]
        [--stats-url http://127.0.0.1:AS/__stats]

Round 1: all processes wait at a barrier, then each refreshes with its copy of RT at the
same moment. Round 2 (after another barrier): each process that got new tokens uses its
access token (POST initialize to --mcp-url, when given) and refreshes again with its new
refresh token; a process refused in round 1 has nothing left to try (it would need a new
login). Final check: the newest refresh token any process holds is refreshed once more
(success = the grant is alive); with --introspect-*, the newest access token is also
introspected. Prints ONE JSON line (see README.md beside this file); exit 0 unless the
harness failed.
"""

import argparse
import base64
import json
import multiprocessing as mp
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def post_form(url, form, auth=None, timeout=30):
    data = urllib.parse.urlencode({k: v for k, v in form.items() if v is not None}).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("content-type", "application/x-www-form-urlencoded")
    req.add_header("accept", "application/json")
    if auth:
        cred = base64.b64encode(
            f"{urllib.parse.quote(auth[0], safe='')}:{urllib.parse.quote(auth[1], safe='')}".encode()
        ).decode()
        req.add_header("authorization", f"Basic {cred}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {"raw": body.decode(errors="replace")[:300]}


def refresh(args, refresh_token):
    started = time.time()
    status, body = post_form(
        args.token_url,
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": args.client_id,
            "client_secret": args.client_secret,
            "resource": args.resource,
            "scope": args.scope,
        },
    )
    out = {"status": status, "at": round(started, 3), "ms": round((time.time() - started) * 1000)}
    if status == 200:
        out.update(ok=True, access_token=body.get("access_token"), refresh_token=body.get("refresh_token"))
        out["rotated"] = body.get("refresh_token") not in (None, refresh_token)
    else:
        out.update(ok=False, error=body.get("error"), error_description=body.get("error_description"))
    return out


def use(args, access_token):
    """POST an initialize to the MCP endpoint with the access token: the HTTP status."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "naive-host", "version": "0"},
            },
        }
    ).encode()
    req = urllib.request.Request(args.mcp_url, data=body, method="POST")
    req.add_header("content-type", "application/json")
    req.add_header("accept", "application/json, text/event-stream")
    req.add_header("authorization", f"Bearer {access_token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return {"status": resp.status}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "www_authenticate": e.headers.get("www-authenticate")}


def worker(index, args, barrier, results):
    out = {"process": index}
    try:
        barrier.wait(timeout=60)
        first = refresh(args, args.refresh_token)  # everyone at once, each with its own copy
        out["round1"] = first
        barrier.wait(timeout=60)
        if first["ok"]:
            second = {}
            if args.mcp_url:
                second["use"] = use(args, first["access_token"])
            if first.get("refresh_token"):
                second["refresh"] = refresh(args, first["refresh_token"])
            out["round2"] = second
        else:
            out["round2"] = {"skipped": "refused in round 1: this host needs a new login"}
    except Exception as e:  # noqa: BLE001 - reported in the summary
        out["harness_error"] = repr(e)
    results.put(out)


def redact(o):
    """Tokens are not printed: their first 8 characters stand in."""
    if isinstance(o, dict):
        return {
            k: (v[:8] + "…" if k in ("access_token", "refresh_token") and isinstance(v, str) else redact(v))
            for k, v in o.items()
        }
    if isinstance(o, list):
        return [redact(v) for v in o]
    return o


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--token-url", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret")
    p.add_argument("--refresh-token", required=True)
    p.add_argument("--resource", help="RFC 8707 resource sent with every refresh")
    p.add_argument("--scope")
    p.add_argument("--processes", type=int, default=5)
    p.add_argument("--mcp-url", help="round 2 also uses each access token here (POST initialize)")
    p.add_argument("--introspect-url")
    p.add_argument("--introspect-client-id")
    p.add_argument("--introspect-client-secret")
    p.add_argument("--stats-url", help="the oidc peer's /__stats, for its reuse/revocation counts")
    args = p.parse_args()
    if args.processes < 1:
        p.error("--processes must be >= 1")

    before = get_json(args.stats_url) if args.stats_url else None
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(args.processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(i, args, barrier, results)) for i in range(args.processes)]
    for proc in procs:
        proc.start()
    outcomes = []
    for _ in procs:
        outcomes.append(results.get(timeout=180))
    for proc in procs:
        proc.join(timeout=30)
    outcomes.sort(key=lambda o: o["process"])

    refreshes = []
    for o in outcomes:
        if "round1" in o:
            refreshes.append(("round1", o["process"], o["round1"]))
        if "refresh" in o.get("round2", {}):
            refreshes.append(("round2", o["process"], o["round2"]["refresh"]))
    round1_ok = [o for o in outcomes if o.get("round1", {}).get("ok")]
    round1_refused = [o for o in outcomes if "round1" in o and not o["round1"]["ok"]]
    # Refused while another process's refresh with the same token succeeded: the refresh
    # token presented had been rotated, which is what reuse detection reacts to.
    reuse_errors = len(round1_refused) if round1_ok else 0

    # The newest tokens any process holds (round 2's, else round 1's).
    newest_rt = newest_at = None
    newest_at_time = -1
    for _, _, r in refreshes:
        if r["ok"] and r["at"] >= newest_at_time:
            newest_at_time = r["at"]
            newest_rt = r.get("refresh_token") or newest_rt
            newest_at = r.get("access_token") or newest_at
    final = {}
    if newest_at and args.introspect_url:
        status, body = post_form(
            args.introspect_url,
            {"token": newest_at},
            auth=(args.introspect_client_id, args.introspect_client_secret),
        )
        final["introspection"] = {"status": status, "active": bool(body.get("active"))}
    if newest_rt:
        final["refresh"] = refresh(args, newest_rt)
        grant_alive = final["refresh"]["ok"]
    elif newest_at and "introspection" in final:
        grant_alive = final["introspection"]["active"]
    else:
        grant_alive = False
        final["note"] = "no process holds a usable token"

    summary = {
        "processes": args.processes,
        "refresh_requests": len(refreshes) + (1 if "refresh" in final else 0),
        "round1": {
            "requests": sum(1 for r in refreshes if r[0] == "round1"),
            "successes": len(round1_ok),
            "refused": len(round1_refused),
        },
        "successes": sum(1 for _, _, r in refreshes if r["ok"]),
        "invalid_grant": sum(1 for _, _, r in refreshes if r.get("error") == "invalid_grant"),
        "reuse_errors": reuse_errors,
        "uses": [o["round2"]["use"] for o in outcomes if "use" in o.get("round2", {})],
        "outcomes": redact(outcomes),
        "final_check": redact(final),
        "grant_alive": grant_alive,
        "harness_errors": [o["harness_error"] for o in outcomes if "harness_error" in o],
    }
    if before is not None:
        after = get_json(args.stats_url)
        summary["as_stats"] = {
            k: after.get(k, 0) - before.get(k, 0) for k in ("refresh_reuse_detected", "grants_revoked")
        }
        summary["as_stats"]["refresh_requests"] = after["token"]["refresh_token"] - before["token"]["refresh_token"]
        summary["as_stats"]["refresh_refused"] = (
            after["token_errors"]["refresh_token"] - before["token_errors"]["refresh_token"]
        )
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.exit(1 if summary["harness_errors"] else 0)


if __name__ == "__main__":
    main()
