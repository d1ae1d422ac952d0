"""The harness of the seed snippets (see snippets.py): an audit hook that records every
socket the SDK opens, the tally printed at exit, the environment tests/it/sdk.rs sets, what
the snippets share (`STATE`), and the `@check` decorator with the helpers the checks use.
Imported first, before anything imports composio, so the audit hook sees its import-time
threads too.
"""

import atexit
import ipaddress
import os
import sys

# ---------------------------------------------------------------- no connection off this machine
# Installed before composio is imported, so its import-time threads are seen too.
_SOCKETS = []


def _audit(event, args):
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple):
            _SOCKETS.append(("connect", str(address[0])))
    elif event == "socket.getaddrinfo":
        _SOCKETS.append(("getaddrinfo", str(args[0])))


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
    # Registered first, so it runs last: after composio's own atexit hooks (its Sentry DSN
    # refresh runs there) have had their chance to open a socket.
    outside = sorted({host for _, host in _SOCKETS if not _loopback(host)})
    if outside:
        print(f"FAIL: network: attempts to leave the machine: {outside}", flush=True)
        _TALLY["failed"] += 1
    else:
        print(f"network: {len(_SOCKETS)} connection attempts, all loopback", flush=True)
        _TALLY["passed"] += 1
    print(f"{_TALLY['passed']} passed, {_TALLY['failed']} failed", flush=True)
    os._exit(0 if _TALLY["failed"] == 0 else 1)


atexit.register(_finish)

import builtins  # noqa: E402
import json  # noqa: E402
import traceback  # noqa: E402
import urllib.request  # noqa: E402

from composio.exceptions import HTTPError, InvalidParams, NoItemsFound  # noqa: E402

BASE = os.environ["COMPOSIO_BASE_URL"]
SERVER = BASE[: -len("/api")]
REVEAL_KEY = os.environ["KEYPORT_SDK_REVEAL_KEY"]
GITHUB = os.environ["KEYPORT_SDK_GITHUB"]
GITHUB_TOKEN = os.environ["KEYPORT_SDK_GITHUB_TOKEN"]
IDP = os.environ["KEYPORT_SDK_IDP"]
CLIENT_ID = os.environ["KEYPORT_SDK_CLIENT_ID"]
CLIENT_SECRET = os.environ["KEYPORT_SDK_CLIENT_SECRET"]
REDACTED = "********"

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


def expect_error(kind, call, status=None, says=()):
    """`call()` must raise the SDK's own `kind`; an HTTPError must carry `status` and a
    keyport error body whose message contains each of `says`."""
    try:
        call()
    except kind as error:
        if status is not None:
            assert error.status_code == status, f"HTTP {error.status_code}: {error.message}"
            body = json.loads(error.message)
            message = body["error"]["message"]
            for text in says:
                assert text in message, f"{text!r} not in {message!r}"
            return message
        return str(error)
    raise AssertionError(f"expected {kind.__name__}")


def raw(method, path, key=None):
    """A direct call to keyport (to read what the SDK's models leave out)."""
    request = urllib.request.Request(
        f"{BASE}{path}", method=method, headers={"x-api-key": key or os.environ["COMPOSIO_API_KEY"]}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def revealing_toolset():
    from composio_openai import ComposioToolSet

    return ComposioToolSet(api_key=REVEAL_KEY)


def check_account(account, *, app, entity, status="ACTIVE"):
    assert account.status == status, account.status
    assert account.appUniqueId == app and account.appName == app, (account.appUniqueId, account.appName)
    assert account.clientUniqueUserId == entity and account.entityId == entity, account
    assert isinstance(account.connectionParams.headers, dict), account.connectionParams
    assert isinstance(account.connectionParams.queryParams, dict), account.connectionParams
    if status == "ACTIVE":
        assert account.connectionParams.headers.get("Authorization") == REDACTED, account.connectionParams


def github_requests():
    with urllib.request.urlopen(f"{GITHUB}/__requests", timeout=10) as response:
        return json.loads(response.read())
