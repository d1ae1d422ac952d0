"""The Composio documentation's Python snippets (the seed documents in shared/seeds/), run
unchanged with the real Composio SDK (composio-core 0.7.22, composio-openai 0.7.20) against
keyport. Started by tests/it/sdk.rs, which sets:

    COMPOSIO_BASE_URL, COMPOSIO_API_KEY (a `use` key), COMPOSIO_DISABLE_VERSION_CHECK,
    COMPOSIO_CACHE_DIR, HOME                      the SDK's own settings
    KEYPORT_SDK_REVEAL_KEY                        a `reveal` key, to read live headers
    KEYPORT_SDK_GITHUB, KEYPORT_SDK_GITHUB_TOKEN  the GitHub stand-in and the token it accepts
    KEYPORT_SDK_IDP, KEYPORT_SDK_CLIENT_ID, KEYPORT_SDK_CLIENT_SECRET
                                                  the oidc-provider peer and its client

Each snippet is copied from its seed document (named in a comment) and followed by checks
of what keyport answered. Lines that fail on every backend with this SDK version (the wire
notes' section e.4, shared/research/composio-sdk-wire.md) are replaced by their working
equivalent, each with a comment saying why. Placeholders the documents leave to the reader
(GMAIL_INTEGRATION_ID, YOUR_INTEGRATION_ID, `params={...}`) are filled in.

Output: one `ok: ...` line per checked snippet (`FAIL: ...` with a traceback otherwise), the
OAuth step's `Navigate to URL ...` line (the test drives Chromium through it), a
`network: N connection attempts, all loopback` line from an audit hook that sees every
socket the SDK opens, and a final `N passed, M failed` line. Exit 0 only if all passed.
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


# ================================================================ 001 Auth Concepts
@check("has_integration ASANA -> False on a fresh vault")
def _():
    # --- seed 001_53526bde2f2ad503.txt: Listing and checking existing integrations
    from typing import Any  # noqa: F401
    from composio_openai import ComposioToolSet, App, Action  # noqa: F401
    from composio.client.collections import IntegrationModel  # noqa: F401
    from composio.client.collections import AuthSchemeType  # noqa: F401

    toolset = ComposioToolSet()

    def has_integration(app: App) -> bool:
        """
        Check if an integration exists for the given app.
        """
        integrations = toolset.get_integrations(app=app)
        return len(integrations) > 0

    print(has_integration(App.ASANA))  # Check for any valid Composio App
    # --- end of snippet
    assert has_integration(App.ASANA) is False
    assert toolset.get_integrations() == []


@check("fetch_expected_integration_params gmail OAUTH2")
def _():
    from composio_openai import ComposioToolSet

    toolset = ComposioToolSet()
    # --- seed 001_53526bde2f2ad503.txt: (Optional) Specifying Client Credentials
    app = toolset.client.apps.get(name="gmail")
    expected_params = toolset.fetch_expected_integration_params(
        app=app,
        auth_scheme="OAUTH2",
    )
    print(expected_params)
    # --- end of snippet
    fields = {f.name: f for f in expected_params}
    assert app.key == "gmail" and app.name == "gmail", app
    assert fields["client_id"].required and fields["client_secret"].required, fields
    assert not any(f.expected_from_customer for f in expected_params)
    assert fields["scopes"].required is False and "gmail" in fields["scopes"].default


@check("create_integration GMAIL OAUTH2 (own client credentials)")
def _():
    # --- seed 001_53526bde2f2ad503.txt: the full code to creating and managing an integration
    from typing import Any  # noqa: F401
    from composio_openai import ComposioToolSet, App, Action  # noqa: F401
    from composio.client.collections import IntegrationModel
    from composio.client.collections import AuthSchemeType

    toolset = ComposioToolSet()

    def has_integration(app: App) -> bool:
        """
        Check if an integration exists for the given app.
        """
        integrations = toolset.get_integrations(app=app)
        return len(integrations) > 0

    def create_integration_if_not_exists(
        app: App,
        auth_mode: AuthSchemeType,
        auth_config: dict,
        use_composio_oauth_app: bool = False,
        force_new_integration: bool = False,
    ) -> IntegrationModel:
        """
        Create an integration if it doesn't exist.
        """
        if not force_new_integration and has_integration(app):
            integrations = toolset.get_integrations(app=app)
            return integrations[0]

        integration = toolset.create_integration(
            app=app,
            auth_mode=auth_mode,
            auth_config=auth_config,
            use_composio_oauth_app=use_composio_oauth_app,
        )
        return integration

    print(has_integration(App.GMAIL))

    app = toolset.client.apps.get(name="gmail")
    expected_params = toolset.fetch_expected_integration_params(
        app=app,
        auth_scheme="OAUTH2",
    )
    print(expected_params)

    integration = create_integration_if_not_exists(
        app=App.GMAIL,
        auth_mode="OAUTH2",
        auth_config={"client_id": "1234567890", "client_secret": "1234567890"},
        use_composio_oauth_app=False,
    )
    # --- end of snippet
    assert integration.authScheme == "OAUTH2" and integration.appName == "gmail", integration
    assert integration.appId == app.appId and integration.enabled and not integration.deleted
    assert integration.name.startswith("GMAIL_") and integration.expectedInputFields == []
    assert toolset.get_integration(id=integration.id).id == integration.id
    assert has_integration(App.GMAIL)
    # Without force_new_integration the helper now returns the existing one.
    again = create_integration_if_not_exists(
        app=App.GMAIL, auth_mode="OAUTH2", auth_config={"client_id": "other", "client_secret": "other"}
    )
    assert again.id == integration.id
    stored = raw("GET", f"/v1/integrations/{integration.id}")
    assert stored["authConfig"]["client_id"] == "1234567890", stored
    assert stored["authConfig"]["client_secret"] == REDACTED, stored
    STATE["gmail_oauth_placeholder"] = integration.id


# ================================================================ 004 Authentication and Integrations
@check("create_integration GITHUB OAUTH2 own developer app (scopes list, redirect_uri)")
def _():
    # --- seed 004_02a6e7aebb09f354.txt: Creating and using your own developer app
    from composio_openai import ComposioToolSet, App, Action  # noqa: F401

    toolset = ComposioToolSet()
    toolset.create_integration(
        app=App.GITHUB,
        auth_mode="OAUTH2",
        force_new_integration=True,
        use_composio_oauth_app=False,
        auth_config={
            "client_id": "1234567890",
            "client_secret": "1234567890",
            "redirect_uri": "https://backend.yourapp.com/handle-redirect-uri/",
            "scopes": ["repo", "user"],
        },
    )
    # --- end of snippet
    (integration,) = toolset.get_integrations(app=App.GITHUB)
    assert integration.authScheme == "OAUTH2" and integration.appName == "github", integration
    stored = raw("GET", f"/v1/integrations/{integration.id}")
    assert stored["scopes"] == ["repo", "user"], stored
    assert stored["callbackUrl"] == f"{SERVER}/callback/github", stored
    assert "redirect_uri" not in stored["authConfig"], stored
    STATE["github_oauth"] = integration.id


@check("create_integration GITHUB use_composio_oauth_app=True -> HTTP 400 naming client_id")
def _():
    from composio_openai import ComposioToolSet, App, Action  # noqa: F401

    toolset = ComposioToolSet()

    def snippet():
        # --- seed 004_02a6e7aebb09f354.txt: Using Composio's client credentials
        integration = toolset.create_integration(  # noqa: F841
            app=App.GITHUB,
            auth_mode="OAUTH2",
            use_composio_oauth_app=True,
            force_new_integration=True,
        )
        # --- end of snippet

    # keyport has no Composio-managed OAuth apps: it says what to supply instead.
    expect_error(HTTPError, snippet, 400, ["useComposioAuth", "client_id", "/callback/github"])
    assert len(toolset.get_integrations(app=App.GITHUB)) == 1, "nothing half-created"


# ================================================================ 001 Creating Connections
@check("get_expected_params_for_user(integration_id=...) GITHUB OAUTH2 -> []")
def _():
    # --- seed 001_53526bde2f2ad503.txt: Fetch Integration ID and Entity
    from composio.client.collections import ExpectedFieldInput  # noqa: F401
    from composio.exceptions import NoItemsFound
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()

    # Fetched from application logic
    user_id = "00000000-0000-0000-0000-000000000000"
    integration = toolset.get_integrations(App.GITHUB)[0]  # or App.SHOPIFY

    # --- seed 001_53526bde2f2ad503.txt: Check for an active connection
    def has_active_connection(user_id: str, app: App):
        entity = toolset.get_entity(user_id)
        try:
            connection = entity.get_connection(app=app)
            return connection.status == "ACTIVE"
        except NoItemsFound:
            return False

    if has_active_connection(user_id, App.GITHUB):
        print("Connection already exists for this user")
    else:
        print("\nSetting up new connection...")

    # --- seed 001_53526bde2f2ad503.txt: Fetching connection parameters with an integration ID
    def request_connection_params(integration_id: str):
        return toolset.get_expected_params_for_user(integration_id=integration_id)

    conn_params = request_connection_params(integration.id)
    print(conn_params["expected_params"])
    # --- end of snippets
    assert has_active_connection(user_id, App.GITHUB) is False
    assert conn_params == {
        "integration_id": STATE["github_oauth"],
        "auth_scheme": "OAUTH2",
        "expected_params": [],
    }, conn_params
    STATE["user_id"] = user_id


@check("get_expected_params_for_user(app=GMAIL, auth_scheme=BEARER_TOKEN) -> [token]")
def _():
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()
    # Wire notes e.4: with app= and auth_scheme=, the SDK only looks up an existing
    # integration for that app and scheme (NoItemsFound otherwise, on any backend); the
    # documents assume one exists, so it is created first.
    expect_error(
        NoItemsFound,
        lambda: toolset.get_expected_params_for_user(app=App.GMAIL, auth_scheme="BEARER_TOKEN"),
    )
    created = toolset.create_integration(app=App.GMAIL, auth_mode="BEARER_TOKEN", use_composio_oauth_app=False)

    # --- seed 001_53526bde2f2ad503.txt: Fetching connection parameters with app and auth scheme
    def request_connection_params(app: App, auth_scheme: str):
        # The document's `get_expected_params_for_user(app=app, auth_scheme)` is a SyntaxError
        # (a positional argument after a keyword one); passed by keyword instead.
        return toolset.get_expected_params_for_user(app=app, auth_scheme=auth_scheme)

    conn_params = request_connection_params(app=App.GMAIL, auth_scheme="BEARER_TOKEN")
    print(conn_params["expected_params"])
    # --- end of snippet
    assert conn_params["integration_id"] == created.id and conn_params["auth_scheme"] == "BEARER_TOKEN"
    (token,) = conn_params["expected_params"]
    assert (token.name, token.type, token.displayName) == ("token", "string", "Token"), token
    assert token.required and token.is_secret and token.expected_from_customer, token
    STATE["gmail_bearer"] = created.id


@check("initiate_connection GMAIL BEARER_TOKEN, token in auth_config -> ACTIVE")
def _():
    # --- seed 001_53526bde2f2ad503.txt: Examples (a Bearer token for an OAuth 2.0 app)
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()
    entity = toolset.get_entity("default")
    gmail_params = toolset.get_expected_params_for_user(app=App.GMAIL, auth_scheme="BEARER_TOKEN")
    print(gmail_params["expected_params"])
    # [ExpectedFieldInput(name='token', type='string', description='Token for bearer token auth', displayName='Token', is_secret=False, required=True, expected_from_customer=True, default=None, get_current_user_endpoint=None)]

    gmail_connection_request = entity.initiate_connection(
        app_name=App.GMAIL,
        auth_mode=gmail_params["auth_scheme"],
        auth_config={"token": "gmail_token"},
    )

    print(gmail_connection_request.model_dump_json(indent=2))
    # --- end of snippet
    assert gmail_connection_request.connectionStatus == "ACTIVE", gmail_connection_request
    assert gmail_connection_request.redirectUrl is None
    account = toolset.get_connected_account(gmail_connection_request.connectedAccountId)
    check_account(account, app="gmail", entity="default")
    assert account.connectionParams.base_url == "https://gmail.googleapis.com/gmail/v1"
    assert raw("GET", f"/v1/connectedAccounts/{account.id}")["connectionParams"]["token"] == REDACTED
    # Only a `reveal` key reads the live header.
    live = revealing_toolset().get_connected_account(account.id)
    assert live.connectionParams.headers == {"Authorization": "Bearer gmail_token"}, live.connectionParams
    STATE["gmail_default"] = account.id


@check("initiate_connection NOTION API_KEY, key given as auth_config token -> ACTIVE")
def _():
    from composio_openai import App, ComposioToolSet

    # Wire notes e.4: get_expected_params_for_user(app=) needs an existing integration.
    ComposioToolSet().create_integration(app=App.NOTION, auth_mode="API_KEY", use_composio_oauth_app=False)

    # --- seed 001_53526bde2f2ad503.txt: Examples (an API key)
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()
    entity = toolset.get_entity("default")

    notion_params = toolset.get_expected_params_for_user(app=App.NOTION)
    notion_params["expected_params"]
    print(notion_params["expected_params"])
    # [ExpectedFieldInput(name='api_key', type='string', description='Your notion API key for authentication. Obtain it from your notion settings.', displayName='API Key', is_secret=False, required=True, expected_from_customer=True, default=None, get_current_user_endpoint=None)]

    notion_connection_request = entity.initiate_connection(
        app_name=App.NOTION,
        auth_mode=notion_params["auth_scheme"],
        auth_config={"token": "notion_token"},
    )
    # --- end of snippet
    assert notion_params["auth_scheme"] == "API_KEY"
    assert [p.name for p in notion_params["expected_params"]] == ["api_key"], notion_params
    assert notion_connection_request.connectionStatus == "ACTIVE", notion_connection_request
    account = toolset.get_connected_account(notion_connection_request.connectedAccountId)
    check_account(account, app="notion", entity="default")
    live = revealing_toolset().get_connected_account(account.id)
    assert live.connectionParams.headers == {"Authorization": "Bearer notion_token"}, live.connectionParams


@check("initiate_connection GITHUB OAUTH2 with Composio's OAuth app -> HTTP 400 naming client_id")
def _():
    from composio_openai import App, ComposioToolSet

    def snippet():
        # --- seed 001_53526bde2f2ad503.txt: Examples (OAuth 2.0)
        toolset = ComposioToolSet()
        entity = toolset.get_entity("default")
        github_params = toolset.get_expected_params_for_user(app=App.GITHUB)
        # []
        assert github_params["auth_scheme"] == "OAUTH2" and github_params["expected_params"] == []

        github_connection_request = entity.initiate_connection(
            app_name=App.GITHUB,
            auth_mode=github_params["auth_scheme"],
            auth_config={},
        )
        print(github_connection_request.model_dump_json(indent=2))
        # --- end of snippet

    # initiate_connection defaults to use_composio_auth=True, and keyport has no managed
    # OAuth apps: the SDK raises keyport's 400, which says what to supply.
    expect_error(HTTPError, snippet, 400, ["client_id", "client_secret"])


@check("initiate_connection GMAIL OAUTH2 without auth_config -> HTTP 400 naming client_id")
def _():
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()
    entity = toolset.get_entity("default")
    app, auth_mode = App.GMAIL, "OAUTH2"

    def snippet():
        # --- seed 001_53526bde2f2ad503.txt: Initializing a connection without parameters
        connection = entity.initiate_connection(  # noqa: F841
            app_name=app,
            use_composio_auth=False,
            force_new_integration=True,
            auth_mode=auth_mode,
        )
        # --- end of snippet

    expect_error(HTTPError, snippet, 400, ["client_id: is required"])


@check("initiate_connection with user-entered params GMAIL BEARER_TOKEN -> ACTIVE")
def _():
    from composio.client.collections import ExpectedFieldInput
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()
    user_id = STATE["user_id"]
    app = App.GMAIL
    integration_id = STATE["gmail_bearer"]
    prompts = []

    def typed(prompt):  # the user at the keyboard
        prompts.append(prompt)
        return "ya29.typed-by-the-user"

    builtins.input = typed

    # --- seed 001_53526bde2f2ad503.txt: Initializing connection with parameters
    def request_connection_params(app: App, integration_id: str):
        return toolset.get_expected_params_for_user(integration_id=integration_id)

    def get_connection_values(connection_params_info: list[ExpectedFieldInput]):
        print(
            "\nTo connect to this service, you'll need to provide the following authentication details:"
        )
        connection_params = {}
        for param in connection_params_info:
            param_dict = param.model_dump()
            # Collect input from user
            value = input(f"Enter value for {param_dict['name']}: ")
            connection_params[param_dict["name"]] = value
        return connection_params

    def initiate_connection(
        user_id: str, app: App, connection_params: dict, auth_mode: str, redirect_url: str
    ):
        entity = toolset.get_entity(user_id)
        connection = entity.initiate_connection(
            app_name=app,
            use_composio_auth=False,
            force_new_integration=True,
            connected_account_params=connection_params,
            auth_mode=auth_mode,
            redirect_url=redirect_url,
        )
        return connection

    # The document calls `request_connection_params(integration_id)`, a TypeError against its
    # own two-parameter definition just above; both arguments are passed.
    connection_params_info = request_connection_params(app, integration_id)
    connection_params = get_connection_values(
        connection_params_info["expected_params"]
    )
    # The document leaves out the required `redirect_url` argument (a TypeError); None is
    # what a token scheme needs.
    connection = initiate_connection(user_id, app, connection_params, "BEARER_TOKEN", None)
    # --- end of snippet
    assert prompts == ["Enter value for token: "], prompts
    assert connection.connectionStatus == "ACTIVE", connection
    account = toolset.get_connected_account(connection.connectedAccountId)
    check_account(account, app="gmail", entity=user_id)
    live = revealing_toolset().get_connected_account(account.id)
    assert live.connectionParams.headers["Authorization"] == "Bearer ya29.typed-by-the-user"


# ================================================================ 001 Entity, 002 Entities
@check("get_entity: default and named entities")
def _():
    # --- seed 001_53526bde2f2ad503.txt: Entity Management
    from composio_openai import ComposioToolSet

    toolset = ComposioToolSet()
    # Expected to fetch the entity ID from application logic
    entity = toolset.get_entity(id="default")
    # --- end of snippet
    assert entity.id == "default"
    apps = sorted(c.appUniqueId for c in entity.get_connections())
    assert apps == ["gmail", "notion"], apps
    # --- seed 003_e6500ffb4a19abf9.txt: Identifying Your User: The entity_id
    from composio_openai import ComposioToolSet, Action, App  # noqa: F401

    toolset = ComposioToolSet()
    user_identifier_from_my_app = "user_7a9f3b_db_id"  # Example

    # Get the Composio Entity object for your user
    entity = toolset.get_entity(id=user_identifier_from_my_app)
    # Use this 'entity' object to initiate connections
    # --- end of snippet
    assert entity.id == "user_7a9f3b_db_id" and entity.get_connections() == []


# ================================================================ 003 Connecting Users Overview
@check("initiate_connection GITHUB for an entity (integration id -> ACTIVE, app -> INITIATED)")
def _():
    from composio_openai import ComposioToolSet, Action, App  # noqa: F401

    toolset = ComposioToolSet()
    user_identifier_from_my_app = "user_7a9f3b_db_id"
    # YOUR_INTEGRATION_ID: a GitHub integration whose API is the local stand-in, given the
    # user's token in authConfig (the legacy habit: kept as the connection's default, so the
    # integration expects nothing more from whoever connects).
    YOUR_INTEGRATION_ID = toolset.create_integration(
        app=App.GITHUB,
        auth_mode="BEARER_TOKEN",
        auth_config={"base_url": GITHUB, "token": GITHUB_TOKEN},
        use_composio_oauth_app=False,
        force_new_integration=True,
    ).id
    (token,) = toolset.get_integration(YOUR_INTEGRATION_ID).expectedInputFields
    assert token.name == "token" and token.required is False, token

    # --- seed 003_e6500ffb4a19abf9.txt: Initiating a Connection (Conceptual)
    # Conceptual initiation - details depend on auth type
    connection_request = toolset.initiate_connection(
        integration_id=YOUR_INTEGRATION_ID, entity_id=user_identifier_from_my_app
    )
    first = connection_request
    # or
    # The document's `app_name=` is not a parameter of ComposioToolSet.initiate_connection
    # (a TypeError on any backend): it is `app=`.
    connection_request = toolset.initiate_connection(
        app=App.GITHUB, entity_id=user_identifier_from_my_app
    )
    # --- end of snippet (its execute_action lines are the next check)
    assert first.connectionStatus == "ACTIVE" and first.redirectUrl is None, first
    assert connection_request.connectionStatus == "INITIATED", connection_request
    assert connection_request.redirectUrl.startswith(f"{SERVER}/connect/"), connection_request
    pending = toolset.get_connected_account(connection_request.connectedAccountId)
    check_account(pending, app="github", entity=user_identifier_from_my_app, status="INITIATED")
    assert pending.integrationId == STATE["github_oauth"], pending
    account = toolset.get_connected_account(first.connectedAccountId)
    check_account(account, app="github", entity=user_identifier_from_my_app)
    assert account.integrationId == YOUR_INTEGRATION_ID and account.connectionParams.base_url == GITHUB
    live = revealing_toolset().get_connected_account(account.id)
    assert live.connectionParams.headers == {"Authorization": f"Bearer {GITHUB_TOKEN}"}, live
    STATE["github_user"] = account.id


@check("get_auth_params of a connection: redacted, live only for a reveal key")
def _():
    from composio_openai import ComposioToolSet

    toolset = ComposioToolSet()
    params = toolset.get_auth_params(connection_id=STATE["github_user"])
    assert params.base_url == GITHUB and params.body == {}, params
    assert [(p.in_, p.name, p.value) for p in params.parameters] == [("header", "Authorization", REDACTED)], params
    live = revealing_toolset().get_auth_params(connection_id=STATE["github_user"])
    assert [(p.in_, p.name, p.value) for p in live.parameters] == [
        ("header", "Authorization", f"Bearer {GITHUB_TOKEN}")
    ], live


@check("execute_action GITHUB_CREATE_AN_ISSUE for an entity, through the GitHub stand-in")
def _():
    from composio_openai import ComposioToolSet, Action, App  # noqa: F401

    toolset = ComposioToolSet()
    user_identifier_from_my_app = "user_7a9f3b_db_id"
    before = len(github_requests())
    # --- seed 003_e6500ffb4a19abf9.txt: Initiating a Connection (Conceptual), continued
    # The document's `params={...}` is a set holding Ellipsis; real issue fields are given.
    first = toolset.execute_action(
        action=Action.GITHUB_CREATE_AN_ISSUE, params={"owner": "keyport", "repo": "sdk-test", "title": "Opened through keyport"}, entity_id=user_identifier_from_my_app
    )

    second = toolset.execute_action(
        action=Action.GITHUB_CREATE_AN_ISSUE,
        params={"owner": "keyport", "repo": "sdk-test", "title": "And a second one", "body": "From the SDK"},
        entity_id=user_identifier_from_my_app
    )
    # --- end of snippet
    for response, number in ((first, 42), (second, 43)):
        assert response["successful"] is True and response["error"] is None, response
        assert response["data"]["number"] == number, response
        assert response["data"]["state"] == "open", response
    seen = github_requests()[before:]
    assert [(r["method"], r["path"]) for r in seen] == [("POST", "/repos/keyport/sdk-test/issues")] * 2, seen
    assert all(r["headers"]["authorization"] == f"Bearer {GITHUB_TOKEN}" for r in seen), seen
    assert seen[0]["body"] == {"title": "Opened through keyport"}, seen[0]
    assert seen[1]["body"] == {"title": "And a second one", "body": "From the SDK"}, seen[1]


@check("handle_tool_calls GITHUB_GET_THE_AUTHENTICATED_USER for an entity (composio_openai)")
def _():
    from openai.types.chat import ChatCompletion
    from composio_openai import Action, ComposioToolSet

    toolset = ComposioToolSet()
    entity = toolset.get_entity(id="user_7a9f3b_db_id")
    # The model's answer, as openai.OpenAI().chat.completions.create would return it after
    # being offered the tools get_tools() wraps (the documents leave `response` to the reader).
    tools = toolset.get_tools(actions=[Action.GITHUB_GET_THE_AUTHENTICATED_USER])
    assert [t["function"]["name"] for t in tools] == ["GITHUB_GET_THE_AUTHENTICATED_USER"], tools
    response = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-keyport",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "GITHUB_GET_THE_AUTHENTICATED_USER", "arguments": "{}"},
                            }
                        ],
                    },
                }
            ],
        }
    )
    before = len(github_requests())
    # --- seed 004_02a6e7aebb09f354.txt: Executing tool calls on behalf of the user
    result = toolset.handle_tool_calls(
        response=response,
        entity_id=entity.id,
    )
    # --- end of snippet
    (output,) = result
    assert output["successful"] is True and output["data"]["login"] == "keyport-octocat", output
    (seen,) = github_requests()[before:]
    assert (seen["method"], seen["path"]) == ("GET", "/user"), seen
    assert seen["headers"]["authorization"] == f"Bearer {GITHUB_TOKEN}", seen


@check("list connected accounts by entity")
def _():
    from composio_openai import ComposioToolSet

    toolset = ComposioToolSet()
    # --- seed 003_e6500ffb4a19abf9.txt: List Connections for a User
    user_identifier_from_my_app = "user_7a9f3b_db_id"  # Example
    entity = toolset.get_entity(id=user_identifier_from_my_app)
    try:
        # Wire notes e.4: get_connected_accounts() takes no entity_id in this SDK (a
        # TypeError on any backend); the document's own alternative is used.
        connections = toolset.client.connected_accounts.get(entity_ids=[entity.id], active=True)
        print(f"Found {len(connections)} active connections for {entity.id}:")
        for conn in connections:
            print(f"- App: {conn.appName}, ID: {conn.id}, Status: {conn.status}")
        # You can also filter directly via the client:
        # connections = toolset.client.connected_accounts.get(entity_ids=[entity.id], active=True)
    except Exception as e:
        print(f"Error fetching connections: {e}")
    # --- end of snippet
    assert [(c.id, c.status) for c in connections] == [(STATE["github_user"], "ACTIVE")], connections
    # The toolset bound to the entity lists all of its connections, the INITIATED one too.
    everything = ComposioToolSet(entity_id=user_identifier_from_my_app).get_connected_accounts()
    assert sorted(c.status for c in everything) == ["ACTIVE", "INITIATED"], everything
    # Several entities at once (user_uuid is a comma-separated list).
    both = toolset.client.connected_accounts.get(entity_ids=["default", entity.id], active=True)
    assert sorted(c.appUniqueId for c in both) == ["github", "gmail", "notion"], both


@check("get_connected_account (the document's example id -> HTTP 404, a real one -> ACTIVE)")
def _():
    from composio_openai import ComposioToolSet

    toolset = ComposioToolSet()

    def snippet(connection_id):
        # --- seed 003_e6500ffb4a19abf9.txt: Get a Specific Connection
        connection = toolset.get_connected_account(connection_id)
        print(f"Details for {connection.id}: App={connection.appName}, Status={connection.status}")
        # --- end of snippet
        return connection

    # The document's id is from another account.
    expect_error(HTTPError, lambda: snippet("1d28bbbb-91d0-4181-b4e5-088bab0d7779"), 404, ["not found"])
    connection = snippet(STATE["github_user"])
    check_account(connection, app="github", entity="user_7a9f3b_db_id")


# ================================================================ 000 Auth Lifecycle
@check("initiate_connection OAUTH2 -> INITIATED, browser consent, wait_until_active -> ACTIVE")
def _():
    from composio_openai import ComposioToolSet as Setup, App as SetupApp

    # GMAIL_INTEGRATION_ID: a Gmail integration with your own OAuth app (seed 004's
    # pattern) whose authorization server is the local oidc-provider peer.
    GMAIL_INTEGRATION_ID = Setup().create_integration(
        app=SetupApp.GMAIL,
        auth_mode="OAUTH2",
        force_new_integration=True,
        use_composio_oauth_app=False,
        auth_config={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorization_url": f"{IDP}/auth",
            "token_url": f"{IDP}/token",
            "revocation_url": f"{IDP}/token/revocation",
            "scopes": ["openid", "offline_access"],
            "authorization_params": {"prompt": "consent"},
        },
    ).id

    # --- seed 000_9f611f33a571d37c.txt: Creating a connection
    from composio_openai import ComposioToolSet, Action, App  # noqa: F401

    toolset = ComposioToolSet()

    user_id = "alice"

    connection_req = toolset.initiate_connection(
        integration_id=GMAIL_INTEGRATION_ID,
        entity_id=user_id,
    )
    print(f"Navigate to {connection_req.redirectUrl} to connect your Gmail account")
    # The document's `connection_req.status` does not exist on ConnectionRequestModel (an
    # AttributeError on any backend); the field is `connectionStatus`.
    print(f"Connection status: {connection_req.connectionStatus}")  # Status will be INITIATED

    connection = connection_req.wait_until_active(toolset.client, timeout=20)

    print(f"Connection created: {connection.id}")
    # --- end of snippet
    assert connection_req.connectionStatus == "INITIATED", connection_req
    check_account(connection, app="gmail", entity="alice")
    assert connection.id == connection_req.connectedAccountId
    assert connection.integrationId == GMAIL_INTEGRATION_ID
    assert connection.connectionParams.access_token == REDACTED, connection.connectionParams
    assert connection.connectionParams.token_type.lower() == "bearer", connection.connectionParams
    live = revealing_toolset().get_connected_account(connection.id)
    authorization = live.connectionParams.headers["Authorization"]
    assert authorization.startswith("Bearer ") and REDACTED not in authorization, live.connectionParams
    STATE["gmail_alice"] = connection.id


@check("entity.get_connection(app=GMAIL) and get_connected_account")
def _():
    from composio_openai import ComposioToolSet, App

    toolset = ComposioToolSet()
    connection_id = STATE["gmail_alice"]
    # --- seed 000_9f611f33a571d37c.txt: Checking the status of a connection
    # Wire notes e.4: `toolset.getEntity` is the TypeScript SDK's name; Python's is get_entity.
    entity = toolset.get_entity("default")  # An entity is required to get a connection

    connection = entity.get_connection(app=App.GMAIL)
    print(connection.status)
    # --- end of snippet
    assert connection.id == STATE["gmail_default"], connection
    check_account(connection, app="gmail", entity="default")

    # --- seed 000_9f611f33a571d37c.txt: Getting connection details
    connection = toolset.get_connected_account(connection_id)
    print(connection)

    # Alternatively, you can get the connection details from the entity

    entity = toolset.get_entity("default")  # (getEntity in the document: see above)
    connection = entity.get_connection(app=App.GMAIL)
    print(connection)
    # --- end of snippet
    assert connection.id == STATE["gmail_default"]
    details = toolset.get_connected_account(connection_id)
    check_account(details, app="gmail", entity="alice")
    assert toolset.get_entity("alice").get_connection(app=App.GMAIL).id == connection_id


@check("delete a connection")
def _():
    from composio_openai import ComposioToolSet, App

    toolset = ComposioToolSet()
    connection_id = STATE["gmail_alice"]
    # --- seed 000_9f611f33a571d37c.txt: Deleting a connection (TypeScript in the document)
    # Wire notes e.4: the Python SDK has no delete method for connected accounts; the same
    # request goes through its HTTP client.
    res = toolset.client.http.delete(url=f"/v1/connectedAccounts/{connection_id}")

    print(res)
    # --- end of snippet
    assert res.status_code == 200 and res.json() == {"status": "success"}, res.text
    gone = toolset.get_connected_account(connection_id)
    assert gone.status == "DELETED" and gone.connectionParams.headers == {}, gone
    expect_error(NoItemsFound, lambda: toolset.get_entity("alice").get_connection(app=App.GMAIL))
    again = toolset.client.http.delete(url=f"/v1/connectedAccounts/{connection_id}")
    assert again.status_code == 409, again.text


# ================================================================ what the SDK can get wrong
@check("bad input gets the SDK's own errors, never a 500")
def _():
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()
    # unknown app, integration, connection
    expect_error(HTTPError, lambda: toolset.client.apps.get(name="no-such-app"), 404, ["app"])
    expect_error(
        HTTPError,
        lambda: toolset.get_integration("00000000-0000-4000-8000-000000000000"),
        404,
        ["integration"],
    )
    expect_error(HTTPError, lambda: toolset.get_integration("not-an-id"), 404, ["not-an-id"])
    expect_error(
        HTTPError,
        lambda: toolset.client.integrations.create(app_id="no-such-app", name="x", use_composio_auth=False),
        404,
        ["no-such-app"],
    )
    # bad enum values: a scheme the app lacks, a scheme that does not exist, a bad status
    expect_error(
        HTTPError,
        lambda: toolset.create_integration(app=App.GMAIL, auth_mode="API_KEY", use_composio_oauth_app=False),
        400,
        ["does not support API_KEY", "BEARER_TOKEN"],
    )
    gmail = toolset.client.apps.get(name="GMAIL")
    expect_error(
        HTTPError,
        lambda: toolset.client.integrations.create(
            app_id=gmail.appId, name="x", auth_mode="NOT_A_SCHEME", use_composio_auth=False
        ),
        400,
        ["authScheme"],
    )
    accounts = toolset.client.connected_accounts
    expect_error(
        HTTPError,
        lambda: accounts._raise_if_required(toolset.client.http.get(url="/v1/connectedAccounts?status=NOPE")),
        400,
        ["status"],
    )
    # missing expected params: the SDK checks first; keyport refuses the same on its own
    expect_error(
        InvalidParams,
        lambda: toolset.initiate_connection(integration_id=STATE["gmail_bearer"], entity_id="bob"),
    )
    expect_error(
        HTTPError,
        lambda: toolset.client.connected_accounts.initiate(integration_id=STATE["gmail_bearer"], entity_id="bob"),
        400,
        ["token: is required"],
    )
    expect_error(
        HTTPError,
        lambda: toolset.client.connected_accounts.initiate(
            integration_id="00000000-0000-4000-8000-000000000000", entity_id="bob"
        ),
        404,
        ["integration"],
    )
    # an unknown field in a connection's data is named
    expect_error(
        HTTPError,
        lambda: toolset.client.connected_accounts.initiate(
            integration_id=STATE["gmail_bearer"], entity_id="bob", params={"token": "t", "tokne": "t"}
        ),
        400,
        ["tokne"],
    )


@check("actions: listed and fetched as ActionModel; bad names and input are the SDK's errors")
def _():
    from composio import Action, App
    from composio.constants import LOCAL_CACHE_DIRECTORY
    from composio.exceptions import ConnectedAccountNotFoundError, EnumMetadataNotFound
    from composio_openai import ComposioToolSet

    toolset = ComposioToolSet()
    listed = toolset.client.actions.get(apps=[App.GITHUB])
    names = {a.name for a in listed}
    assert {"GITHUB_CREATE_AN_ISSUE", "GITHUB_GET_THE_AUTHENTICATED_USER"} <= names, names
    assert all(a.appName.lower() == "github" for a in listed), listed
    # An action missing from the SDK's on-disk catalog is fetched by name (GET
    # /v2/actions/{name}, then its app) and cached again.
    cached = LOCAL_CACHE_DIRECTORY / "actions" / "GITHUB_GET_A_REPOSITORY"
    assert cached.exists(), cached
    cached.unlink()
    action = Action("GITHUB_GET_A_REPOSITORY")
    assert (action.app, action.no_auth) == ("GITHUB", False), action
    assert cached.exists()
    # keyport's 404 for an unknown name is what makes the SDK raise its own error.
    expect_error(EnumMetadataNotFound, lambda: Action("GITHUB_NO_SUCH_ACTION").app)
    # Input the action's schema refuses: keyport's 400, raised by the SDK.
    expect_error(
        HTTPError,
        lambda: toolset.execute_action(
            Action.GITHUB_CREATE_AN_ISSUE, params={"owner": "keyport", "repo": "sdk-test"}, entity_id="user_7a9f3b_db_id"
        ),
        400,
        ["title"],
    )
    # An entity without a GitHub connection: the SDK's own error, before any execute call.
    expect_error(
        ConnectedAccountNotFoundError,
        lambda: toolset.execute_action(
            Action.GITHUB_GET_THE_AUTHENTICATED_USER, params={}, entity_id="nobody"
        ),
    )


@check("create_integration: useComposioAuth=True is ignored for a token scheme")
def _():
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()
    gmail = toolset.client.apps.get(name="GMAIL")
    created = toolset.client.integrations.create(
        app_id=gmail.appId, name="GMAIL_composio_auth", auth_mode="BEARER_TOKEN", use_composio_auth=True
    )
    assert created.authScheme == "BEARER_TOKEN" and created.appName == "gmail", created
    assert [f.name for f in created.expectedInputFields] == ["token"], created


@check("a trailing slash in the base URL (/api//v1/...) works")
def _():
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet(base_url=BASE + "/")
    assert len(toolset.get_integrations(app=App.GITHUB)) == 2
    assert toolset.get_connected_account(STATE["github_user"]).status == "ACTIVE"


@check("delete an integration takes its connections with it")
def _():
    from composio_openai import App, ComposioToolSet

    toolset = ComposioToolSet()
    integration_id = STATE["gmail_oauth_placeholder"]
    toolset.client.integrations.remove(integration_id)
    assert integration_id not in [i.id for i in toolset.get_integrations(app=App.GMAIL)]
    expect_error(
        HTTPError,
        lambda: toolset.client.connected_accounts.initiate(integration_id=integration_id, entity_id="bob"),
        404,
        ["integration"],
    )
