"""keyport as an MCP server, driven by the official MCP Python SDK (`mcp`, in
tests/peers/requirements-v3.txt) over stdio (`keyport mcp serve`) or Streamable HTTP
(`/mcp` on `keyport serve`), as the config's `transport` says: initialize, the entity's
exact tools with their schemas and annotations, a GitHub action and keyport_proxy through
the GitHub stand-in, the connection list, a connect link, and the failures a model must be
able to act on. Run by tests/it/mcp.rs, which sets the environment below; each check prints
`ok: …` or `FAIL: …`, and offline.py prints the network tally and the totals last. Over
HTTP, every byte sent and received is written to the config's `traffic` file.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from offline import get_json, record  # noqa: E402 - first: its audit hook must see the SDK's import

import json  # noqa: E402
import traceback  # noqa: E402

import anyio  # noqa: E402
import httpx2  # noqa: E402
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

import mcp.types as types  # noqa: E402

CONFIG = json.loads(os.environ["KEYPORT_MCP_TEST"])
GITHUB = CONFIG["github"]
SERVER = CONFIG["server"]


def github_requests():
    return get_json(f"{GITHUB}/__requests")


def text_of(result):
    return "\n".join(block.text for block in result.content if block.type == "text")


def json_of(result):
    assert not result.is_error, text_of(result)
    return json.loads(result.content[0].text)


async def check(label, body, session):
    try:
        await body(session)
    except Exception:  # noqa: BLE001 - every failure is reported, then counted
        record(label, traceback.format_exc())
    else:
        record(label)


async def tools_list(session):
    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert sorted(tools) == sorted(CONFIG["tools"]), sorted(tools)
    create = tools["GITHUB_CREATE_AN_ISSUE"]
    assert create.input_schema["type"] == "object"
    assert "title" in create.input_schema["required"], create.input_schema
    assert create.annotations.read_only_hint is False
    assert create.annotations.idempotent_hint is False
    assert create.annotations.open_world_hint is True
    user = tools["GITHUB_GET_THE_AUTHENTICATED_USER"]
    assert user.annotations.read_only_hint is True and user.annotations.destructive_hint is False
    proxy = tools["keyport_proxy"]
    assert set(proxy.input_schema["required"]) == {"method", "endpoint"}, proxy.input_schema
    assert tools["keyport_list_connections"].annotations.read_only_hint is True


async def action(session):
    before = len(github_requests())
    result = await session.call_tool(
        "GITHUB_CREATE_AN_ISSUE", {"owner": "octo", "repo": "hello", "title": "from MCP"}
    )
    issue = json_of(result)
    assert issue["title"] == "from MCP" and issue["number"] > 0, issue
    seen = github_requests()
    assert len(seen) == before + 1, seen
    sent = seen[-1]
    assert sent["path"] == "/repos/octo/hello/issues" and sent["method"] == "POST", sent
    assert sent["headers"]["authorization"] == "Bearer " + CONFIG["github_token"], "not injected"


async def proxy(session):
    result = await session.call_tool(
        "keyport_proxy",
        {"app": "github", "method": "GET", "endpoint": "/user", "headers": {"X-Trace": "mcp-1"}},
    )
    answer = json_of(result)
    assert answer["status"] == 200 and answer["body"]["login"] == "keyport-octocat", answer
    sent = github_requests()[-1]
    assert sent["headers"]["authorization"] == "Bearer " + CONFIG["github_token"], "not injected"
    assert sent["headers"]["x-trace"] == "mcp-1", sent["headers"]
    missing = await session.call_tool(
        "keyport_proxy", {"app": "github", "method": "GET", "endpoint": "/no/such/thing"}
    )
    assert missing.is_error, missing
    said = text_of(missing)
    assert "404" in said and "Not Found" in said, said


async def connections(session):
    listed = json_of(await session.call_tool("keyport_list_connections", {}))
    apps = [(c["app"], c["status"]) for c in listed["connections"]]
    assert apps == [("github", "ACTIVE")], listed
    assert listed["connections"][0]["id"] == CONFIG["alice_connection"], listed


async def connect(session):
    link = json_of(await session.call_tool("keyport_connect", {"app": "gmail"}))
    assert link["url"].startswith(SERVER + "/"), link
    assert link["expires_at"], link
    none = await session.call_tool("keyport_connect", {"app": "slack"})
    assert none.is_error and "no enabled integration for slack" in text_of(none), text_of(none)
    unknown = await session.call_tool("keyport_connect", {"app": "no-such-app"})
    assert unknown.is_error and "no-such-app" in text_of(unknown), text_of(unknown)


CHANGED = []


async def on_message(message):
    if isinstance(message, types.ToolListChangedNotification):
        CHANGED.append(message)


async def connect_in_browser(session):
    before = {tool.name for tool in (await session.list_tools()).tools}
    assert not any(name.startswith("GMAIL_") for name in before), before
    link = json_of(await session.call_tool("keyport_connect", {"app": "gmail"}))
    print(f"CONSENT {link['url']}", flush=True)
    said = await anyio.to_thread.run_sync(sys.stdin.readline)
    assert said.strip() == "DONE", said
    with anyio.fail_after(20):
        while not CHANGED:
            await anyio.sleep(0.1)
    after = {tool.name for tool in (await session.list_tools()).tools}
    assert {"GMAIL_SEND_EMAIL", "GMAIL_FETCH_EMAILS"} <= after, after
    listed = json_of(await session.call_tool("keyport_list_connections", {}))
    assert ("gmail", "ACTIVE") in [(c["app"], c["status"]) for c in listed["connections"]], listed


async def not_connected(session):
    before = len(github_requests())
    result = await session.call_tool("GMAIL_FETCH_EMAILS", {})
    assert result.is_error, result
    said = text_of(result)
    assert "alice has no ACTIVE connection to gmail" in said, said
    assert SERVER + "/" in said, said
    assert len(github_requests()) == before


async def other_entity(session):
    before = len(github_requests())
    result = await session.call_tool(
        "keyport_proxy",
        {"connected_account_id": CONFIG["bob_connection"], "method": "GET", "endpoint": "/user"},
    )
    assert result.is_error, result
    assert "restricted" in text_of(result) or "not found" in text_of(result), text_of(result)
    assert len(github_requests()) == before, "bob's connection was used"


async def bad_input(session):
    before = len(github_requests())
    result = await session.call_tool("GITHUB_CREATE_AN_ISSUE", {"owner": "octo", "repo": "hello"})
    assert result.is_error and "title: is required" in text_of(result), text_of(result)
    result = await session.call_tool(
        "keyport_proxy", {"app": "github", "method": "BREW", "endpoint": "/user"}
    )
    assert result.is_error and "method" in text_of(result), text_of(result)
    assert len(github_requests()) == before, "an invalid input was sent"


async def unknown_tool(session):
    try:
        await session.call_tool("keyport_no_such_tool", {})
    except MCPError as error:
        assert error.code == -32602 and "keyport_no_such_tool" in error.message, error
    else:
        raise AssertionError("an unknown tool was not a JSON-RPC error")
    await session.send_ping()
    assert (await session.list_tools()).tools, "stopped serving"


CHECKS = [
    ("tools/list: exactly alice's tools, with schemas and annotations", tools_list),
    ("tools/call GITHUB_CREATE_AN_ISSUE through the stand-in, credential injected", action),
    ("keyport_proxy GET /user with a header; a 404 is an error result with status and body", proxy),
    ("keyport_list_connections: alice's own connection only", connections),
    ("keyport_connect: a connect link; no integration says so", connect),
    ("an app without a connection: says so, with a connect link, nothing sent", not_connected),
    ("bob's connection is out of reach, nothing sent", other_entity),
    ("schema-invalid arguments name the field, nothing sent", bad_input),
    ("an unknown tool is a JSON-RPC error and the server keeps serving", unknown_tool),
    ("keyport_connect -> Chromium -> the real OAuth server -> tools/list_changed, gmail's tools", connect_in_browser),
]


class Recorded(httpx2.AsyncByteStream):
    """A response body passed through as it arrives, each chunk also written to `log`."""

    def __init__(self, stream, log):
        self.stream, self.log = stream, log

    async def __aiter__(self):
        async for chunk in self.stream:
            self.log.write(chunk)
            self.log.flush()
            yield chunk

    async def aclose(self):
        await self.stream.aclose()


class Recording(httpx2.AsyncBaseTransport):
    """The SDK's HTTP traffic, both ways, into one file: request lines, headers and bodies,
    response headers and bodies (server-sent events included)."""

    def __init__(self, path):
        self.inner = httpx2.AsyncHTTPTransport()
        self.log = open(path, "ab")  # noqa: SIM115 - closed with the transport

    async def handle_async_request(self, request):
        body = await request.aread()
        head = f"> {request.method} {request.url}\n{dict(request.headers)}\n"
        self.log.write(head.encode() + body + b"\n")
        response = await self.inner.handle_async_request(request)
        self.log.write(f"< {response.status_code} {dict(response.headers)}\n".encode())
        response.stream = Recorded(response.stream, self.log)
        return response

    async def aclose(self):
        await self.inner.aclose()
        self.log.close()


async def run(read, write):
    async with ClientSession(read, write, message_handler=on_message) as session:
        init = await session.initialize()
        assert init.server_info.name == "keyport", init
        assert init.capabilities.tools is not None, init
        record("initialize: keyport, tools capability")
        for label, body in CHECKS:
            await check(label, body, session)


async def main():
    if CONFIG["transport"] == "stdio":
        params = StdioServerParameters(command=CONFIG["command"][0], args=CONFIG["command"][1:])
        async with stdio_client(params) as (read, write):
            await run(read, write)
        return
    headers = {"Authorization": "Bearer " + CONFIG["key"]}
    transport = Recording(CONFIG["traffic"])
    async with httpx2.AsyncClient(headers=headers, transport=transport, timeout=60) as http:
        async with streamable_http_client(CONFIG["url"], http_client=http) as (read, write):
            await run(read, write)


anyio.run(main)
