"""`POST /execute`, profiles and `hwc-ai smoke` against llama.cpp's server:
a profile resolves to the real model, a schema is asked for with
`response_format` (which llama.cpp enforces with a grammar) and the answer
validates; a target that answers prose is repaired, then passed over, then
refused as `schema_error`; a stuck target is a `timeout`, a dead one a
`provider_error`, one that refuses the router's key a
`configuration_error`.
"""

from __future__ import annotations

import json
import os
import subprocess

import httpx2
import pytest

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["city", "sunny"],
    "properties": {"city": {"type": "string", "maxLength": 40}, "sunny": {"type": "boolean"}},
}


def execute(router, seen, **run):
    response = httpx2.post(f"{router.url}/execute", json=run, timeout=180)
    if response.status_code >= 400:
        seen.append(response.text)
    return response.status_code, response.json()


def test_a_profile_returns_schema_valid_json(router, seen):
    status, body = execute(
        router, seen, model_name="triage-local",
        prompt="Is it sunny in Oslo today? Answer as JSON with the city and whether it is sunny.",
        model_params={"json_schema": SCHEMA},
    )
    assert status == 200, body
    answer = json.loads(body["content"])
    assert set(answer) == {"city", "sunny"} and isinstance(answer["sunny"], bool)
    assert body["model"] == "triage-local"
    assert body["target"] == "llama/smollm2"
    assert body["usage"]["completion_tokens"] > 0
    assert body["attempts"][-1]["outcome"] == "ok"


def test_profiles_are_model_names_on_the_openai_endpoint(client):
    ids = [m.id for m in client.models.list().data]
    assert "triage-local" in ids
    answer = client.chat.completions.create(
        model="triage-local", messages=[{"role": "user", "content": "Say hi."}], max_tokens=8
    )
    assert answer.choices[0].message.content


def test_invalid_json_is_repaired_then_passed_over(router, liar, seen):
    before = liar.hits
    status, body = execute(
        router, seen, model_name="triage-fallback", prompt="Is it sunny in Oslo?",
        model_params={"json_schema": SCHEMA},
    )
    assert status == 200, body
    outcomes = [(a["target"], a["outcome"]) for a in body["attempts"]]
    assert outcomes[:2] == [("liar/liar", "schema_error"), ("liar/liar", "schema_error")]
    assert outcomes[-1] == ("llama/smollm2", "ok")
    assert liar.hits - before == 2, "one try and one repair"
    json.loads(body["content"])


def test_never_valid_is_a_schema_error_listing_the_failures(router, seen):
    status, body = execute(
        router, seen, model_name="triage-never", prompt="Is it sunny?", model_params={"json_schema": SCHEMA}
    )
    assert status == 422, body
    error = body["error"]
    assert error["kind"] == "schema_error"
    assert len(error["attempts"]) == 3
    assert all(a["validation_errors"][0].startswith("the answer is not JSON") for a in error["attempts"])


@pytest.mark.parametrize(
    ("model", "status", "kind"),
    [
        ("stuck", 504, "timeout"),
        ("broken", 502, "provider_error"),
        ("llama-wrong-key", 500, "configuration_error"),
        ("no-such-profile", 404, "profile_error"),
    ],
)
def test_failures_have_their_kind(router, seen, model, status, kind):
    got, body = execute(router, seen, model_name=model, prompt="hi")
    assert (got, body["error"]["kind"]) == (status, kind), body


def test_smoke_passes_against_the_real_model(router):
    cli = os.environ.get("HWC_AI_CLI")
    if not cli:
        pytest.fail("HWC_AI_CLI is not set (checks/peers/run sets it)")
    run = subprocess.run(
        [cli, "smoke", "--url", router.url, "--model", "triage-local", "--budget", "120s"],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=200,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.rstrip().endswith("PASS")
    assert "schema   ok" in run.stdout


def test_smoke_reports_a_schema_failure(router):
    cli = os.environ["HWC_AI_CLI"]
    run = subprocess.run(
        [cli, "smoke", "--url", router.url, "--model", "triage-never"],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=200,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "schema_error (422)" in run.stdout
