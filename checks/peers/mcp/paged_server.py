"""A stdio MCP server, built on the official Python SDK's low-level
`Server`, that pages its tool list: none of the real servers these checks
run (server-everything, server-filesystem, mcp-server-time) returns a
`nextCursor` for tools or resources, and a gateway that stops at the first
page must fail somewhere.

    paged_server.py [--tools 25] [--page 10]

Tools `item-00` ... (no annotations, so a readOnly policy hides them),
`lookup` (an input schema with `$defs` and `$ref`), `tree` (a recursive
`$ref`) and `wipe` (destructiveHint). Every call answers with one text item
naming the tool and its arguments. The cursor is the offset of the next
page, as a decimal string.
"""

from __future__ import annotations

import argparse
import json

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

LOOKUP_SCHEMA = {
    "type": "object",
    "$defs": {
        "Place": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "country": {"$ref": "#/$defs/Country"}},
            "required": ["city"],
        },
        "Country": {"type": "string", "enum": ["NO", "SE", "DK"]},
    },
    "properties": {"place": {"$ref": "#/$defs/Place"}, "limit": {"type": "integer"}},
    "required": ["place"],
}

TREE_SCHEMA = {
    "type": "object",
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
        },
    },
    "properties": {"root": {"$ref": "#/$defs/Node"}},
    "required": ["root"],
}


def all_tools(count: int) -> list[types.Tool]:
    tools = [
        types.Tool(
            name=f"item-{i:02}",
            description=f"Item number {i}.",
            input_schema={"type": "object", "properties": {"note": {"type": "string"}}},
        )
        for i in range(count)
    ]
    tools += [
        types.Tool(name="lookup", description="Looks a place up.", input_schema=LOOKUP_SCHEMA,
                   annotations=types.ToolAnnotations(read_only_hint=True)),
        types.Tool(name="tree", description="Counts a tree's nodes.", input_schema=TREE_SCHEMA,
                   annotations=types.ToolAnnotations(read_only_hint=True)),
        types.Tool(name="wipe", description="Deletes everything.", input_schema={"type": "object"},
                   annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=True)),
    ]
    return tools


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=int, default=25)
    parser.add_argument("--page", type=int, default=10)
    args = parser.parse_args()
    tools = all_tools(args.tools)

    async def list_tools(ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + args.page
        return types.ListToolsResult(tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None)

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name not in {t.name for t in tools}:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        text = f"{params.name} {json.dumps(params.arguments or {}, sort_keys=True)}"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    server = Server("paged", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


if __name__ == "__main__":
    main()
