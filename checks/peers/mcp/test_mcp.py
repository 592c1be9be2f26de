"""hwc-ai-mcp in front of real MCP servers: what Open WebUI (through the
OpenAPI bridge), an MCP client (the official Python SDK) and an operator
(GET /servers) see.

The servers: @modelcontextprotocol/server-everything over stdio,
streamable HTTP and SSE; @modelcontextprotocol/server-filesystem, whose
write tools say destructiveHint (readOnly); mcp-server-time over stdio;
paged_server.py, the official Python SDK's server paging its tool list.
server-everything 2026.8.31 pages neither its tools nor its resources (one
page each, no nextCursor), hence paged_server.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

import anyio
import httpx2
import pytest

from conftest import (
    EVERYTHING_TOOLS,
    FILESYSTEM_DESTRUCTIVE,
    LIMITED_TOOLS,
    PAGED_ITEMS,
    PAGED_TOOLS,
    PROTOCOL_VERSIONS,
    McpHttp,
    StdioPeer,
    alive,
    children,
    cmdline,
    everything_cmd,
    gateway_binary,
    key_file,
    operations,
    refs,
    resolve_pointer,
    rpc_answer,
    stop_process,
    tail,
    venv_bin,
    wait_for,
)

ALL = {"everything", "everything-http", "everything-sse", "time", "files", "limited", "paged", "paged-ro"}


def tool_names(tools) -> set[str]:
    return {t["name"] for t in tools}


def error_kind(response: httpx2.Response) -> str | None:
    try:
        return response.json()["error"]["kind"]
    except (ValueError, KeyError, TypeError):
        return None


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- discovery ---------------------------------------------------------------


def test_health_counts_servers_without_a_key(gateway):
    response = httpx2.get(gateway.url + "/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["servers"] == {"up": len(ALL), "down": 0, "starting": 0}


def test_servers_describe_server_everything_as_it_describes_itself(gateway):
    peer = StdioPeer([everything_cmd(), "stdio"])
    try:
        direct = peer.initialized["result"]
        direct_tools = {t["name"]: t for t in peer.tools()}
    finally:
        peer.close()
    entries = gateway.servers()
    assert set(entries) == ALL
    e = entries["everything"]
    assert e["transport"] == "stdio"
    assert e["state"] == "up" and e["lastError"] is None
    assert e["protocolVersion"] in PROTOCOL_VERSIONS
    assert e["serverInfo"]["name"] == direct["serverInfo"]["name"] == "mcp-servers/everything"
    assert e["serverInfo"]["version"] == direct["serverInfo"]["version"]
    assert e["instructions"] and e["instructions"] == direct.get("instructions")
    for capability in ("tools", "prompts", "resources"):
        assert capability in e["capabilities"], e["capabilities"]
    tools = {t["name"]: t for t in e["tools"]}
    assert EVERYTHING_TOOLS <= set(tools)
    # Every tool the server lists to a plain client, as the server lists it.
    for name, want in direct_tools.items():
        assert name in tools, f"{name} is missing from /servers"
        got = tools[name]
        assert got["inputSchema"] == want["inputSchema"], name
        assert got.get("annotations") == want.get("annotations"), name
        assert got.get("description") == want.get("description"), name
        assert got.get("title") == want.get("title"), name
        assert got.get("outputSchema") == want.get("outputSchema"), name
    echo = tools["echo"]
    assert echo["title"] == "Echo Tool"
    assert echo["inputSchema"]["properties"]["message"]["type"] == "string"
    assert echo["inputSchema"]["required"] == ["message"]
    assert echo["annotations"]["readOnlyHint"] is True
    assert tools["get-structured-content"]["outputSchema"]["type"] == "object"
    assert e["hiddenTools"] == 0
    assert e["restarts"] == 0
    checked = parse_time(e["lastCheck"])
    assert checked.tzinfo is not None
    assert timedelta(0) <= datetime.now(timezone.utc) - checked < timedelta(minutes=5)
    assert isinstance(e["checkDurationSeconds"], (int, float)) and 0 <= e["checkDurationSeconds"] < 20
    assert e["endpoints"] == {"mcp": "/mcp/everything", "openapi": "/openapi/everything/openapi.json"}


def test_servers_by_name_and_an_unknown_name(gateway):
    entry = gateway.entry("time")
    assert entry["name"] == "time"
    missing = gateway.get("/servers/no-such-server")
    assert missing.status_code == 404
    assert isinstance(missing.json()["error"]["message"], str)


def test_check_now_runs_a_check(gateway):
    before = parse_time(gateway.entry("time")["lastCheck"])
    time.sleep(0.05)
    response = gateway.post("/servers/time/check")
    assert response.status_code == 200, response.text
    entry = response.json()
    assert entry["name"] == "time" and entry["state"] == "up"
    assert parse_time(entry["lastCheck"]) > before
    assert gateway.post("/servers/no-such-server/check").status_code == 404


def test_well_known_index(gateway):
    response = gateway.get("/.well-known/mcp.json")
    assert response.status_code == 200, response.text
    listed = {s["name"]: s for s in response.json()["servers"]}
    assert set(listed) == ALL
    for name, s in listed.items():
        assert s["mcp"] == f"/mcp/{name}"
        assert s["openapi"] == f"/openapi/{name}/openapi.json"


def test_mcp_server_time_over_stdio(gateway):
    e = gateway.entry("time")
    assert e["transport"] == "stdio" and e["state"] == "up"
    assert e["serverInfo"]["name"] == "mcp-time"
    tools = {t["name"]: t for t in e["tools"]}
    assert set(tools) == {"get_current_time", "convert_time"}
    assert tools["get_current_time"]["inputSchema"]["required"] == ["timezone"]
    assert tools["get_current_time"]["annotations"]["readOnlyHint"] is True
    assert "outputSchema" in tools["get_current_time"]


def test_streamable_http_and_sse_servers_list_what_stdio_lists(gateway, everything_http, everything_sse):
    entries = gateway.servers()
    assert entries["everything-http"]["transport"] == "streamable-http"
    assert entries["everything-sse"]["transport"] == "sse"
    stdio = {t["name"]: t for t in entries["everything"]["tools"]}
    for name in ("everything-http", "everything-sse"):
        e = entries[name]
        assert e["state"] == "up" and e["lastError"] is None, e
        assert e["serverInfo"]["name"] == "mcp-servers/everything"
        assert e["protocolVersion"] in PROTOCOL_VERSIONS
        got = {t["name"]: t for t in e["tools"]}
        assert set(got) == set(stdio), name
        assert got["echo"]["inputSchema"] == stdio["echo"]["inputSchema"]


def test_a_paged_tool_list_is_read_to_the_end(gateway):
    # paged_server.py answers tools/list 10 tools a page, 3 pages.
    e = gateway.entry("paged")
    assert tool_names(e["tools"]) == PAGED_TOOLS
    assert len(e["tools"]) == len(PAGED_TOOLS)
    assert e["hiddenTools"] == 0
    # Through /mcp: however the gateway pages, following nextCursor gives
    # every tool once.
    client = McpHttp(gateway.url + "/mcp/paged")
    client.init()
    tools = client.tools()
    assert sorted(t["name"] for t in tools) == sorted(PAGED_TOOLS)
    spec = gateway.get("/openapi/paged/openapi.json").json()
    assert {op["operationId"] for _, _, op in operations(spec)} == PAGED_TOOLS


def test_resources_pass_through_mcp(gateway):
    peer = StdioPeer([everything_cmd(), "stdio"])
    try:
        direct = peer.request("resources/list")["result"]
    finally:
        peer.close()
    client = McpHttp(gateway.url + "/mcp/everything")
    client.init()
    got = client.call("resources/list")["result"]
    assert [r["uri"] for r in got["resources"]] == [r["uri"] for r in direct["resources"]]
    # server-everything answers in one page.
    assert got.get("nextCursor") is None and direct.get("nextCursor") is None
    text = client.call("resources/read", {"uri": direct["resources"][0]["uri"]})["result"]
    assert text["contents"][0]["uri"] == direct["resources"][0]["uri"]


# --- allow, deny, readOnly -----------------------------------------------------


def test_allow_and_deny_hide_tools_everywhere(gateway):
    e = gateway.entry("limited")
    assert tool_names(e["tools"]) == LIMITED_TOOLS
    everything = gateway.entry("everything")
    assert e["hiddenTools"] == len(everything["tools"]) - len(LIMITED_TOOLS)
    client = McpHttp(gateway.url + "/mcp/limited")
    client.init()
    assert tool_names(client.tools()) == LIMITED_TOOLS
    spec = gateway.get("/openapi/limited/openapi.json").json()
    assert {op["operationId"] for _, _, op in operations(spec)} == LIMITED_TOOLS
    aggregate = gateway.get("/openapi.json").json()
    paths = {p for p, _, _ in operations(aggregate)}
    assert "/openapi/limited/echo" in paths
    assert "/openapi/limited/get-env" not in paths
    assert "/openapi/everything/get-env" in paths


def test_read_only_hides_destructive_tools_everywhere(gateway):
    files = gateway.entry("files")
    names = tool_names(files["tools"])
    assert not names & FILESYSTEM_DESTRUCTIVE, names
    # destructiveHint: false, readOnlyHint: false stays; readOnlyHint: true stays.
    assert {"create_directory", "read_text_file", "list_directory"} <= names
    assert files["hiddenTools"] == len(FILESYSTEM_DESTRUCTIVE)
    # No annotations at all means possibly destructive: hidden.
    paged_ro = gateway.entry("paged-ro")
    assert tool_names(paged_ro["tools"]) == {"lookup", "tree"}
    assert paged_ro["hiddenTools"] == len(PAGED_ITEMS) + 1
    for name, visible in (("files", names), ("paged-ro", {"lookup", "tree"})):
        client = McpHttp(gateway.url + f"/mcp/{name}")
        client.init()
        assert tool_names(client.tools()) == visible, name
        spec = gateway.get(f"/openapi/{name}/openapi.json").json()
        assert {op["operationId"] for _, _, op in operations(spec)} == visible, name


def test_hidden_tools_cannot_be_called(gateway, files_root):
    target = files_root / "written.txt"
    denied = [("limited", "get-env", {}), ("limited", "get-tiny-image", {}),
              ("files", "write_file", {"path": str(target), "content": "x"}),
              ("paged-ro", "wipe", {}), ("paged-ro", "item-00", {})]
    for server, tool, args in denied:
        response = gateway.post(f"/openapi/{server}/{tool}", args)
        assert response.status_code == 403, f"POST /openapi/{server}/{tool}: {response.status_code} {response.text}"
        assert error_kind(response) == "tool_denied"
    for server, tool, args in denied:
        client = McpHttp(gateway.url + f"/mcp/{server}")
        client.init()
        answer = client.call("tools/call", {"name": tool, "arguments": args})
        assert answer.get("error", {}).get("code") == -32602, f"/mcp/{server} tools/call {tool}: {answer}"
    assert not target.exists(), "a hidden tool wrote a file"
    # What the policy lets through still works.
    assert gateway.post("/openapi/limited/echo", {"message": "ok"}).json() == "Echo: ok"
    client = McpHttp(gateway.url + "/mcp/files")
    client.init()
    listed = client.call("tools/call", {"name": "list_directory", "arguments": {"path": str(files_root)}})
    assert "notes.txt" in listed["result"]["content"][0]["text"]


# --- the OpenAPI bridge --------------------------------------------------------


@pytest.mark.parametrize("server", ["everything", "everything-http", "everything-sse"])
def test_openapi_echo(gateway, server):
    response = gateway.post(f"/openapi/{server}/echo", {"message": "hello, bridge"})
    assert response.status_code == 200, response.text
    assert response.json() == "Echo: hello, bridge"


def test_openapi_results_by_kind(gateway):
    # structuredContent, as is.
    weather = gateway.post("/openapi/everything/get-structured-content", {"location": "Chicago"})
    assert weather.status_code == 200, weather.text
    assert set(weather.json()) >= {"temperature", "conditions", "humidity"}
    # One text item that is not JSON: the string.
    assert gateway.post("/openapi/everything/get-sum", {"a": 1, "b": 2}).json() == "The sum of 1 and 2 is 3."
    # Several items: the list, in order (a text item as its text or as
    # the item itself).
    annotated = gateway.post("/openapi/everything/get-annotated-message",
                             {"messageType": "success", "includeImage": True})
    assert annotated.status_code == 200, annotated.text
    items = annotated.json()
    assert isinstance(items, list) and len(items) == 2, items
    text, image = items
    assert text in ("Operation completed successfully",
                    {"type": "text", "text": "Operation completed successfully",
                     "annotations": {"priority": 0.7, "audience": ["user"]}}), text
    assert image["type"] == "image" and image["mimeType"] == "image/png" and image["data"], image


def test_openapi_mcp_server_time_returns_json(gateway):
    response = gateway.post("/openapi/time/get_current_time", {"timezone": "Europe/Oslo"})
    assert response.status_code == 200, response.text
    now = response.json()
    assert now["timezone"] == "Europe/Oslo"
    assert abs(parse_time(now["datetime"]) - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert now["day_of_week"] and isinstance(now["is_dst"], bool)
    converted = gateway.post("/openapi/time/convert_time",
                             {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"})
    assert converted.status_code == 200, converted.text
    assert converted.json()["target"]["timezone"] == "Asia/Tokyo"


def test_openapi_errors(gateway):
    cases = [
        ("/openapi/everything/echo", b"[1, 2]", 400, "invalid_request"),
        ("/openapi/everything/echo", b"not json", 400, "invalid_request"),
        ("/openapi/everything/no-such-tool", b"{}", 404, "unknown_tool"),
        ("/openapi/no-such-server/echo", b"{}", 404, "unknown_server"),
        # mcp-server-time answers a bad zone with isError and a text.
        ("/openapi/time/get_current_time", b'{"timezone": "Not/AZone"}', 500, "tool_error"),
    ]
    for path, body, status, kind in cases:
        response = gateway.post(path, content=body, headers={"content-type": "application/json"})
        assert (response.status_code, error_kind(response)) == (status, kind), \
            f"POST {path} {body!r}: {response.status_code} {response.text}"
    bad_zone = gateway.post("/openapi/time/get_current_time", {"timezone": "Not/AZone"})
    assert "Not/AZone" in bad_zone.json()["error"]["message"]


def test_openapi_call_timeout(make_gateway):
    g = make_gateway({"callTimeout": "1s", "servers": [{"name": "everything", "command": everything_cmd(),
                                                        "args": ["stdio"]}]})
    g.wait_up(["everything"])
    started = time.monotonic()
    response = g.post("/openapi/everything/trigger-long-running-operation", {"duration": 5, "steps": 1})
    assert (response.status_code, error_kind(response)) == (504, "timeout"), response.text
    assert time.monotonic() - started < 4
    # The server is still usable afterwards.
    assert g.post("/openapi/everything/echo", {"message": "after"}).json() == "Echo: after"


def check_spec(spec: dict, what: str) -> None:
    """What Open WebUI needs of a tool server's spec, and what a real
    OpenAPI validator and parser accept."""
    from openapi_spec_validator import validate
    import prance

    assert spec["openapi"].startswith("3.1"), f"{what}: openapi {spec.get('openapi')}"
    validate(spec)
    prance.ResolvingParser(spec_string=json.dumps(spec), backend="openapi-spec-validator", strict=True)
    ops = operations(spec)
    assert ops, f"{what}: no operations"
    ids = [op.get("operationId") for _, _, op in ops]
    assert all(ids), f"{what}: an operation without operationId"
    assert len(ids) == len(set(ids)), f"{what}: operationIds repeat: {sorted(i for i in ids if ids.count(i) > 1)}"
    for path, method, op in ops:
        assert method == "post", f"{what} {path}: {method}"
        assert op.get("description") or op.get("summary"), f"{what} {path}: no description"
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert schema.get("type") == "object", f"{what} {path}: {schema}"
        # Inlined: Open WebUI resolves $ref from components only.
        assert not refs(schema), f"{what} {path}: $ref left in the request schema: {refs(schema)}"
        assert not refs(schema, key="$defs"), f"{what} {path}: $defs left in the request schema"
    for where, ref in refs(spec):
        try:
            resolve_pointer(spec, ref)
        except (KeyError, IndexError, ValueError) as err:
            raise AssertionError(f"{what}: {where}: $ref {ref} does not resolve ({err})") from None


def test_openapi_specs_are_valid(gateway):
    aggregate = gateway.get("/openapi.json")
    assert aggregate.status_code == 200, aggregate.text
    spec = aggregate.json()
    check_spec(spec, "/openapi.json")
    entries = gateway.servers()
    want = {(s, t["name"]) for s, e in entries.items() for t in e["tools"]}
    got = {(path.split("/")[2], path.split("/", 3)[3]) for path, _, _ in operations(spec)}
    assert got == want
    for path, _, op in operations(spec):
        server, tool = path.split("/")[2], path.split("/", 3)[3]
        assert path == f"/openapi/{server}/{tool}"
        assert op["operationId"].startswith(f"{server}_"), op["operationId"]
    for name, e in entries.items():
        response = gateway.get(f"/openapi/{name}/openapi.json")
        assert response.status_code == 200, f"{name}: {response.text}"
        one = response.json()
        check_spec(one, f"/openapi/{name}/openapi.json")
        assert one["servers"][0]["url"] == f"/openapi/{name}"
        ops = {op["operationId"]: path for path, _, op in operations(one)}
        assert ops == {t["name"]: f"/{t['name']}" for t in e["tools"]}, name
        echo = next((op for path, _, op in operations(one) if path == "/echo"), None)
        if echo is not None:
            body = echo["requestBody"]["content"]["application/json"]["schema"]
            assert body["properties"]["message"]["type"] == "string"
            assert body.get("required") == ["message"]
    assert gateway.get("/openapi/no-such-server/openapi.json").status_code == 404


def test_openapi_inlines_refs(gateway):
    spec = gateway.get("/openapi/paged/openapi.json").json()
    by_id = {op["operationId"]: op for _, _, op in operations(spec)}
    lookup = by_id["lookup"]["requestBody"]["content"]["application/json"]["schema"]
    place = lookup["properties"]["place"]
    assert place["type"] == "object" and place["required"] == ["city"]
    assert place["properties"]["country"]["enum"] == ["NO", "SE", "DK"]
    # A recursive $ref ends in a schema without one.
    tree = by_id["tree"]["requestBody"]["content"]["application/json"]["schema"]
    assert tree["properties"]["root"]["type"] == "object"
    assert not refs(tree)
    response = gateway.post("/openapi/paged/lookup", {"place": {"city": "Oslo", "country": "NO"}})
    assert response.json() == 'lookup {"place": {"city": "Oslo", "country": "NO"}}'


def test_open_webui_urls_lead_to_calls(gateway):
    # Open WebUI joins the connection URL with the spec's paths (servers[0]
    # for a per-server spec).
    one = gateway.get("/openapi/everything/openapi.json").json()
    response = httpx2.post(gateway.url + one["servers"][0]["url"] + "/echo", json={"message": "via spec"}, timeout=30)
    assert response.json() == "Echo: via spec"
    aggregate = gateway.get("/openapi.json").json()
    path = next(p for p, _, op in operations(aggregate) if op["operationId"] == "time_get_current_time")
    assert httpx2.post(gateway.url + path, json={"timezone": "UTC"}, timeout=30).json()["timezone"] == "UTC"


# --- /mcp/{name} ----------------------------------------------------------------


def test_mcp_endpoint_by_hand(gateway):
    client = McpHttp(gateway.url + "/mcp/everything")
    result = client.init()
    assert result["serverInfo"]["name"] == "mcp-servers/everything"
    assert result["protocolVersion"] in PROTOCOL_VERSIONS
    assert client.session, "no Mcp-Session-Id on the initialize answer"
    answer = client.call("tools/call", {"name": "echo", "arguments": {"message": "by hand"}})
    assert answer["result"]["content"] == [{"type": "text", "text": "Echo: by hand"}]
    # An unknown tool is the server's to answer: server-everything says so
    # in a result with isError rather than with -32602.
    unknown = client.call("tools/call", {"name": "no-such-tool", "arguments": {}})
    assert unknown.get("error", {}).get("code") == -32602 or unknown["result"]["isError"], unknown
    # A request without the session: 400.
    no_session = httpx2.post(gateway.url + "/mcp/everything", timeout=30,
                             json={"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}},
                             headers={"accept": McpHttp.ACCEPT, "content-type": "application/json"})
    assert no_session.status_code == 400, no_session.text
    # DELETE ends the session; it is then unknown: 404.
    deleted = client.delete()
    after = client.post({"jsonrpc": "2.0", "id": 10, "method": "tools/list", "params": {}})
    assert after.status_code == 404, after.text
    assert httpx2.post(gateway.url + "/mcp/no-such-server", json={}, timeout=30,
                       headers={"accept": McpHttp.ACCEPT}).status_code == 404
    # What the official SDK counts as success; it logs "Session
    # termination failed" for anything else.
    assert deleted.status_code in (200, 204), f"DELETE: {deleted.status_code} {deleted.text}"


async def sdk_session(url: str, tool_call: tuple[str, dict]):
    """Initialize, list tools, call one, leave (the SDK DELETEs the
    session), with the official SDK; every HTTP exchange recorded."""
    import mcp_types as types
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    exchanges: list[tuple[str, int, str | None]] = []

    async def record(response: httpx2.Response) -> None:
        exchanges.append((response.request.method, response.status_code,
                          response.request.headers.get("mcp-session-id")))

    async with httpx2.AsyncClient(event_hooks={"response": [record]}, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                listed = await session.list_tools()
                names = [t.name for t in listed.tools]
                cursor = listed.next_cursor
                while cursor:
                    listed = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
                    names += [t.name for t in listed.tools]
                    cursor = listed.next_cursor
                result = await session.call_tool(*tool_call)
    return init, names, result, exchanges


@pytest.mark.parametrize("server", ["everything", "everything-http", "everything-sse", "limited"])
def test_official_sdk_client(gateway, server):
    init, names, result, exchanges = anyio.run(
        sdk_session, f"{gateway.url}/mcp/{server}", ("echo", {"message": "from the sdk"}))
    assert init.server_info.name == "mcp-servers/everything"
    want = LIMITED_TOOLS if server == "limited" else tool_names(gateway.entry(server)["tools"])
    assert sorted(names) == sorted(want)
    assert not result.is_error
    assert result.content[0].text == "Echo: from the sdk"
    deletes = [(status, session) for method, status, session in exchanges if method == "DELETE"]
    assert deletes, f"no session DELETE: {exchanges}"
    status, session = deletes[0]
    gone = httpx2.post(f"{gateway.url}/mcp/{server}", timeout=30,
                       json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
                       headers={"accept": McpHttp.ACCEPT, "content-type": "application/json",
                                "mcp-session-id": session, "mcp-protocol-version": init.protocol_version})
    assert gone.status_code == 404, f"after DELETE: {gone.status_code} {gone.text}"
    # The SDK logs "Session termination failed" for anything else.
    assert status in (200, 204), f"the session DELETE: {exchanges}"


async def sdk_client_auto(url: str):
    """The SDK's high-level `Client` as Open WebUI uses it: mode "auto"
    probes `server/discover` at the newest modern version and speaks that
    version when the server lists it, else falls back to `initialize`."""
    from mcp import Client

    async with Client(url) as client:
        listed = await client.list_tools()
        result = await client.call_tool("echo", {"message": "auto"})
        return client.protocol_version, [t.name for t in listed.tools], result


@pytest.mark.parametrize("server", ["everything", "everything-http"])
def test_official_sdk_client_negotiates_a_version_the_gateway_speaks(gateway, server):
    # mcp 2.3.0's Client probes server/discover with 2026-07-28 first; a
    # gateway that lists a version there must answer in it (2026-07-28's
    # results carry resultType), or the client fails on tools/list.
    version, names, result = anyio.run(sdk_client_auto, f"{gateway.url}/mcp/{server}")
    assert version in PROTOCOL_VERSIONS, version
    assert sorted(names) == sorted(tool_names(gateway.entry(server)["tools"]))
    assert not result.is_error
    assert result.content[0].text == "Echo: auto"


def test_discover_lists_only_versions_the_gateway_speaks(gateway):
    response = httpx2.post(gateway.url + "/mcp/everything", timeout=30, json={
        "jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2025-11-25",
            "io.modelcontextprotocol/clientInfo": {"name": "hwc-ai-checks", "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": {}}}},
        headers={"accept": McpHttp.ACCEPT, "content-type": "application/json",
                 "mcp-protocol-version": "2025-11-25"})
    answer = rpc_answer(response, 1)
    assert "result" in answer, answer
    assert set(answer["result"]["supportedVersions"]) <= set(PROTOCOL_VERSIONS), answer


def test_official_sdk_client_hidden_tool(gateway):
    _, names, result, _ = anyio.run(sdk_session, f"{gateway.url}/mcp/paged-ro", ("lookup", {"place": {"city": "Oslo"}}))
    assert sorted(names) == ["lookup", "tree"]
    assert result.content[0].text == 'lookup {"place": {"city": "Oslo"}}'
    from mcp.shared.exceptions import MCPError

    # The SDK raises the JSON-RPC error, inside anyio's task groups.
    with pytest.raises(BaseExceptionGroup) as raised:
        anyio.run(sdk_session, f"{gateway.url}/mcp/paged-ro", ("wipe", {}))
    matched, _ = raised.value.split(MCPError)
    assert matched is not None, raised.value
    errors = []
    pending = [matched]
    while pending:
        e = pending.pop()
        if isinstance(e, BaseExceptionGroup):
            pending += e.exceptions
        else:
            errors.append(e)
    assert [e.code for e in errors] == [-32602], errors


# --- environment ----------------------------------------------------------------


def test_stdio_server_gets_env_and_secret_env(gateway, secret_env):
    value, _ = secret_env
    response = gateway.post("/openapi/everything/get-env", {})
    assert response.status_code == 200, response.text
    env = response.json()
    assert env["HWC_AI_PLAIN"] == "plain-value"
    assert env["HWC_AI_SECRET"] == value
    # Only the tool's own answer carries it.
    for where, text in (("/servers", gateway.get("/servers").text), ("/metrics", gateway.metrics()),
                        ("the log", gateway.log_text()), ("the config", gateway.config_path.read_text())):
        assert value not in text, f"the secretEnv value is in {where}"


# --- lifecycle: crashes, silence, shutdown ----------------------------------------


def server_pid(gateway, marker: str) -> int:
    def find():
        pids = [p for p in children(gateway.pid) if marker in cmdline(p) and alive(p)]
        return pids[0] if pids else None

    return wait_for(f"a child of the gateway running {marker}", find, 10)


def test_a_crashed_stdio_server_is_reported_and_restarted(make_gateway):
    g = make_gateway({"checkInterval": "1s", "checkTimeout": "10s", "servers": [
        {"name": "everything", "command": everything_cmd(), "args": ["stdio"]},
        {"name": "time", "command": venv_bin("mcp-server-time")},
    ]})
    g.wait_up(["everything", "time"])
    pid = server_pid(g, "mcp-server-everything")
    os.kill(pid, signal.SIGKILL)
    seen = []

    def down():
        e = g.entry("everything")
        seen.append((e["state"], e["lastError"], e["restarts"]))
        return e if e["state"] != "up" else None

    e = wait_for("the killed server reported not up", down, 5, 0.02)
    assert e["state"] in ("down", "starting")
    assert e["lastError"], f"no lastError for a killed server: {e}"
    # Calls fail as server_down meanwhile, or succeed once it is back.
    response = g.post("/openapi/everything/echo", {"message": "meanwhile"})
    assert response.status_code in (200, 503), response.text
    if response.status_code == 503:
        assert error_kind(response) == "server_down"

    def back():
        e = g.entry("everything")
        return e if e["state"] == "up" else None

    e = wait_for("the killed server up again", back, 20, 0.2)
    assert e["restarts"] >= 1, e
    assert e["lastError"] is None or isinstance(e["lastError"], str)
    new_pid = server_pid(g, "mcp-server-everything")
    assert new_pid != pid
    assert g.post("/openapi/everything/echo", {"message": "again"}).json() == "Echo: again"
    assert g.entry("time")["state"] == "up" and g.entry("time")["restarts"] == 0
    scrape = g.metrics()
    assert 'hwc_ai_mcp_server_restarts_total{server="everything"}' in scrape


def test_a_server_that_never_answers_initialize(make_gateway):
    g = make_gateway({"checkInterval": "1s", "checkTimeout": "1s", "servers": [
        {"name": "mute", "command": "sleep", "args": ["1000"]},
        {"name": "everything", "command": everything_cmd(), "args": ["stdio"]},
    ]})
    g.wait_up(["everything"])

    def failed():
        e = g.entry("mute")
        return e if e["lastError"] else None

    e = wait_for("mute's lastError", failed, 10)
    assert e["state"] in ("down", "starting"), e
    # Names the handshake and the limit (e.g. "no answer to initialize
    # within 1s").
    assert "initialize" in e["lastError"], e["lastError"]
    assert "1s" in e["lastError"] or "time" in e["lastError"].lower(), e["lastError"]
    assert e["tools"] == []
    health = httpx2.get(g.url + "/health", timeout=10).json()
    assert health["servers"]["up"] == 1
    assert health["servers"]["down"] + health["servers"]["starting"] == 1
    response = g.post("/openapi/mute/anything", {})
    assert (response.status_code, error_kind(response)) == (503, "server_down"), response.text
    # The gateway goes on serving the others.
    assert g.post("/openapi/everything/echo", {"message": "still"}).json() == "Echo: still"


def test_sigterm_stops_the_gateway_and_its_servers(make_gateway):
    g = make_gateway({"servers": [
        {"name": "everything", "command": everything_cmd(), "args": ["stdio"]},
        {"name": "time", "command": venv_bin("mcp-server-time")},
    ]})
    g.wait_up(["everything", "time"])
    kids = children(g.pid)
    assert kids
    assert g.stop() == 0, g.log_text()[-3000:]
    wait_for("the servers gone after the gateway exited", lambda: not any(alive(p) for p in kids), 10)


# --- hwc-ai-mcp wrap: one stdio server on a unix socket ---------------------------


def uds_client(path) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.HTTPTransport(uds=str(path)), base_url="http://localhost", timeout=30)


@pytest.fixture
def wrapper(workdir, request):
    name = request.node.name
    sock = workdir / f"{name}.sock"
    config = {"name": "everything", "socket": str(sock), "log": {"level": "debug"},
              "command": everything_cmd(), "args": ["stdio"], "initializeTimeout": "20s"}
    path = workdir / f"{name}-wrap.json"
    path.write_text(json.dumps(config, indent=2))
    check = subprocess.run([gateway_binary(), "wrap", "--check-config", "--config", str(path)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    log = workdir / f"{name}-wrap.log"
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    with log.open("wb") as out:
        popen = subprocess.Popen([gateway_binary(), "wrap", "--config", str(path)], stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    client = uds_client(sock)

    def up():
        if popen.poll() is not None:
            raise RuntimeError(f"the wrapper exited with {popen.returncode}:\n{tail(log)}")
        status = client.get("/status").json()
        return status if status["state"] == "up" else None

    try:
        wait_for("the wrapper's server up", up, 30)
    except BaseException:
        stop_process(popen)
        raise AssertionError(f"the wrapper did not come up:\n{tail(log)}") from None
    yield sock, client, popen
    client.close()
    stop_process(popen)


def test_wrapper_serves_mcp_on_its_socket(wrapper):
    sock, client, _ = wrapper
    status = client.get("/status").json()
    assert status["name"] == "everything" and status["state"] == "up"
    assert status["lastError"] is None and status["restarts"] == 0
    assert "mcp-server-everything" in cmdline(status["pid"])
    headers = {"accept": McpHttp.ACCEPT, "content-type": "application/json"}
    init = client.post("/mcp", headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "hwc-ai-checks", "version": "0"}}})
    assert init.status_code == 200, init.text
    assert rpc_answer(init, 1)["result"]["serverInfo"]["name"] == "mcp-servers/everything"
    if init.headers.get("mcp-session-id"):
        headers["mcp-session-id"] = init.headers["mcp-session-id"]
    headers["mcp-protocol-version"] = rpc_answer(init, 1)["result"]["protocolVersion"]
    assert client.post("/mcp", headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202
    listed = client.post("/mcp", headers=headers, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
    assert EVERYTHING_TOOLS <= tool_names(rpc_answer(listed, 2)["result"]["tools"])
    assert "hwc_ai" in client.get("/metrics").text


def test_wrapper_restarts_a_killed_server(wrapper):
    _, client, _ = wrapper
    pid = client.get("/status").json()["pid"]
    os.kill(pid, signal.SIGKILL)

    def not_up():
        status = client.get("/status").json()
        return status if status["state"] != "up" else None

    status = wait_for("the wrapper reports the killed server", not_up, 5, 0.02)
    assert status["state"] in ("down", "starting") and status["lastError"], status

    def up_again():
        status = client.get("/status").json()
        return status if status["state"] == "up" else None

    status = wait_for("the wrapper's server up again", up_again, 20, 0.2)
    assert status["restarts"] >= 1 and status["pid"] != pid, status
    assert alive(status["pid"])


def test_gateway_through_a_wrapper_socket(wrapper, make_gateway):
    sock, client, _ = wrapper
    g = make_gateway({"checkInterval": "1s", "servers": [{"name": "wrapped", "socket": str(sock)}]})
    e = g.wait_up(["wrapped"])["wrapped"]
    assert e["serverInfo"]["name"] == "mcp-servers/everything"
    assert EVERYTHING_TOOLS <= tool_names(e["tools"])
    assert g.post("/openapi/wrapped/echo", {"message": "over the socket"}).json() == "Echo: over the socket"
    # The wrapped server dies; the wrapper restarts it; the gateway gets it back.
    os.kill(client.get("/status").json()["pid"], signal.SIGKILL)
    time.sleep(0.2)

    def echo():
        response = g.post("/openapi/wrapped/echo", {"message": "after the crash"})
        return response.status_code == 200 and response.json() == "Echo: after the crash"

    wait_for("a call through the wrapper after its server was killed", echo, 20, 0.3)
    # The next check (every second here) sees it up again.
    wait_for("wrapped up again", lambda: g.entry("wrapped")["state"] == "up", 5)


# --- keys, origins, hosts ---------------------------------------------------------


@pytest.fixture
def keyed(make_gateway, workdir):
    key = "canary-mcp-client-" + os.urandom(8).hex()
    g = make_gateway({
        "clients": {"keys": [{"name": "webui", "key": key_file(workdir, "mcp-client", key)}],
                    "allowUnauthenticatedLoopback": False},
        "allowedOrigins": ["http://localhost:8080"],
        "servers": [{"name": "everything", "command": everything_cmd(), "args": ["stdio"]}],
    }, key=key)
    g.wait_up(["everything"])
    return g


def test_keys_401_without_403_wrong(keyed):
    g = keyed
    probes = [("GET", "/servers"), ("GET", "/servers/everything"), ("GET", "/openapi.json"),
              ("GET", "/openapi/everything/openapi.json"), ("GET", "/.well-known/mcp.json"),
              ("POST", "/openapi/everything/echo"), ("POST", "/mcp/everything")]
    for method, path in probes:
        body = {"message": "x"} if path.endswith("echo") else None
        if path.startswith("/mcp"):
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        missing = httpx2.request(method, g.url + path, json=body, timeout=30,
                                 headers={"accept": McpHttp.ACCEPT})
        assert missing.status_code == 401, f"{method} {path} without a key: {missing.status_code} {missing.text}"
        assert missing.headers.get("www-authenticate", "").lower().startswith("bearer"), \
            f"{method} {path}: WWW-Authenticate {missing.headers.get('www-authenticate')!r}"
        wrong = httpx2.request(method, g.url + path, json=body, timeout=30,
                               headers={"authorization": "Bearer wrong-key", "accept": McpHttp.ACCEPT})
        assert wrong.status_code == 403, f"{method} {path} with a wrong key: {wrong.status_code} {wrong.text}"
        assert isinstance(wrong.json()["error"]["kind"], str)
    assert g.get("/servers").status_code == 200
    assert g.post("/openapi/everything/echo", {"message": "keyed"}).json() == "Echo: keyed"
    client = McpHttp(g.url + "/mcp/everything", headers=g.headers())
    client.init()
    assert "echo" in tool_names(client.tools())
    # /health and /metrics need no key.
    assert httpx2.get(g.url + "/health", timeout=10).status_code == 200
    assert httpx2.get(g.url + "/metrics", timeout=10).status_code == 200
    assert g.key not in g.log_text()


def test_origins(keyed):
    g = keyed
    allowed = g.post("/openapi/everything/echo", {"message": "cors"},
                     headers=g.headers(origin="http://localhost:8080"))
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:8080"
    for path in ("/openapi/everything/echo", "/servers", "/mcp/everything"):
        other = httpx2.post(g.url + path, json={"message": "x"}, timeout=30,
                            headers=g.headers(origin="http://evil.example", accept=McpHttp.ACCEPT))
        assert other.status_code == 403, f"POST {path} from another origin: {other.status_code} {other.text}"
        assert other.headers.get("access-control-allow-origin") is None
    # A preflight carries no key: it must not be refused for that.
    preflight = httpx2.options(g.url + "/openapi/everything/echo", timeout=30, headers={
        "origin": "http://localhost:8080", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"})
    assert preflight.status_code in (200, 204), f"preflight: {preflight.status_code} {preflight.text}"
    assert preflight.headers.get("access-control-allow-origin") == "http://localhost:8080"
    assert "post" in preflight.headers.get("access-control-allow-methods", "").lower()
    allowed_headers = preflight.headers.get("access-control-allow-headers", "").lower()
    assert allowed_headers == "*" or {"authorization", "content-type"} <= {h.strip() for h in allowed_headers.split(",")}
    mcp_preflight = httpx2.options(g.url + "/mcp/everything", timeout=30, headers={
        "origin": "http://localhost:8080", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, mcp-session-id, mcp-protocol-version"})
    assert mcp_preflight.status_code in (200, 204), mcp_preflight.text
    other_preflight = httpx2.options(g.url + "/openapi/everything/echo", timeout=30, headers={
        "origin": "http://evil.example", "access-control-request-method": "POST"})
    assert other_preflight.status_code == 403, f"preflight from another origin: {other_preflight.status_code}"
    assert other_preflight.headers.get("access-control-allow-origin") is None


def test_mcp_refuses_foreign_host_headers(gateway):
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1.
    response = httpx2.post(gateway.url + "/mcp/everything", timeout=30,
                           json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                               "protocolVersion": "2025-06-18", "capabilities": {},
                               "clientInfo": {"name": "x", "version": "0"}}},
                           headers={"host": "evil.example", "accept": McpHttp.ACCEPT})
    assert response.status_code in (403, 421), f"Host: evil.example: {response.status_code} {response.text}"
    port = gateway.url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost"):
        McpHttp(gateway.url + "/mcp/everything", headers={"host": host}).init()
