#!/usr/bin/python3
"""A tiny MCP server over stdio, for the systemd checks: newline-delimited
JSON-RPC on stdin and stdout, one tool, `echo`, which answers with its
`text` argument. Standard library only.

It answers `initialize` (with the client's protocol version when it knows
it), `ping`, `tools/list` and `tools/call`; ignores notifications; exits 0
at the end of its input or on SIGTERM. When ECHO_TOKEN is in its
environment (a secret, from the wrapper's `secretEnv`), it says so on
stderr with the value's length, never the value."""

import json
import os
import signal
import sys

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18")
TOOL = {
    "name": "echo",
    "description": "Answers with its text.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
    "annotations": {"readOnlyHint": True},
}


def result(params: dict, method: str):
    """The result of a request, or raises (code, message)."""
    if method == "initialize":
        asked = params.get("protocolVersion")
        return {
            "protocolVersion": asked if asked in VERSIONS else VERSIONS[-1],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "hwc-check-echo", "version": "1"},
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        if params.get("name") != "echo":
            raise ValueError(-32602, f"unknown tool {params.get('name')!r}")
        text = (params.get("arguments") or {}).get("text")
        if not isinstance(text, str):
            raise ValueError(-32602, "echo needs a string `text`")
        return {"content": [{"type": "text", "text": text}], "isError": False}
    raise ValueError(-32601, f"method {method!r} not found")


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    token = os.environ.get("ECHO_TOKEN")
    if token is not None:
        print(f"ECHO_TOKEN is set ({len(token.strip())} characters)", file=sys.stderr, flush=True)
    print(f"hwc-check-echo: serving MCP on stdio (pid {os.getpid()})", file=sys.stderr, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            continue
        if not isinstance(message, dict) or "method" not in message:
            continue  # a response, or nonsense: nothing to answer
        if "id" not in message:
            continue  # a notification
        try:
            answer = {"result": result(message.get("params") or {}, message["method"])}
        except ValueError as err:
            code, text = err.args
            answer = {"error": {"code": code, "message": text}}
        send({"jsonrpc": "2.0", "id": message["id"], **answer})


if __name__ == "__main__":
    main()
