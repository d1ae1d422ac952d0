"""The harness of the v3 SDK snippets (see snippets.py), for `composio` 0.30.0 against
keyport's /api/v3.1: an audit hook that records every socket the SDK opens, the tally
printed at exit, the environment tests/it/sdk3.rs sets, the SDK client, and the `@check`
decorator with the helpers the checks use. Imported first, before composio, so the audit
hook sees its import-time work too.
"""

import atexit
import ipaddress
import os
import sys

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


_TALLY = {"passed": 0, "failed": 0}


def _finish():
    # Registered first, so it runs after the SDK's own atexit hooks.
    outside = sorted({host for host in _SOCKETS if not _loopback(host)})
    if outside:
        print(f"FAIL: network: attempts to leave the machine: {outside}", flush=True)
        _TALLY["failed"] += 1
    else:
        print(f"network: {len(_SOCKETS)} connection attempts, all loopback", flush=True)
        _TALLY["passed"] += 1
    print(f"{_TALLY['passed']} passed, {_TALLY['failed']} failed", flush=True)
    os._exit(0 if _TALLY["failed"] == 0 else 1)


atexit.register(_finish)

import json  # noqa: E402
import traceback  # noqa: E402
import urllib.request  # noqa: E402

from composio import Composio  # noqa: E402

SERVER = os.environ["KEYPORT_SERVER"]
KEY = os.environ["COMPOSIO_API_KEY"]
GITHUB = os.environ["KEYPORT_SDK_GITHUB"]
GITHUB_TOKEN = os.environ["KEYPORT_SDK_GITHUB_TOKEN"]
IDP = os.environ["KEYPORT_SDK_IDP"]
CLIENT_ID = os.environ["KEYPORT_SDK_CLIENT_ID"]
CLIENT_SECRET = os.environ["KEYPORT_SDK_CLIENT_SECRET"]
REDACTED = "********"

# The SDK as its documentation sets it up, pointed at keyport, tracking off.
composio = Composio(api_key=KEY, base_url=SERVER, allow_tracking=False)

# What the snippets create, for the later ones (and the checks) to use.
STATE = {}


def check(label):
    """Runs the decorated snippet at once; prints `ok: label` or `FAIL: label` + traceback."""

    def run(snippet):
        try:
            snippet()
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            _TALLY["failed"] += 1
            print(f"FAIL: {label}\n{traceback.format_exc()}", flush=True)
        else:
            _TALLY["passed"] += 1
            print(f"ok: {label}", flush=True)
        return snippet

    return run


def expect_error(kind, call, status, *says):
    """`call()` must raise the SDK's own `kind` with `status`, and keyport's message (the
    v3 envelope's, read by the SDK) must contain each of `says`."""
    try:
        call()
    except kind as error:
        assert error.status_code == status, f"HTTP {error.status_code}: {error}"
        details = error.details
        assert details is not None, f"not a v3 error envelope: {error.body}"
        assert details["status"] == status and details["slug"], details
        for text in says:
            assert text in str(error), f"{text!r} not in {error}"
        return details
    raise AssertionError(f"expected {kind.__name__}")


def consent(url):
    """Asks tests/it/sdk3.rs to complete the flow at `url` in Chromium, and waits for it."""
    print(f"CONSENT {url}", flush=True)
    assert sys.stdin.readline().strip() == "DONE"


def raw(method, path, body=None):
    """A direct call to keyport, for what the SDK's models leave out (the v1 surface)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{SERVER}{path}", data=data, method=method,
        headers={"x-api-key": KEY, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def github_requests():
    with urllib.request.urlopen(f"{GITHUB}/__requests", timeout=10) as response:
        return json.loads(response.read())
