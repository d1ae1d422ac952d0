"""An MCP host, as hosts spawn stdio servers: the official MCP Python SDK's client
(`mcp`, tests/peers/requirements-v3.txt) over stdio, for driving `keyport mcp bridge NAME`.

    python bridge_client.py [--call TOOL [--args JSON]]... [--calls N --interval SECONDS]
        [--declare-url-elicitation] [--timeout SECONDS] -- COMMAND [ARG...]

Spawns COMMAND (the environment is inherited whole), runs initialize, tools/list, then:
each `--call TOOL` with its `--args` JSON object (the n-th --args goes with the n-th
--call; a missing one is {}), then with `--calls N` a loop of N calls alternating
echo and add, SECONDS apart (to run across access-token expiries). Prints ONE JSON line
on stdout (see README.md beside this file). Exit 0 whenever the summary could be
written, call errors included; 1 if the harness itself failed (spawn, initialize,
tools/list). Any failure outside a single call ("ok": false with "fatal": what it was)
is in the summary either way; 2 on bad usage.
"""

import argparse
import json
import os
import sys
import time
import traceback

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

import mcp.types as types


def parse_args(argv):
    if "--" not in argv:
        print("bridge_client.py: the command to spawn goes after --", file=sys.stderr)
        sys.exit(2)
    split = argv.index("--")
    own, command = argv[:split], argv[split + 1 :]
    if not command:
        print("bridge_client.py: no command after --", file=sys.stderr)
        sys.exit(2)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--call", action="append", default=[], help="a tool to call (repeatable)")
    p.add_argument("--args", action="append", default=[], help="JSON arguments of the matching --call")
    p.add_argument("--calls", type=int, default=0, help="loop of N echo/add calls")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between loop calls")
    p.add_argument("--declare-url-elicitation", action="store_true", help="declare elicitation: {url: {}}")
    p.add_argument("--timeout", type=float, default=60, help="seconds for each request")
    args = p.parse_args(own)
    if len(args.args) > len(args.call):
        p.error("more --args than --call")
    try:
        args.call_args = [json.loads(a) for a in args.args] + [{}] * (len(args.call) - len(args.args))
    except ValueError as e:
        p.error(f"--args is not JSON: {e}")
    if not all(isinstance(a, dict) for a in args.call_args):
        p.error("--args must be a JSON object")
    args.command = command
    return args


class UrlOnlySession(ClientSession):
    """Declares `elicitation: {url: {}}` only (the SDK declares form and url together)."""

    def _build_capabilities(self, version):
        caps = super()._build_capabilities(version)
        return caps.model_copy(update={"elicitation": types.ElicitationCapability(url=types.UrlElicitationCapability())})


def error_json(e):
    if isinstance(e, MCPError):
        return {"code": e.code, "message": e.message, "data": e.data}
    return {"code": None, "message": f"{type(e).__name__}: {e}", "data": None}


def result_json(result):
    return {
        "is_error": bool(result.is_error),
        "text": "\n".join(b.text for b in result.content if b.type == "text"),
        "structured": result.structured_content,
    }


async def run(args, summary):
    notes = summary["notifications"]

    async def on_log(params):
        notes["logging"].append(
            {"level": params.level, "data": params.data, "logger": params.logger, "at": round(time.time(), 3)}
        )

    async def on_message(message):
        if isinstance(message, Exception):
            notes["transport_errors"].append(repr(message))
            return
        method = getattr(getattr(message, "root", message), "method", None) or getattr(message, "method", None)
        if method and method not in ("notifications/message", "notifications/progress"):
            notes["other"].append(method)

    async def on_elicit(_context, params):
        summary["elicitation_requests"].append(params.model_dump(by_alias=True, mode="json", exclude_none=True))
        return types.ElicitResult(action="decline")

    env = dict(os.environ)
    params = StdioServerParameters(command=args.command[0], args=args.command[1:], env=env)
    session_cls = UrlOnlySession if args.declare_url_elicitation else ClientSession
    kwargs = {"logging_callback": on_log, "message_handler": on_message, "read_timeout_seconds": args.timeout}
    if args.declare_url_elicitation:
        kwargs["elicitation_callback"] = on_elicit
    async with stdio_client(params) as (read, write), session_cls(read, write, **kwargs) as session:
        init = await session.initialize()
        summary["server_info"] = {"name": init.server_info.name, "version": init.server_info.version}
        summary["protocol_version"] = init.protocol_version
        summary["declared_capabilities"] = session._build_capabilities(init.protocol_version).model_dump(
            by_alias=True, mode="json", exclude_none=True
        )
        tools = (await session.list_tools()).tools
        summary["tools"] = [t.name for t in tools]
        summary["initialized"] = True

        async def call(name, arguments):
            entry = {"tool": name, "args": arguments, "ok": False, "progress": []}

            async def on_progress(progress, total, message):
                p = {"progress": progress, "total": total, "message": message}
                entry["progress"].append(p)
                notes["progress"].append({"tool": name, **p})

            started = time.monotonic()
            try:
                result = await session.call_tool(name, arguments, progress_callback=on_progress)
                entry.update(result_json(result))
                entry["ok"] = not result.is_error
                entry["error"] = None
            except Exception as e:  # noqa: BLE001 - every call's failure goes in the summary
                entry["error"] = error_json(e)
            entry["elapsed_ms"] = round((time.monotonic() - started) * 1000)
            return entry

        for name, arguments in zip(args.call, args.call_args, strict=True):
            summary["calls"].append(await call(name, arguments))

        if args.calls:
            loop = summary["loop"] = {"calls": 0, "successes": 0, "failures": 0, "errors": [], "results": []}
            for i in range(args.calls):
                if i:
                    await anyio.sleep(args.interval)
                if i % 2 == 0:
                    entry = await call("echo", {"text": f"loop {i}"})
                    good = entry["ok"] and entry.get("text") == f"loop {i}"
                else:
                    entry = await call("add", {"a": i, "b": 1})
                    good = entry["ok"] and (entry.get("structured") or {}).get("sum") == i + 1
                loop["calls"] += 1
                loop["successes" if good else "failures"] += 1
                loop["results"].append({"i": i, "tool": entry["tool"], "ok": good, "at": round(time.time(), 3)})
                if not good:
                    loop["errors"].append({"i": i, "error": entry.get("error"), "text": entry.get("text")})


def main():
    args = parse_args(sys.argv[1:])
    summary = {
        "ok": True,
        "fatal": None,
        "initialized": False,
        "server_info": None,
        "protocol_version": None,
        "declared_capabilities": None,
        "tools": [],
        "calls": [],
        "loop": None,
        "notifications": {"logging": [], "progress": [], "other": [], "transport_errors": []},
        "elicitation_requests": [],
    }
    code = 0
    try:
        anyio.run(run, args, summary)
    except BaseException as e:  # noqa: BLE001 - the harness failed; say why in the summary
        if isinstance(e, KeyboardInterrupt):
            raise
        inner = e
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        summary["ok"] = False
        summary["fatal"] = error_json(inner) if isinstance(inner, Exception) else repr(inner)
        traceback.print_exception(e, file=sys.stderr)
        # Before initialize finished, the harness failed; after, the spawned server did
        # (e.g. it died mid-run): the summary says so, and the exit code stays 0.
        code = 0 if summary["initialized"] else 1
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
