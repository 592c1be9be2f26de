"""No key comes back out: after the other tests (checks/peers/run runs
this file last), and after a round of requests that fail on purpose, no
canary is in either router's log, in any error body a client saw, or in
their /metrics and /health.
"""

from __future__ import annotations

import httpx2
import openai
import pytest

from conftest import HELLO


def test_error_paths_and_every_output_are_free_of_keys(router, auth_router, canaries, make_client, seen):
    client = make_client(router, canaries.client)
    # A wrong client key, a dead backend, a backend that refuses the
    # router's key, an upstream 4xx, an unknown model: every error path.
    failing = [
        (make_client(auth_router, canaries.wrong_client), "local-fast", openai.AuthenticationError),
        (client, "broken", openai.InternalServerError),
        (client, "llama-wrong-key", openai.InternalServerError),
        (client, "claude-wrong-key", openai.APIStatusError),
        (client, "claude-missing", openai.APIStatusError),
        (client, "no-such-model", openai.NotFoundError),
    ]
    for sdk, model, error in failing:
        for stream in (False, True):
            with pytest.raises(error):
                list(sdk.chat.completions.create(model=model, messages=HELLO, max_tokens=4, stream=stream)) \
                    if stream else sdk.chat.completions.create(model=model, messages=HELLO, max_tokens=4)
    with pytest.raises(openai.AuthenticationError):
        make_client(auth_router, canaries.wrong_client).embeddings.create(model="local-embed", input="x")

    outputs = {"error bodies": "\n".join(seen)}
    assert len(seen) >= 2 * len(failing)
    for name, r in (("router", router), ("auth-router", auth_router)):
        outputs[f"{name} log"] = r.log_text()
        outputs[f"{name} /metrics"] = r.metrics()
        outputs[f"{name} /health"] = httpx2.get(f"{r.url}/health").text
    assert "status=401" in outputs["auth-router log"]
    assert "status=502" in outputs["router log"]
    for where, text in outputs.items():
        assert text, f"{where} is empty"
        for name, canary in canaries.all().items():
            assert canary not in text, f"the {name} key is in the {where}"
