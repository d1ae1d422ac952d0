"""What the SDK can get wrong: calls beside the seed snippets that keyport must answer as
Composio does. Run by snippets.py, in order.
"""

from harness import HTTPError, InvalidParams, BASE, STATE, check, expect_error


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
    # The wider catalog: Gmail's shaped fetch, and an app whose actions are new.
    gmail = {a.name: a for a in toolset.client.actions.get(apps=[App.GMAIL])}
    assert {"GMAIL_FETCH_EMAILS", "GMAIL_LIST_LABELS"} <= set(gmail), gmail.keys()
    fetch = gmail["GMAIL_FETCH_EMAILS"]
    assert "max_results" in fetch.parameters.properties, fetch.parameters
    assert Action("TRELLO_CREATE_CARD").app == "TRELLO"
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
