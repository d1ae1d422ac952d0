"""The harness of the seed snippets (see snippets.py): the offline kit (tests/peers/
offline.py: the audit hook that records every socket the SDK opens, the tally printed at
exit, `@check`), the environment tests/it/sdk.rs sets, what the snippets share (`STATE`),
and the helpers the checks use. Imported first, before anything imports composio, so the
audit hook sees its import-time threads too.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from offline import check, get_json  # noqa: E402,F401 - first: its audit hook must see composio's import

import builtins  # noqa: E402
import json  # noqa: E402
import urllib.request  # noqa: E402

from composio.exceptions import HTTPError, InvalidParams, NoItemsFound  # noqa: E402
from sdk_env import CLIENT_ID, CLIENT_SECRET, GITHUB, GITHUB_TOKEN, IDP, REDACTED, github_requests, oidc_client  # noqa: E402,F401

BASE = os.environ["COMPOSIO_BASE_URL"]
SERVER = BASE[: -len("/api")]
REVEAL_KEY = os.environ["KEYPORT_SDK_REVEAL_KEY"]

# What the snippets create, for the later ones (and the checks) to use.
STATE = {}


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
