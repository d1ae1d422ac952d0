"""The harness of the v3 SDK snippets (see snippets.py), for `composio` 0.30.0 against
keyport's /api/v3.1: the offline kit (tests/peers/offline.py: audit hook, tally, `@check`),
the environment tests/it/sdk3.rs sets, the SDK client, and the helpers the checks use.
Imported first, before composio, so the audit hook sees its import-time work too.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from offline import check, get_json  # noqa: E402,F401 - first: its audit hook must see composio's import

import json  # noqa: E402
import urllib.request  # noqa: E402

from composio import Composio  # noqa: E402
from sdk_env import CLIENT_ID, CLIENT_SECRET, GITHUB, GITHUB_TOKEN, IDP, REDACTED, github_requests, oidc_client  # noqa: E402,F401

SERVER = os.environ["KEYPORT_SERVER"]
KEY = os.environ["COMPOSIO_API_KEY"]

# The SDK as its documentation sets it up, pointed at keyport, tracking off.
composio = Composio(api_key=KEY, base_url=SERVER, allow_tracking=False)

# What the snippets create, for the later ones (and the checks) to use.
STATE = {}


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
