"""The seed documents on entities: 001 Entity, 002 Entities, 003 Connecting Users Overview.
Run by snippets.py, in order.
"""

from harness import HTTPError, SERVER, GITHUB, GITHUB_TOKEN, REDACTED, STATE, check, expect_error, revealing_toolset, check_account, github_requests


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
