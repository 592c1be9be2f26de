"""The router in front of llama.cpp's server, with the official `openai`
SDK as the client: what a user's tools see.

The model is tiny (SmolLM2-135M): these tests check plumbing (shapes,
streaming, usage, errors, fallback), never the quality of an answer.
"""

from __future__ import annotations

import json
import re
import time

import httpx2
import openai
import pytest

from conftest import ASK_WEATHER, FORCE_WEATHER, HELLO, LLAMA_MODEL, WEATHER_TOOL, metric


def test_models_lists_aliases_and_discovered_models(client):
    ids = [m.id for m in client.models.list().data]
    for alias in ["local-fast", "local-embed", "fallback", "claude-test"]:
        assert alias in ids
    # Discovered from llama.cpp's own /v1/models (listModels), reachable
    # through the `smol*` glob; the glob itself is not a model.
    assert LLAMA_MODEL in ids
    assert "smol*" not in ids
    model = client.models.retrieve("local-fast")
    assert model.id == "local-fast" and model.owned_by == "hwc-ai"


def test_chat(client):
    raw = client.chat.completions.with_raw_response.create(
        model="local-fast", messages=HELLO, max_tokens=16, temperature=0
    )
    assert raw.headers["x-request-id"].startswith("req-")
    assert float(raw.headers["x-hwc-ai-overhead-ms"]) >= 0
    answer = raw.parse()
    assert answer.object == "chat.completion"
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert answer.usage.prompt_tokens > 0
    assert answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_chat_through_a_glob_passes_the_requested_name_on(client):
    answer = client.chat.completions.create(model=LLAMA_MODEL, messages=HELLO, max_tokens=8)
    assert answer.choices[0].message.content
    assert answer.model == LLAMA_MODEL


def test_stream(client):
    chunks = list(client.chat.completions.create(
        model="local-fast", messages=HELLO, max_tokens=24, temperature=0, stream=True,
    ))
    assert len(chunks) > 2, "the answer arrived in one piece"
    assert {c.id for c in chunks} == {chunks[0].id}
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.strip()
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason]
    assert finishes == [chunks[-1].choices[0].finish_reason]
    assert finishes[0] in ("stop", "length")


def logged(router, request_id: str) -> str:
    """The log line of one request, once it is written."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in router.log_text().splitlines():
            if f" request id={request_id} " in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no log line for {request_id}")


def test_a_stream_read_to_the_end_is_logged_200(client, router):
    """The SDK closes the connection as soon as it reads [DONE]: the answer
    was whole, so the log says 200, not 499 (a client that went away)."""
    raw = client.chat.completions.with_raw_response.create(
        model="local-fast", messages=HELLO, max_tokens=8, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse())
    line = logged(router, raw.headers["x-request-id"])
    assert "status=200" in line, line


def direct_client(llama, canaries) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{llama.url}/v1", api_key=canaries.llama, max_retries=0)


def test_stream_include_usage(client, llama, canaries):
    request = dict(model=LLAMA_MODEL, messages=HELLO, max_tokens=8, stream=True,
                   stream_options={"include_usage": True})
    if not any(c.usage for c in direct_client(llama, canaries).chat.completions.create(**request)):
        pytest.skip("llama-cpp-python's server sends no usage chunk for include_usage "
                    "(the translated Anthropic stream does: test_anthropic.py)")
    chunks = list(client.chat.completions.create(**request))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_matches_the_answer_llama_cpp_gives_directly(client, llama, canaries):
    """Passthrough: at temperature 0 the text through the router is the
    text llama.cpp streams to a client that asks it directly."""
    request = dict(model=LLAMA_MODEL, messages=HELLO, max_tokens=24, temperature=0, seed=1, stream=True)
    direct = direct_client(llama, canaries)

    def text(stream) -> str:
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert text(client.chat.completions.create(**request)) == text(direct.chat.completions.create(**request))


def test_embeddings(client, llama_embed, canaries):
    request = dict(model=LLAMA_MODEL, input=["hello", "a longer sentence to embed"])
    answer = client.embeddings.create(**{**request, "model": "local-embed"})
    assert answer.object == "list"
    assert [d.index for d in answer.data] == [0, 1]
    # llama-cpp-python's server does not pool: a model without a pooling
    # layer gets one vector per token. Passed on as it came.
    vectors = [v for d in answer.data for v in (d.embedding if isinstance(d.embedding[0], list) else [d.embedding])]
    assert vectors and len({len(v) for v in vectors}) == 1 and len(vectors[0]) > 0
    assert answer.usage.prompt_tokens > 0
    direct = openai.OpenAI(base_url=f"{llama_embed.url}/v1", api_key=canaries.llama, max_retries=0)
    assert answer.data == direct.embeddings.create(**request).data


def test_embeddings_from_a_server_that_cannot_are_a_502(client):
    """The chat server was started without embeddings and answers 500: a
    target failure, so the client gets 502 in OpenAI's shape."""
    with pytest.raises(openai.InternalServerError) as caught:
        client.embeddings.create(model="local-fast", input="hello")
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_error"


PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def test_response_format_schema_passes_through(client):
    """The router forwards response_format untouched; llama.cpp turns its
    schema into a grammar, so the answer is JSON of that shape. (llama.cpp's
    server takes the schema as `{"type": "json_object", "schema": ...}`.)"""
    answer = client.chat.completions.create(
        model="local-fast",
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        max_tokens=64,
        temperature=0,
        response_format={"type": "json_object", "schema": PERSON},
    )
    data = json.loads(answer.choices[0].message.content)
    assert set(data) == {"name", "age"}
    assert isinstance(data["name"], str) and isinstance(data["age"], int)


def test_response_format_json_schema_is_a_target_failure_on_llama_cpp(client):
    """llama-cpp-python's server does not take OpenAI's `json_schema` type:
    its request validation answers 500, which the router counts as a
    failure of the target and answers 502 (the client's request reached
    llama.cpp unchanged; the schema has to go as above)."""
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(
            model="local-fast",
            messages=[{"role": "user", "content": "A person as JSON."}],
            max_tokens=32,
            response_format={"type": "json_schema",
                             "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
        )
    assert caught.value.status_code == 502


def test_forced_tool_call(client):
    answer = client.chat.completions.create(
        model="local-fast", messages=ASK_WEATHER, max_tokens=48, temperature=0,
        tools=[WEATHER_TOOL], tool_choice=FORCE_WEATHER,
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_forced_tool_call_stream_keeps_the_index(client, llama, canaries):
    """Tool-call deltas carry `index`; the router passes them as llama.cpp
    sent them, so the SDK can put the call together."""
    request = dict(model=LLAMA_MODEL, messages=ASK_WEATHER, max_tokens=48, temperature=0, seed=1,
                   tools=[WEATHER_TOOL], tool_choice=FORCE_WEATHER, stream=True)
    direct = direct_client(llama, canaries)

    def calls(stream):
        deltas, finish = [], None
        for chunk in stream:
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for d in choice.delta.tool_calls or []:
                    deltas.append((d.index, d.function.name if d.function else None,
                                   d.function.arguments if d.function else None))
        return deltas, finish

    routed, finish = calls(client.chat.completions.create(**request))
    assert routed, "no tool-call deltas"
    assert all(index == 0 for index, _, _ in routed)
    assert routed[0][1] == "get_weather"
    arguments = "".join(a or "" for _, _, a in routed)
    assert isinstance(json.loads(arguments)["city"], str)
    assert finish == "tool_calls"
    assert (routed, finish) == calls(direct.chat.completions.create(**request))


def test_unknown_model_is_not_found(client, seen):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    error = caught.value.response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "model_not_found"
    assert "no-such-model" in error["message"]
    assert caught.value.code == "model_not_found"


def test_bad_client_key_is_refused(auth_router, canaries, make_client):
    client = make_client(auth_router, canaries.wrong_client)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="local-fast", messages=HELLO, max_tokens=4)
    assert caught.value.code == "invalid_api_key"
    assert caught.value.response.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    with pytest.raises(openai.AuthenticationError):
        client.embeddings.create(model="local-embed", input="x")


def test_no_client_key_is_refused(auth_router, seen):
    response = httpx2.post(f"{auth_router.url}/v1/chat/completions",
                          json={"model": "local-fast", "messages": HELLO})
    seen.append(response.text)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_good_client_keys_are_admitted(auth_router, canaries, make_client):
    for key in (canaries.client, canaries.other_client):
        answer = make_client(auth_router, key).chat.completions.create(
            model="local-fast", messages=HELLO, max_tokens=4)
        assert answer.choices[0].message.content is not None
    log = auth_router.log_text()
    assert re.search(r"request .*client=tests .*status=200", log), log
    assert re.search(r"request .*client=other .*status=200", log), log


def test_loopback_client_with_a_placeholder_key(router, make_client):
    """SDKs insist on a key; on loopback, with loopback allowed, any will do."""
    answer = make_client(router, "sk-placeholder").chat.completions.create(
        model="local-fast", messages=HELLO, max_tokens=4)
    assert answer.choices
    assert re.search(r"request .*client=loopback .*status=200", router.log_text())


def test_fallback_past_a_dead_target(client, router):
    before = metric(router.metrics(), "hwc_ai_router_fallbacks_total",
                    route="fallback", target=f"dead/{LLAMA_MODEL}", reason="connect")
    answer = client.chat.completions.create(model="fallback", messages=HELLO, max_tokens=8)
    assert answer.choices[0].message.content
    stream = client.chat.completions.create(model="fallback", messages=HELLO, max_tokens=8, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    scrape = router.metrics()
    after = metric(scrape, "hwc_ai_router_fallbacks_total",
                   route="fallback", target=f"dead/{LLAMA_MODEL}", reason="connect")
    assert after - before == 2, scrape
    assert metric(scrape, "hwc_ai_router_requests_total",
                  route="fallback", target=f"llama/{LLAMA_MODEL}", status="200") >= 2
    log = router.log_text()
    assert re.search(rf"request .*route=fallback target=llama/{LLAMA_MODEL} status=200", log)


def test_a_route_with_only_a_dead_target_is_a_502(client):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="broken", messages=HELLO, max_tokens=4)
    assert caught.value.status_code == 502
    error = caught.value.response.json()["error"]
    assert error["code"] == "upstream_error"
    assert "dead" in error["message"]
    with pytest.raises(openai.InternalServerError):
        list(client.chat.completions.create(model="broken", messages=HELLO, max_tokens=4, stream=True))


def test_wrong_backend_key_is_a_502_naming_the_target(client):
    """llama.cpp refuses the router's key (401): the client's key was good,
    so it gets a 502 that names the target, not a 401 it could not fix."""
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="llama-wrong-key", messages=HELLO, max_tokens=4)
    assert caught.value.status_code == 502
    error = caught.value.response.json()["error"]
    assert error["code"] == "upstream_error"
    assert f"llama-wrong-key/{LLAMA_MODEL}" in error["message"]
    assert "credentials" in error["message"]


def test_tokens_and_latency_are_measured(client, router):
    client.chat.completions.create(model="local-fast", messages=HELLO, max_tokens=4)
    list(client.chat.completions.create(model="local-fast", messages=HELLO, max_tokens=4, stream=True))
    scrape = router.metrics()
    target = f"llama/{LLAMA_MODEL}"
    assert metric(scrape, "hwc_ai_router_tokens_total", route="local-fast", target=target,
                  direction="completion") > 0
    assert metric(scrape, "hwc_ai_router_tokens_total", route="local-fast", target=target,
                  direction="prompt") > 0
    assert metric(scrape, "hwc_ai_router_time_to_first_chunk_seconds_count", route="local-fast",
                  target=target) >= 1
    assert metric(scrape, "hwc_ai_router_overhead_seconds_count") > 0


def test_health_names_routes_and_stays_on_the_host(router):
    health = httpx2.get(f"{router.url}/health").json()
    assert health["leavesHost"] is False
    routes = {r["model"]: r["targets"] for r in health["routes"]}
    assert routes["fallback"] == [f"dead/{LLAMA_MODEL}", f"llama/{LLAMA_MODEL}"]
    assert all(t["local"] for t in health["targets"])
