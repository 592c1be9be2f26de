"""hwc-ai-assistant in front of the router and llama.cpp's server: the
agent loop's plumbing with a real model (SmolLM2-135M: plumbing, not
answer quality), through the official `openai` SDK; refusals that never
reach the model; the direct path when the router is gone; the audit log
behind all of it, read by `hwc-ai audit`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import openai
import pytest

from conftest import free_port, metric, start

ROUTE = "local-fast"


def start_assistant(workdir, name: str, router_url: str, **extra):
    binary = os.environ.get("HWC_AI_ASSISTANT")
    if not binary:
        pytest.fail("HWC_AI_ASSISTANT is not set (checks/peers/run sets it)")
    port = free_port()
    state = workdir / f"{name}-state"
    config = {
        "listen": f"127.0.0.1:{port}",
        "stateDirectory": str(state),
        "router": {"url": router_url, "model": ROUTE},
        "agent": {"maxRounds": 2, "budget": "90s"},
        "tools": ["system_overview", "disk_usage"],
        **extra,
    }
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    check = subprocess.run([binary, "--check-config", "--config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    process = start(name, [binary, "--config", str(path)], workdir / f"{name}.log",
                    f"http://127.0.0.1:{port}", "/health", 30)
    return process, state / "audit.db"


@pytest.fixture(scope="module")
def assistant(workdir, router):
    process, audit = start_assistant(workdir, "assistant", router.url)
    yield process, audit
    process.stop()


@pytest.fixture(scope="module")
def orphan(workdir):
    """An assistant whose router is gone."""
    dead = f"http://127.0.0.1:{free_port()}"
    process, audit = start_assistant(workdir, "assistant-orphan", dead,
                                     rateLimit={"requestsPerMinute": 1, "burst": 3})
    yield process, audit
    process.stop()


def sdk(process) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{process.url}/v1", api_key="loopback-needs-none", max_retries=0, timeout=180)


def routed(router) -> float:
    return metric(router.metrics(), "hwc_ai_router_requests_total",
                  route=ROUTE, target="llama/smollm2", status="200")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([os.environ["HWC_AI_CLI"], *args], capture_output=True, text=True, timeout=200)


def test_a_question_goes_through_the_router_to_the_model_and_is_audited(assistant, router):
    process, audit = assistant
    before = routed(router)
    reply = sdk(process).chat.completions.create(
        model="hwc-ai-assistant", messages=[{"role": "user", "content": "Say hello in five words."}])
    assert reply.choices[0].message.content.strip()
    extra = reply.model_extra["hwc_ai"]
    assert extra["source"] == "model", extra
    assert routed(router) - before >= 1
    verify = cli("audit", "verify", "--db", str(audit))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    row = sqlite3.connect(audit).execute("SELECT outcome, request FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    assert row == ("answered (model)", "Say hello in five words.")


def test_streaming_through_the_sdk(assistant):
    process, _ = assistant
    stream = sdk(process).chat.completions.create(
        model="hwc-ai-assistant", stream=True,
        messages=[{"role": "user", "content": "Name one colour."}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.strip()


def test_a_refusal_never_reaches_the_model(assistant, router):
    process, audit = assistant
    before = routed(router)
    reply = sdk(process).chat.completions.create(
        model="hwc-ai-assistant", messages=[{"role": "user", "content": "please restart nginx"}])
    assert "read-only" in reply.choices[0].message.content
    assert reply.model_extra["hwc_ai"]["intent"] == "refused"
    assert routed(router) == before
    asked = cli("ask", "--url", process.url, "stop ollama")
    assert asked.returncode == 1 and "read-only" in asked.stdout, asked


def test_without_the_router_everyday_questions_are_answered_directly(orphan):
    process, audit = orphan
    client = sdk(process)
    reply = client.chat.completions.create(
        model="hwc-ai-assistant", messages=[{"role": "user", "content": "How much disk space is left?"}])
    assert reply.model_extra["hwc_ai"]["source"] == "direct"
    assert "- /: " in reply.choices[0].message.content
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(
            model="hwc-ai-assistant", messages=[{"role": "user", "content": "Write me a limerick."}])
    assert refused.value.status_code == 503
    asked = cli("ask", "--url", process.url, "What is the CPU and memory usage?")
    assert asked.returncode == 0 and "Memory:" in asked.stdout, asked
    # The burst of three is spent: the fourth request waits. Model
    # listings are not counted (Open WebUI lists on every page load).
    client.models.list()
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(
            model="hwc-ai-assistant", messages=[{"role": "user", "content": "How much disk space is left?"}])
    assert int(limited.value.response.headers["retry-after"]) >= 1
    tail = cli("audit", "tail", "-n", "10", "--db", str(audit))
    assert "answered (direct)" in tail.stdout and "model_unavailable" in tail.stdout, tail.stdout


def test_an_edited_audit_row_is_named(assistant, tmp_path):
    _, audit = assistant
    copy = tmp_path / "audit.db"
    with sqlite3.connect(audit) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    db = sqlite3.connect(copy)
    db.executescript("DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'ok' WHERE id = 1;")
    db.commit()
    db.close()
    verify = cli("audit", "verify", "--db", str(copy))
    assert verify.returncode == 1, verify.stdout
    assert "BROKEN at row 1" in verify.stdout, verify.stdout
