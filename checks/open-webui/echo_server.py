"""A stdio MCP server with one tool, `shout`, in plain Python (no SDK):
enough for the gateway to wrap and for Open WebUI to call through it."""

import json
import sys

TOOL = {
    "name": "shout",
    "description": "Says the given text back in capitals.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
}


def answer(message):
    method = message.get("method")
    if method == "initialize":
        return {"protocolVersion": message["params"].get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {}}, "serverInfo": {"name": "shout", "version": "1"}}
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        text = message["params"].get("arguments", {}).get("text", "")
        return {"content": [{"type": "text", "text": text.upper()}], "isError": False}
    if method == "ping":
        return {}
    return None


for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    result = answer(message)
    if result is None:
        reply = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "no such method"}}
    else:
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
