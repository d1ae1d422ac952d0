"""The seed document 000 Auth Lifecycle. Run by snippets.py, in order."""

from harness import NoItemsFound, REDACTED, oidc_client, STATE, check, expect_error, revealing_toolset, check_account


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
        auth_config=oidc_client(),
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
