"""A minimal stdio -> Streamable HTTP MCP bridge with one fixed bearer token: the shape of
`keyport mcp bridge NAME` without keyport, so tests/peers/mcp/selftest.py can prove that
bridge_client.py and remote.py work before keyport's bridge exists. Not a reference for
token handling (the token is fixed; keyport fetches a fresh one per request).

    python token_bridge.py --url http://127.0.0.1:PORT/mcp --token ACCESS_TOKEN

Reads newline-delimited JSON-RPC from stdin, POSTs each message to the URL
(Accept: application/json, text/event-stream; the Mcp-Session-Id and
MCP-Protocol-Version the server set), writes every JSON-RPC message of the answer (a JSON
body or the events of an SSE stream) to stdout, one per line. An HTTP error answering a
request becomes a JSON-RPC error for it (code -32603, data {"status", "www_authenticate"}).
Logs to stderr; exits when stdin closes.
"""

import argparse
import asyncio
import json
import sys

import httpx2


class Bridge:
    def __init__(self, url, token):
        self.url = url
        self.http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300))
        self.token = token
        self.session_id = None
        self.protocol_version = None

    def emit(self, message):
        sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def headers(self):
        h = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        if self.session_id:
            h["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            h["MCP-Protocol-Version"] = self.protocol_version
        return h

    def seen(self, message):
        result = message.get("result") if isinstance(message, dict) else None
        if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str):
            self.protocol_version = result["protocolVersion"]

    async def forward(self, message):
        is_request = "id" in message and "method" in message
        try:
            async with self.http.stream("POST", self.url, json=message, headers=self.headers()) as resp:
                if resp.headers.get("mcp-session-id"):
                    self.session_id = resp.headers["mcp-session-id"]
                if resp.status_code >= 400:
                    body = (await resp.aread()).decode(errors="replace")
                    print(f"token_bridge: HTTP {resp.status_code}: {body[:300]}", file=sys.stderr)
                    if is_request:
                        self.emit(
                            {
                                "jsonrpc": "2.0",
                                "id": message["id"],
                                "error": {
                                    "code": -32603,
                                    "message": f"HTTP {resp.status_code} from the remote MCP server",
                                    "data": {
                                        "status": resp.status_code,
                                        "www_authenticate": resp.headers.get("www-authenticate"),
                                    },
                                },
                            }
                        )
                    return
                ctype = resp.headers.get("content-type", "")
                if ctype.startswith("text/event-stream"):
                    data = []
                    async for line in resp.aiter_lines():
                        if line.startswith("data:"):
                            data.append(line[5:].lstrip())
                        elif line == "" and data:
                            payload = json.loads("\n".join(data))
                            data = []
                            self.seen(payload)
                            self.emit(payload)
                elif ctype.startswith("application/json"):
                    payload = json.loads(await resp.aread())
                    self.seen(payload)
                    self.emit(payload)
        except Exception as e:  # noqa: BLE001 - the host hears about it as an error
            print(f"token_bridge: {e!r}", file=sys.stderr)
            if is_request:
                self.emit({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32603, "message": str(e)}})


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    args = p.parse_args()
    bridge = Bridge(args.url, args.token)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()
    while line := await reader.readline():
        if not line.strip():
            continue
        message = json.loads(line)
        if isinstance(message, dict) and message.get("method") == "initialize":
            await bridge.forward(message)  # the session id must be known before the rest
            continue
        task = asyncio.create_task(bridge.forward(message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    if bridge.session_id:
        try:
            await bridge.http.delete(args.url, headers=bridge.headers())
        except Exception:  # noqa: BLE001, S110 - best effort
            pass


if __name__ == "__main__":
    asyncio.run(main())
