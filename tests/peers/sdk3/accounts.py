"""Auth configs and connected accounts through `composio` 0.30.0. Run by snippets.py, in
order: later checks use what earlier ones stored in STATE."""

from composio import exceptions
from composio_client import NotFoundError

from harness import CLIENT_ID, GITHUB, GITHUB_TOKEN, REDACTED, SERVER, STATE
from harness import check, composio, consent, oidc_client, raw


def consent_to(request):
    """Checks `request` is INITIATED with keyport's connect link, and completes that flow."""
    assert request.status == "INITIATED" and request.redirect_url.startswith(f"{SERVER}/connect/"), vars(request)
    consent(request.redirect_url)


@check("auth_configs.create: OAUTH2 with own client (the oidc-provider), API_KEY, BEARER_TOKEN")
def _():
    gmail = composio.auth_configs.create("gmail", {
        "type": "use_custom_auth",
        "auth_scheme": "OAUTH2",
        "name": "Gmail through the local provider",
        "credentials": oidc_client(),
    })
    notion = composio.auth_configs.create("notion", {"type": "use_custom_auth", "auth_scheme": "API_KEY"})
    github = composio.auth_configs.create("github", {
        "type": "use_custom_auth", "auth_scheme": "BEARER_TOKEN", "credentials": {"base_url": GITHUB},
    })
    for created, scheme in ((gmail, "OAUTH2"), (notion, "API_KEY"), (github, "BEARER_TOKEN")):
        assert created.id.startswith("ac_") and created.auth_scheme == scheme, created
        assert created.is_composio_managed is False, created
    got = composio.auth_configs.get(gmail.id)
    assert got.name == "Gmail through the local provider" and got.status == "ENABLED", got
    assert got.credentials["client_id"] == CLIENT_ID, got.credentials
    assert got.credentials["client_secret"] == REDACTED, got.credentials
    assert got.toolkit.slug == "gmail" and got.type == "custom" and got.no_of_connections == 0, got
    # One identity: the v1 API reads the same integration by either id.
    assert raw("GET", f"/api/v1/integrations/{gmail.id}")["id"] == got.uuid
    assert composio.auth_configs.get(got.uuid).id == gmail.id
    STATE.update(gmail=gmail.id, notion=notion.id, github=github.id)


@check("initiate with an API key -> ACTIVE at once; the v1 API sees the same account")
def _():
    request = composio.connected_accounts.initiate(
        "alice", STATE["notion"],
        config={"auth_scheme": "API_KEY", "val": {"status": "ACTIVE", "api_key": "secret_notion_1"}},
    )
    assert request.status == "ACTIVE" and request.redirect_url is None, vars(request)
    account = composio.connected_accounts.get(request.id)
    assert account.status == "ACTIVE" and account.user_id == "alice", account
    assert account.toolkit.slug == "notion" and account.auth_config.id == STATE["notion"], account
    assert account.state.val.api_key == REDACTED and account.data["api_key"] == REDACTED, account
    legacy = raw("GET", f"/api/v1/connectedAccounts/{request.id}")
    assert legacy["id"] == account.deprecated.uuid and legacy["entityId"] == "alice", legacy
    STATE["notion_alice"] = request.id


@check("initiate OAUTH2 -> keyport's connect link -> Chromium -> wait_for_connection ACTIVE")
def _():
    request = composio.connected_accounts.initiate("alice", STATE["gmail"])
    consent_to(request)
    account = request.wait_for_connection(timeout=20)
    assert account.status == "ACTIVE" and account.id == request.id, account
    assert account.state.auth_scheme == "OAUTH2" and account.state.val.access_token == REDACTED, account.state
    STATE["gmail_alice"] = request.id


@check("link() -> connect URL with an expiry -> Chromium -> ACTIVE")
def _():
    request = composio.connected_accounts.link("bob", STATE["gmail"])
    consent_to(request)
    account = composio.connected_accounts.wait_for_connection(request.id, timeout=20)
    assert account.status == "ACTIVE" and account.user_id == "bob", account
    link = raw("POST", "/api/v3.1/connected_accounts/link", {"auth_config_id": STATE["gmail"], "user_id": "carol"})
    assert link["redirect_url"].endswith("/" + link["link_token"]) and link["expires_at"] > account.created_at, link
    STATE["gmail_bob"] = request.id


@check("initiate() for a user with an ACTIVE account refuses unless allow_multiple")
def _():
    try:
        composio.connected_accounts.initiate("alice", STATE["gmail"])
    except exceptions.ComposioMultipleConnectedAccountsError:
        pass
    else:
        raise AssertionError("a second account was initiated without allow_multiple")
    second = composio.connected_accounts.initiate("alice", STATE["gmail"], allow_multiple=True)
    assert second.status == "INITIATED" and second.id != STATE["gmail_alice"], vars(second)
    composio.connected_accounts.delete(second.id)


def _page_ids(**query):
    """Every id of a list walked page by page with its cursor, and the pages' counts."""
    ids, pages, cursor = [], [], None
    while True:
        page = composio.connected_accounts.list(cursor=cursor, **query)
        ids += [item.id for item in page.items]
        pages.append((page.current_page, page.total_pages, page.total_items))
        cursor = page.next_cursor
        if cursor is None:
            return ids, pages


@check("list: user_ids, auth_config_ids, toolkit_slugs, statuses, order; a cursor walk over 3 pages")
def _():
    made = []
    for n in range(5):
        made.append(composio.connected_accounts.initiate(
            f"walker-{n}", STATE["github"],
            config={"auth_scheme": "BEARER_TOKEN", "val": {"status": "ACTIVE", "token": GITHUB_TOKEN}},
        ).id)
    ids, pages = _page_ids(auth_config_ids=[STATE["github"]], limit=2)
    assert ids == made, (ids, made)
    assert pages == [(1, 3, 5), (2, 3, 5), (3, 3, 5)], pages
    newest = composio.connected_accounts.list(auth_config_ids=[STATE["github"]], order_direction="desc", limit=1)
    assert newest.items[0].id == made[-1], newest
    mine = composio.connected_accounts.list(user_ids=["alice"])
    assert {i.id for i in mine.items} == {STATE["notion_alice"], STATE["gmail_alice"]}, mine
    two = composio.connected_accounts.list(user_ids=["walker-1", "walker-3"])
    assert [i.id for i in two.items] == [made[1], made[3]], two
    notion = composio.connected_accounts.list(toolkit_slugs=["notion"])
    assert [i.id for i in notion.items] == [STATE["notion_alice"]], notion
    pending = composio.connected_accounts.list(statuses=["INITIATED"], auth_config_ids=[STATE["gmail"]])
    assert [i.user_id for i in pending.items] == ["carol"], pending
    STATE["walkers"] = made


@check("disable / enable a connected account and an auth config")
def _():
    account = STATE["walkers"][0]
    composio.connected_accounts.disable(account)
    got = composio.connected_accounts.get(account)
    assert got.status == "INACTIVE" and got.is_disabled is True, got
    inactive = composio.connected_accounts.list(statuses=["INACTIVE"])
    assert [i.id for i in inactive.items] == [account], inactive
    composio.connected_accounts.enable(account)
    assert composio.connected_accounts.get(account).status == "ACTIVE"
    composio.auth_configs.disable(STATE["notion"])
    assert composio.auth_configs.get(STATE["notion"]).status == "DISABLED"
    listed = [c.id for c in composio.auth_configs.list().items]
    assert STATE["notion"] not in listed and STATE["github"] in listed, listed
    assert composio.connected_accounts.get(STATE["notion_alice"]).auth_config.is_disabled is True
    composio.auth_configs.enable(STATE["notion"])
    got = composio.auth_configs.get(STATE["notion"])
    assert got.status == "ENABLED" and got.no_of_connections == 1, got


@check("auth configs: list by toolkit, update, delete with its accounts")
def _():
    github = composio.auth_configs.list(toolkit_slug="github").items
    assert [c.id for c in github] == [STATE["github"]] and github[0].no_of_connections == 5, github
    composio.auth_configs.update(STATE["github"], options={"type": "custom", "credentials": {"base_url": GITHUB}})
    spare = composio.auth_configs.create("github", {"type": "use_custom_auth", "auth_scheme": "BEARER_TOKEN"})
    doomed = composio.connected_accounts.initiate(
        "walker-9", spare.id, config={"auth_scheme": "BEARER_TOKEN", "val": {"status": "ACTIVE", "token": "t"}},
    ).id
    deleted = composio.auth_configs.delete(spare.id)
    assert deleted.success is True, deleted
    try:
        composio.auth_configs.get(spare.id)
    except NotFoundError:
        pass
    else:
        raise AssertionError("a deleted auth config was found")
    assert composio.connected_accounts.get(doomed).status == "REVOKED"


@check("delete a connected account: REVOKED, out of the lists")
def _():
    account = STATE["walkers"][4]
    assert composio.connected_accounts.delete(account).success is True
    assert composio.connected_accounts.get(account).status == "REVOKED"
    left = [i.id for i in composio.connected_accounts.list(auth_config_ids=[STATE["github"]]).items]
    assert account not in left and len(left) == 4, left
