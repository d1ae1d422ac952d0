"""The seed document 001 Creating Connections. Run by snippets.py, in order."""

import builtins

from harness import HTTPError, NoItemsFound, REDACTED, STATE, check, expect_error, raw, revealing_toolset, check_account


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
