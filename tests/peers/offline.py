"""What every SDK snippet suite shares (tests/peers/sdk/ for the legacy Python SDK,
tests/peers/sdk3/ for the current one): an audit hook, installed on import, that records
every socket the process opens and every name it resolves; the tally of checks, printed at
exit after the network verdict (all loopback, or the hosts it tried); and the `@check`
decorator. Import it before the SDK, so the hook sees the SDK's import-time work too.
"""

import atexit
import ipaddress
import json
import os
import sys
import traceback
import urllib.request

_SOCKETS = []


def _audit(event, args):
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple):
            _SOCKETS.append(str(address[0]))
    elif event == "socket.getaddrinfo":
        _SOCKETS.append(str(args[0]))


sys.addaudithook(_audit)


def _loopback(host):
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


TALLY = {"passed": 0, "failed": 0}


def _finish():
    # Registered first, so it runs last: after the SDK's own atexit hooks (the legacy SDK's
    # Sentry DSN refresh runs there) have had their chance to open a socket.
    outside = sorted({host for host in _SOCKETS if not _loopback(host)})
    if outside:
        print(f"FAIL: network: attempts to leave the machine: {outside}", flush=True)
        TALLY["failed"] += 1
    else:
        print(f"network: {len(_SOCKETS)} connection attempts, all loopback", flush=True)
        TALLY["passed"] += 1
    print(f"{TALLY['passed']} passed, {TALLY['failed']} failed", flush=True)
    os._exit(0 if TALLY["failed"] == 0 else 1)


atexit.register(_finish)


def record(label, failure=None):
    """Counts a check; prints `ok: label`, or `FAIL: label` and the failure's traceback."""
    if failure is None:
        TALLY["passed"] += 1
        print(f"ok: {label}", flush=True)
    else:
        TALLY["failed"] += 1
        print(f"FAIL: {label}\n{failure}", flush=True)


def check(label):
    """Runs the decorated snippet at once and records it."""

    def run(snippet):
        try:
            snippet()
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            record(label, traceback.format_exc())
        else:
            record(label)
        return snippet

    return run


def get_json(url):
    """A GET of a local peer's JSON (the GitHub stand-in's record of requests)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
