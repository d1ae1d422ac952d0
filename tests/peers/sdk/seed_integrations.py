"""The seed documents on integrations: 001 Auth Concepts, 004 Authentication and
Integrations. Run by snippets.py, in order.
"""

from harness import HTTPError, SERVER, REDACTED, STATE, check, expect_error, raw


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
