"""The real Open WebUI in front of the stack, configured as
`hwc.ai.open-webui` configures it, asserted through Open WebUI's own API:
what a user of its chat page gets.

The order matters: the last test restarts Open WebUI on the same data.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from conftest import ASSISTANT_MODEL, MODEL, WORKFLOW, metric, start_webui

# The tool servers the module renders, by Open WebUI's tool id.
OPENAPI_SERVERS = {"server:mcp-shout": ["shout"], "server:hwc-ai-assistant": ["disk_usage", "system_overview"],
                   "server:hwc-ai-workflows": [WORKFLOW.replace("-", "_")]}
MCP_SERVER = "server:mcp:mcp-shout-native"


def connections(webui) -> list[dict]:
    """TOOL_SERVER_CONNECTIONS as Open WebUI holds them (keys filled in)."""
    response = webui.get("/api/v1/configs/tool_servers")
    assert response.status_code == 200, response.text
    return response.json()["TOOL_SERVER_CONNECTIONS"]


def chat_with_tools(webui, text: str, tool_ids: list[str], model: str = MODEL) -> dict:
    """A chat as Open WebUI's page runs one: the chat saved first, the
    completion carrying its id and the assistant message's, tools run by
    Open WebUI, the answer read back from the saved chat."""
    user_id, reply_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = int(time.time())
    user = {"id": user_id, "parentId": None, "childrenIds": [reply_id], "role": "user", "content": text,
            "timestamp": now, "models": [model]}
    reply = {"id": reply_id, "parentId": user_id, "childrenIds": [], "role": "assistant", "content": "",
             "model": model, "timestamp": now}
    created = webui.post("/api/v1/chats/new", {"chat": {
        "title": "hwc-ai check", "models": [model], "messages": [user, reply],
        "history": {"messages": {user_id: user, reply_id: reply}, "currentId": reply_id}}})
    assert created.status_code == 200, created.text
    chat_id = created.json()["id"]
    response = webui.post("/api/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": text}], "stream": True,
        "chat_id": chat_id, "id": reply_id, "user_message": user, "tool_ids": tool_ids}, timeout=120)
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 60
    while True:
        saved = webui.get(f"/api/v1/chats/{chat_id}").json()["chat"]["history"]["messages"][reply_id]
        if saved.get("done") or time.monotonic() > deadline:
            return saved
        time.sleep(0.3)


def calls(message: dict) -> dict[str, dict]:
    """The saved message's tool calls by name: {name: {status, output}}."""
    out = {}
    for item in message.get("output", []):
        if item["type"] == "function_call":
            out[item["name"]] = {"call_id": item["call_id"], "status": item["status"]}
    for item in message.get("output", []):
        if item["type"] == "function_call_output":
            for c in out.values():
                if c["call_id"] == item["call_id"]:
                    c["output"] = " ".join(o.get("text", "") for o in item["output"])
    return out


def test_the_routers_models_and_the_assistant_are_listed(webui):
    response = webui.get("/api/models")
    assert response.status_code == 200, response.text
    models = {m["id"]: m for m in response.json()["data"]}
    assert MODEL in models and "nomic-embed-text:latest" in models, sorted(models)
    assert ASSISTANT_MODEL in models, sorted(models)
    # no Ollama connection of its own: every model came through the router
    # or the assistant
    assert {m.get("connection_type") for m in models.values()} == {"external"}, models


@pytest.mark.parametrize("model", [MODEL, ASSISTANT_MODEL])
def test_chats_answer_streamed_and_not(webui, model):
    asked = {"model": model, "messages": [{"role": "user", "content": "How much disk space is left?"}]}
    plain = webui.post("/api/chat/completions", asked | {"stream": False})
    assert plain.status_code == 200, plain.text
    assert plain.json()["choices"][0]["message"]["content"], plain.text
    with httpx.stream("POST", webui.url + "/api/chat/completions", json=asked | {"stream": True},
                      headers=webui.headers(), timeout=60) as streamed:
        assert streamed.status_code == 200
        assert streamed.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in streamed.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]", lines[-3:]
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                   for line in lines[:-1] if json.loads(line[6:]).get("choices"))
    assert text, lines
    # (the daemons admit only the key named `open-webui`: these answers
    # prove Open WebUI sent the one the credential script wrote)


def test_every_tool_server_is_verified_and_its_operations_listed(webui):
    servers = {c["info"]["id"]: c for c in connections(webui)}
    assert set(servers) == {"mcp-shout", "hwc-ai-assistant", "hwc-ai-workflows", "mcp-shout-native"}, servers
    for tool_id, operations in OPENAPI_SERVERS.items():
        connection = servers[tool_id.removeprefix("server:")]
        assert connection["key"] and not connection["key"].startswith("@credential"), "key not filled in"
        verified = webui.post("/api/v1/configs/tool_servers/verify", connection)
        assert verified.status_code == 200, f"{tool_id}: {verified.text}"
        spec = verified.json()
        got = sorted(op["operationId"] for path in spec["paths"].values() for op in path.values())
        assert got == sorted(operations), f"{tool_id}: {got}"
    tools = {t["id"] for t in webui.get("/api/v1/tools/").json()}
    assert set(OPENAPI_SERVERS) | {MCP_SERVER} <= tools, tools


def test_a_wrong_key_is_refused_by_the_tool_server(webui):
    connection = next(c for c in connections(webui) if c["info"]["id"] == "mcp-shout")
    verified = webui.post("/api/v1/configs/tool_servers/verify", connection | {"key": "not-the-key"})
    assert verified.status_code != 200, verified.text


def test_tool_calls_in_the_chat_flow_reach_the_gateway_and_the_assistant(webui, stack):
    before_mcp = metric(stack.mcp.metrics(), "hwc_ai_mcp_tool_calls_total", server="shout", outcome="ok")
    before_assistant = metric(stack.assistant.metrics(), "hwc_ai_assistant_tool_calls_total",
                              tool="system_overview", outcome="ok")
    # the fake model calls every offered tool the message names
    message = chat_with_tools(webui, "shout hello, then a system_overview", list(OPENAPI_SERVERS))
    done = calls(message)
    assert set(done) == {"shout", "system_overview"}, message
    assert done["shout"]["status"] == "completed", done
    assert done["shout"]["output"] == "SHOUT HELLO, THEN A SYSTEM_OVERVIEW", done
    assert done["system_overview"]["status"] == "completed", done
    assert "Memory" in done["system_overview"]["output"] or "memory" in done["system_overview"]["output"], done
    assert metric(stack.mcp.metrics(), "hwc_ai_mcp_tool_calls_total", server="shout", outcome="ok") == before_mcp + 1
    assert metric(stack.assistant.metrics(), "hwc_ai_assistant_tool_calls_total",
                  tool="system_overview", outcome="ok") == before_assistant + 1


def test_a_workflow_is_run_from_a_chat(webui, stack):
    tool = WORKFLOW.replace("-", "_")
    # the fake model calls the workflow's operation, its `topic` filled
    # with the message; the assistant runs the workflow through the router
    message = chat_with_tools(webui, f"please {tool} backups", ["server:hwc-ai-workflows"])
    done = calls(message)
    assert done.get(tool, {}).get("status") == "completed", message
    result = json.loads(done[tool]["output"])
    assert result["workflow"] == WORKFLOW, result
    # the workflow's prompt with the input, as the fake model echoes it
    assert result["content"] == f"echo: Write a short note about please {tool} backups.", result
    [written] = result["files"]
    assert Path(written).parent == stack.workdir / "notes", written
    assert Path(written).read_text() == result["content"] + "\n"
    runs = httpx.get(f"{stack.assistant.url}/v1/workflows/runs", timeout=10,
                     headers={"authorization": f"Bearer {stack.keys['assistant']}"}).json()["runs"]
    assert runs[0]["workflow"] == WORKFLOW and runs[0]["status"] == "ok", runs
    assert runs[0]["client"] == "open-webui (tool server)", runs


def test_native_mcp_to_the_gateway(webui, stack):
    # Open WebUI's MCP client (mcp 2.x, probing server/discover first)
    connection = next(c for c in connections(webui) if c["info"]["id"] == "mcp-shout-native")
    verified = webui.post("/api/v1/configs/tool_servers/verify", connection)
    assert verified.status_code == 200, verified.text
    assert [s["name"] for s in verified.json()["specs"]] == ["shout"], verified.text
    before = metric(stack.mcp.metrics(), "hwc_ai_mcp_tool_calls_total", server="shout", outcome="ok")
    # Open WebUI names an MCP tool SERVERID_TOOL
    done = calls(chat_with_tools(webui, "call mcp-shout-native_shout", [MCP_SERVER]))
    assert done.get("mcp-shout-native_shout", {}).get("output") == "CALL MCP-SHOUT-NATIVE_SHOUT", done
    assert metric(stack.mcp.metrics(), "hwc_ai_mcp_tool_calls_total", server="shout", outcome="ok") == before + 1


def test_tool_specs_fetched_on_every_listing_do_not_hit_the_rate_limit(webui, stack):
    # Open WebUI fetches every spec again on each model listing and each
    # chat with tools; the assistant's default budget is 10 at once
    for _ in range(15):
        assert webui.get("/api/models").status_code == 200
        assert webui.get("/api/v1/tools/").status_code == 200
    assert metric(stack.assistant.metrics(), "hwc_ai_assistant_rate_limited_total") == 0
    tools = {t["id"] for t in webui.get("/api/v1/tools/").json()}
    assert "server:hwc-ai-assistant" in tools


def test_a_changed_option_takes_effect_after_a_restart(webui, stack):
    # Persistent config off: the environment counts at every start, not
    # only the first (a `nixos-rebuild switch` changes it, then restarts).
    first = webui.get("/api/v1/retrieval/embedding").json()
    assert first["RAG_EMBEDDING_ENGINE"] == "openai"
    assert first["RAG_EMBEDDING_MODEL"] == "nomic-embed-text"
    assert first["openai_config"]["url"] == stack.router.url + "/v1"
    webui.stop()
    data = webui.log.parent
    again = start_webui(stack, data, embeddingModel="all-minilm")
    try:
        assert again.get("/api/v1/retrieval/embedding").json()["RAG_EMBEDDING_MODEL"] == "all-minilm"
    finally:
        again.stop()
