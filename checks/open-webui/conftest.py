"""The stack and the real Open WebUI in front of it, on free loopback ports.

- `ollama`: hwc-ai-ollama-fake with llama3.2:3b (tools) and
  nomic-embed-text installed; its chat calls every offered tool whose name
  the last user message contains.
- `router`, `mcp` (one stdio server, echo_server.py, as `shout`),
  `assistant` (one workflow, `disk-note`, writing into `notes/`): the
  daemons from target/debug, each admitting only the client key `open-webui` (no unauthenticated loopback), so a 200 proves
  Open WebUI sent the key the module's credential script wrote.
- `webui`: Open WebUI, its environment rendered by
  modules/lib/open-webui.nix (render.nix, through nix-instantiate) and its
  keys filled in by the module's own ExecStartPre= script from a
  credentials directory, as systemd would. `start_webui` starts another.

Environment (set by checks/open-webui/run): HWC_AI_BIN (target/debug),
HWC_AI_OPEN_WEBUI (the `open-webui` executable of its venv).
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
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
BIN = Path(os.environ.get("HWC_AI_BIN", HERE.parent.parent / "target" / "debug"))
OPEN_WEBUI = os.environ.get("HWC_AI_OPEN_WEBUI", "open-webui")
MODEL = "llama3.2:3b"
ASSISTANT_MODEL = "hwc-ai-assistant"
# the workflow the assistant declares (its notes go to STACK/notes)
WORKFLOW = "disk-note"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric(scrape: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in scrape.splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_http(url: str, process: subprocess.Popen, log: Path, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not up within {limit}s:\n{log.read_text()[-3000:]}")


@dataclass
class Daemon:
    name: str
    url: str
    process: subprocess.Popen
    log: Path

    def metrics(self) -> str:
        return httpx.get(self.url + "/metrics", timeout=10).text

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, argv: list[str], url: str, workdir: Path, health: str = "/health", env=None) -> Daemon:
    log = workdir / f"{name}.log"
    process = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               env=env or os.environ.copy(), cwd=workdir)
    wait_http(url + health, process, log)
    return Daemon(name, url, process, log)


def daemon(name: str, config: dict, workdir: Path) -> Daemon:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    host_port = config["listen"]
    return start(name, [str(BIN / name), "--config", str(path)], f"http://{host_port}", workdir)


@dataclass
class Stack:
    keys: dict[str, str]
    ollama: Daemon
    router: Daemon
    mcp: Daemon
    assistant: Daemon
    workdir: Path


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    s = make_stack(tmp_path_factory.mktemp("stack"))
    yield s
    for d in (s.assistant, s.mcp, s.router, s.ollama):
        d.stop()


def make_stack(work: Path) -> Stack:
    keys = {name: secrets.token_urlsafe(24) for name in ("router", "mcp", "assistant")}
    for name, key in keys.items():
        (work / f"{name}.key").write_text(key + "\n")

    def clients(name):
        return {"allowUnauthenticatedLoopback": False,
                "keys": [{"name": "open-webui", "key": {"file": str(work / f"{name}.key")}}]}

    scenario = work / "ollama.json"
    scenario.write_text(json.dumps({"installed": [MODEL, "nomic-embed-text"]}))
    port = free_port()
    ollama = start("hwc-ai-ollama-fake",
                   [str(BIN / "hwc-ai-ollama-fake"), "--listen", f"127.0.0.1:{port}", "--scenario", str(scenario)],
                   f"http://127.0.0.1:{port}", work, health="/api/version")
    router = daemon("hwc-ai-router", {
        "listen": f"127.0.0.1:{free_port()}",
        "clients": clients("router"),
        "backends": [{"name": "ollama", "kind": "openai-compatible", "baseUrl": ollama.url + "/v1",
                      "listModels": True}],
        "routes": [{"model": "*", "targets": [{"backend": "ollama"}]}],
    }, work)
    mcp = daemon("hwc-ai-mcp", {
        "listen": f"127.0.0.1:{free_port()}",
        "clients": clients("mcp"),
        "servers": [{"name": "shout", "command": sys.executable, "args": [str(HERE / "echo_server.py")]}],
    }, work)
    (work / "router-for-assistant.key").write_text(keys["router"] + "\n")
    notes = work / "notes"
    notes.mkdir()
    assistant = daemon("hwc-ai-assistant", {
        "listen": f"127.0.0.1:{free_port()}",
        "stateDirectory": str(work / "assistant"),
        "clients": clients("assistant"),
        "router": {"url": router.url, "model": MODEL, "apiKey": {"file": str(work / "router-for-assistant.key")}},
        "tools": ["disk_usage", "system_overview"],
        # a tool of Open WebUI through the hwc-ai-workflows tool server
        "workflows": {WORKFLOW: {
            "kind": "prompt", "prompt": "Write a short note about {{topic}}.",
            "inputs": {"type": "object", "required": ["topic"], "properties": {"topic": {"type": "string"}}},
            "output": {"directory": str(notes)}}},
    }, work)
    return Stack(keys, ollama, router, mcp, assistant, work)


def render(stack: Stack, out: Path, **args: str) -> dict:
    """render.nix for this stack: what the module gives Open WebUI."""
    port = lambda d: d.url.rsplit(":", 1)[1]  # noqa: E731
    argv = ["nix-instantiate", "--readonly-mode", "--eval", "--strict", "--json", str(HERE / "render.nix"),
            "--argstr", "routerPort", port(stack.router), "--argstr", "mcpPort", port(stack.mcp),
            "--argstr", "assistantPort", port(stack.assistant), "--argstr", "out", str(out)]
    for k, v in args.items():
        argv += ["--argstr", k, v]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def env_file(path: Path) -> dict[str, str]:
    """An environment file as systemd reads the module's: NAME='value'."""
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        assert value.startswith("'") and value.endswith("'"), line[:40]
        values[name] = value[1:-1]
    return values


@dataclass
class WebUI:
    url: str
    process: subprocess.Popen
    log: Path
    token: str
    rendered: dict

    def headers(self) -> dict:
        return {"authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.headers(), timeout=kw.pop("timeout", 60), **kw)

    def post(self, path: str, body=None, **kw) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers=self.headers(), timeout=kw.pop("timeout", 60), **kw)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_webui(stack: Stack, data: Path, **render_args: str) -> WebUI:
    """Open WebUI as the module's unit runs it: the rendered environment,
    then the ExecStartPre= script's file, from a credentials directory."""
    run = data / "run"
    creds = data / "credentials"
    run.mkdir(parents=True, exist_ok=True)
    creds.mkdir(exist_ok=True)
    out = run / "hwc-ai.env"
    rendered = render(stack, out, **render_args)
    # LoadCredential=: one file per key, as the module names them
    for name in rendered["credentials"]:
        daemon = name.removeprefix("open-webui-").removesuffix("-key")
        (creds / name).write_text(stack.keys[daemon] + "\n")
    wrote = subprocess.run(["bash", "-c", rendered["script"]], env={"CREDENTIALS_DIRECTORY": str(creds)},
                           capture_output=True, text=True)
    assert wrote.returncode == 0, wrote.stderr
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env |= rendered["environment"] | env_file(out)
    env |= {
        # the test's own: a data directory per run, no login, no image
        # of the full install (torch) to look for
        "DATA_DIR": str(data),
        "WEBUI_AUTH": "False",
        "WEBUI_SECRET_KEY": "hwc-ai-checks",
        "USE_SLIM_DOCKER": "true",
        "ENV": "prod",
    }
    port = free_port()
    log = data / "open-webui.log"
    process = subprocess.Popen([OPEN_WEBUI, "serve", "--host", "127.0.0.1", "--port", str(port)],
                               stdout=log.open("a"), stderr=subprocess.STDOUT, env=env, cwd=data)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/health", process, log, limit=120)
        signin = httpx.post(url + "/api/v1/auths/signin", json={"email": "", "password": ""}, timeout=30)
        signin.raise_for_status()
    except Exception:
        process.kill()
        raise
    return WebUI(url, process, log, signin.json()["token"], rendered)


@pytest.fixture(scope="session")
def webui(stack, tmp_path_factory):
    w = start_webui(stack, tmp_path_factory.mktemp("open-webui"))
    yield w
    w.stop()
