"""Toolkits, tools, execution, the proxy and the SDK's typed errors through `composio`
0.30.0. Run by snippets.py after accounts.py."""

from composio import exceptions
from composio_client import BadRequestError, NotFoundError

from harness import GITHUB_TOKEN, STATE, check, composio, expect_error, github_requests


@check("toolkits: get, list, categories")
def _():
    github = composio.toolkits.get("github")
    assert github.slug == "github" and github.name == "GitHub", github
    modes = {d.mode for d in github.auth_config_details}
    assert {"OAUTH2", "BEARER_TOKEN"} <= modes, modes
    (bearer,) = [d for d in github.auth_config_details if d.mode == "BEARER_TOKEN"]
    assert [f.name for f in bearer.fields.connected_account_initiation.required] == ["token"], bearer
    assert github.meta.tools_count >= 1 and github.meta.version in github.meta.available_versions, github.meta
    fields = composio.toolkits.get_connected_account_initiation_fields("notion", "API_KEY")
    assert "api_key" in [f.name for f in fields], fields
    page = composio.toolkits.list(limit=5)
    assert len(page.items) == 5 and page.total_items > 5 and page.next_cursor, page
    second = composio.toolkits.list(limit=5, cursor=page.next_cursor)
    assert not {t.slug for t in page.items} & {t.slug for t in second.items}, second
    categories = composio.toolkits.list_categories()
    category = github.meta.categories[0].id
    assert category in [c.id for c in categories], categories
    in_category = composio.toolkits.list(category=category).items
    assert "github" in [t.slug for t in in_category], in_category


@check("tools: a new toolkit lists its tools with their schemas")
def _():
    trello = {t.slug: t for t in composio.tools.get_raw_composio_tools(toolkits=["trello"])}
    assert {"TRELLO_CREATE_CARD", "TRELLO_GET_MY_BOARDS"} <= set(trello), trello.keys()
    card = trello["TRELLO_CREATE_CARD"]
    assert card.toolkit.slug == "trello" and "idList" in card.input_parameters["required"], card
    fetch = composio.tools.get_raw_composio_tool_by_slug("GMAIL_FETCH_EMAILS")
    assert "max_results" in fetch.input_parameters["properties"], fetch.input_parameters


@check("tools.execute GITHUB_CREATE_AN_ISSUE with a version, through the GitHub stand-in")
def _():
    tool = composio.tools.get_raw_composio_tool_by_slug("GITHUB_CREATE_AN_ISSUE")
    version = tool.version
    assert tool.toolkit.slug == "github" and version in tool.available_versions and version != "latest", tool
    try:
        composio.tools.execute("GITHUB_CREATE_AN_ISSUE", {"owner": "o", "repo": "r", "title": "t"},
                               user_id="walker-1")
    except exceptions.ToolVersionRequiredError:
        pass
    else:
        raise AssertionError("the SDK let an unpinned execution through")
    result = composio.tools.execute(
        "GITHUB_CREATE_AN_ISSUE",
        {"owner": "keyport", "repo": "sdk3-test", "title": "Opened through v3"},
        user_id="walker-1",
        version=version,
    )
    assert result["successful"] is True and result["error"] is None, result
    assert result["data"]["title"] == "Opened through v3", result
    (sent,) = [r for r in github_requests() if r["method"] == "POST"]
    assert sent["path"] == "/repos/keyport/sdk3-test/issues", sent
    assert sent["headers"]["authorization"] == f"Bearer {GITHUB_TOKEN}", sent
    assert sent["body"] == {"title": "Opened through v3"}, sent
    by_account = composio.tools.execute(
        "GITHUB_GET_THE_AUTHENTICATED_USER", {}, connected_account_id=STATE["walkers"][2], version=version,
    )
    assert by_account["data"]["login"] == "keyport-octocat", by_account


@check("tools.proxy with a header parameter")
def _():
    answer = composio.tools.proxy(
        endpoint="/user",
        method="GET",
        connected_account_id=STATE["walkers"][3],
        parameters=[{"name": "X-Keyport-Check", "type": "header", "value": "v3-proxy"},
                    {"name": "per_page", "type": "query", "value": "7"}],
    )
    assert answer.status == 200 and answer.data["login"] == "keyport-octocat", answer
    last = github_requests()[-1]
    assert last["path"] == "/user?per_page=7" and last["headers"]["x-keyport-check"] == "v3-proxy", last
    assert last["headers"]["authorization"] == f"Bearer {GITHUB_TOKEN}", last


@check("bad input raises the SDK's own typed errors with keyport's message, never a 500")
def _():
    unknown = "ac_" + "0" * 32
    expect_error(NotFoundError, lambda: composio.auth_configs.get(unknown), 404, f'auth config "{unknown}" not found')
    expect_error(NotFoundError, lambda: composio.connected_accounts.initiate("alice", unknown), 404, "not found")
    expect_error(NotFoundError, lambda: composio.toolkits.get("no-such-toolkit"), 404, "no-such-toolkit")
    expect_error(NotFoundError, lambda: composio.auth_configs.create(
        "no-such-toolkit", {"type": "use_custom_auth", "auth_scheme": "API_KEY"}), 404, "no-such-toolkit")
    expect_error(BadRequestError, lambda: composio.auth_configs.create(
        "gmail", {"type": "use_composio_managed_auth"}), 400, "client_id", "client_secret")
    expect_error(BadRequestError, lambda: composio.connected_accounts.initiate(
        "dave", STATE["github"], config={"auth_scheme": "API_KEY", "val": {"status": "ACTIVE", "api_key": "k"}},
    ), 400, "API_KEY", "BEARER_TOKEN")
    expect_error(BadRequestError, lambda: composio.connected_accounts.initiate(
        "dave", STATE["notion"], config={"auth_scheme": "API_KEY", "val": {"status": "ACTIVE"}},
    ), 400, "api_key")
    expect_error(BadRequestError, lambda: composio.tools.execute(
        "GITHUB_GET_THE_AUTHENTICATED_USER", {}, user_id="walker-1", version="1.0.0",
        custom_auth_params={"parameters": [{"name": "Authorization", "in": "header", "value": "x"}]},
    ), 400, "custom_auth_params")
    expect_error(BadRequestError, lambda: composio.tools.execute(
        "GITHUB_GET_THE_AUTHENTICATED_USER", {}, user_id="walker-1", version="20990101_00",
    ), 400, "version")
    expect_error(NotFoundError, lambda: composio.connected_accounts.get("ca_" + "f" * 32), 404, "not found")
