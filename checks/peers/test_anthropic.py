"""The router's `anthropic` backend against a real Anthropic Messages API:
LiteLLM's proxy serving /v1/messages in front of llama.cpp. The client
still speaks OpenAI (the official `openai` SDK); the router translates.
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

import httpx2

from conftest import ASK_WEATHER, FORCE_WEATHER, HELLO, LITELLM_MODEL, LLAMA_MODEL, WEATHER_TOOL, metric


@pytest.fixture(scope="module")
def messages_api(litellm, canaries) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=litellm.url, api_key=canaries.litellm, max_retries=0)


def test_the_peer_speaks_anthropic_messages(messages_api):
    """The official `anthropic` SDK, straight to LiteLLM (x-api-key): the
    peer really answers in Anthropic's format, streaming too."""
    message = messages_api.messages.create(model=LITELLM_MODEL, max_tokens=16, messages=HELLO)
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0

    with messages_api.messages.stream(model=LITELLM_MODEL, max_tokens=16, messages=HELLO) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_delta" in events and "message_delta" in events
    assert final.content[0].text


def test_the_peer_refuses_a_wrong_key(litellm, canaries):
    """LiteLLM without a database answers a key that is not its master key
    with 400 `no_db_connection`, not Anthropic's 401."""
    wrong = anthropic.Anthropic(base_url=litellm.url, api_key=canaries.wrong_backend, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        wrong.messages.create(model=LITELLM_MODEL, max_tokens=4, messages=HELLO)
    assert caught.value.body["error"]["type"] == "no_db_connection"


def test_translated_chat(client):
    answer = client.chat.completions.create(model="claude-test", messages=[
        {"role": "system", "content": "You are brief."},
        *HELLO,
    ], max_tokens=16, temperature=0)
    assert answer.object == "chat.completion"
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_translated_length_limit(client):
    answer = client.chat.completions.create(model="claude-test", messages=[
        {"role": "user", "content": "Write a long story about a lighthouse keeper."}],
        max_tokens=3)
    # Anthropic's max_tokens stop reason, back as OpenAI's.
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens <= 3


def test_translated_stream(client, router):
    chunks = list(client.chat.completions.create(
        model="claude-test", messages=HELLO, max_tokens=24, temperature=0, stream=True,
        stream_options={"include_usage": True},
    ))
    content = [c for c in chunks if c.choices]
    assert content[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in content)
    assert text.strip()
    assert len([c for c in content if c.choices[0].delta.content]) > 1, "the answer arrived in one piece"
    assert content[-1].choices[0].finish_reason in ("stop", "length")
    usage = chunks[-1]
    assert usage.choices == []
    assert usage.usage.prompt_tokens > 0 and usage.usage.completion_tokens > 0
    assert usage.usage.total_tokens == usage.usage.prompt_tokens + usage.usage.completion_tokens
    scrape = router.metrics()
    assert metric(scrape, "hwc_ai_router_tokens_total", route="claude-test",
                  target=f"claude/{LITELLM_MODEL}", direction="completion") > 0


def test_translated_stream_without_include_usage_still_counts_tokens(client, router):
    before = metric(router.metrics(), "hwc_ai_router_tokens_total", route="claude-test",
                    target=f"claude/{LITELLM_MODEL}", direction="completion")
    chunks = list(client.chat.completions.create(
        model="claude-test", messages=HELLO, max_tokens=8, stream=True))
    assert all(c.usage is None for c in chunks)
    after = metric(router.metrics(), "hwc_ai_router_tokens_total", route="claude-test",
                   target=f"claude/{LITELLM_MODEL}", direction="completion")
    assert after > before


def test_translated_tool_call(client):
    answer = client.chat.completions.create(
        model="claude-test", messages=ASK_WEATHER, max_tokens=64, temperature=0,
        tools=[WEATHER_TOOL], tool_choice=FORCE_WEATHER,
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.id and call.type == "function" and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_translated_tool_result_round_trip(client, llama, canaries):
    """The call's result goes back as a `tool` message, upstream a
    tool_result block after the assistant's tool_use block."""
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}}
    messages = [
        *ASK_WEATHER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny and 21 C in Oslo."},
    ]
    # LiteLLM hands llama.cpp the same turns in OpenAI's shape; whether
    # llama.cpp can read them at all is asked of it directly first.
    direct = httpx2.post(f"{llama.url}/v1/chat/completions", timeout=60,
                         headers={"Authorization": f"Bearer {canaries.llama}"},
                         json={"model": LLAMA_MODEL, "max_tokens": 4, "tools": [WEATHER_TOOL],
                               "messages": messages})
    if direct.status_code != 200:
        pytest.skip(f"llama.cpp's server cannot read an assistant tool call and its result "
                    f"(it answers {direct.status_code} to them directly), so neither can LiteLLM "
                    f"in front of it")
    follow_up = client.chat.completions.create(
        model="claude-test", max_tokens=24, temperature=0, tools=[WEATHER_TOOL], messages=messages)
    reply = follow_up.choices[0]
    assert reply.finish_reason in ("stop", "length", "tool_calls")
    assert reply.message.content or reply.message.tool_calls


def test_translated_tool_call_stream(client):
    stream = client.chat.completions.create(
        model="claude-test", messages=ASK_WEATHER, max_tokens=64, temperature=0,
        tools=[WEATHER_TOOL], tool_choice=FORCE_WEATHER, stream=True,
    )
    deltas, finish = [], None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            deltas.extend(choice.delta.tool_calls or [])
    assert deltas, "no tool-call deltas"
    assert all(d.index == 0 for d in deltas)
    assert len([d for d in deltas if d.id]) == 1, "one call, started once"
    assert deltas[0].id and deltas[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert isinstance(json.loads(arguments)["city"], str)
    assert finish == "tool_calls"


def test_translated_upstream_error_is_in_openai_shape(client, seen):
    """LiteLLM's own 4xx for a model it does not serve, rewritten into
    OpenAI's error shape and passed on with its status."""
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="claude-missing", messages=HELLO, max_tokens=4)
    assert 400 <= caught.value.status_code < 500
    error = caught.value.response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) == {"message", "type", "param", "code"}


def test_a_key_litellm_does_not_know(client):
    """Where LiteLLM refuses the router's key with a 4xx that is not 401 or
    403 (see above), that is passed on like any 4xx, in OpenAI's shape."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="claude-wrong-key", messages=HELLO, max_tokens=4)
    error = caught.value.response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
