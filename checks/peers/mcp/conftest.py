"""The MCP servers and hwc-ai-mcp, started on free loopback ports.

- `everything_http`, `everything_sse`: the protocol's reference server
  (@modelcontextprotocol/server-everything) over streamable HTTP (`/mcp`)
  and legacy HTTP+SSE (`/sse`), one each per session. It takes its port
  from `PORT` and binds every interface; the tests talk to 127.0.0.1 only.
- `gateway`: one hwc-ai-mcp for the session with every kind of server (see
  `SERVERS`), admitting loopback clients without a key, started once every
  server is up. Tests that need a gateway of their own (crashes, a server
  that never answers, keys, origins) start one with `make_gateway`, which
  writes the config for that test and stops the gateway after it.

Environment, set by checks/peers/mcp/run: HWC_AI_MCP (the gateway binary),
HWC_AI_MCP_NPM (the bin folder of the npm servers), HWC_AI_MCP_VENV (the
venv holding mcp-server-time and these tests).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

HERE = Path(__file__).resolve().parent

# MCP's protocol revisions; the initialize handshake's, oldest to newest.
PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST = "2025-06-18"

# The tools server-everything registers for every client, whatever the
# client's capabilities (it adds a few more for clients that declare
# roots, sampling or elicitation).
EVERYTHING_TOOLS = {
    "echo", "get-annotated-message", "get-env", "get-resource-links", "get-resource-reference",
    "get-structured-content", "get-sum", "get-tiny-image", "gzip-file-as-resource",
    "toggle-simulated-logging", "toggle-subscriber-updates", "trigger-long-running-operation",
}
# server-filesystem's tools that say destructiveHint: true.
FILESYSTEM_DESTRUCTIVE = {"write_file", "edit_file", "move_file"}
# paged_server.py's tools: 25 without annotations, and lookup, tree, wipe.
PAGED_ITEMS = {f"item-{i:02}" for i in range(25)}
PAGED_TOOLS = PAGED_ITEMS | {"lookup", "tree", "wipe"}

# The `limited` server's policy, and what it leaves of EVERYTHING_TOOLS.
LIMITED_POLICY = {"allow": ["get-*", "echo"], "deny": ["get-env", "*image*"]}
LIMITED_TOOLS = {
    "echo", "get-annotated-message", "get-resource-links", "get-resource-reference",
    "get-structured-content", "get-sum",
}


def env_path(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set (checks/peers/mcp/run sets it)")
    return Path(value)


def everything_cmd() -> str:
    return str(env_path("HWC_AI_MCP_NPM") / "mcp-server-everything")


def filesystem_cmd() -> str:
    return str(env_path("HWC_AI_MCP_NPM") / "mcp-server-filesystem")


def venv_bin(name: str) -> str:
    return str(env_path("HWC_AI_MCP_VENV") / "bin" / name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_for(what: str, check, timeout: float, interval: float = 0.1):
    """Calls `check` until it returns something true; that is returned."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except Exception as err:  # noqa: BLE001 (kept for the message)
            last = err
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")
        time.sleep(interval)


def stop_process(popen: subprocess.Popen, timeout: float = 15) -> int:
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
    return popen.returncode


def children(pid: int) -> list[int]:
    """Every process below `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(parents.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(parents.get(p, []))
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- direct: the servers themselves, without the gateway ---------------------


class StdioPeer:
    """A minimal MCP client straight to a stdio server: the ground truth
    the gateway's answers are compared with."""

    def __init__(self, cmd: list[str]) -> None:
        self.popen = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True)
        self.next_id = 0
        self.initialized = self.request("initialize", {
            "protocolVersion": LATEST, "capabilities": {},
            "clientInfo": {"name": "hwc-ai-checks", "version": "0"},
        })
        self.notify("notifications/initialized")

    def notify(self, method: str, params: dict | None = None) -> None:
        self._send({"jsonrpc": "2.0", "method": method, **({"params": params} if params else {})})

    def _send(self, message: dict) -> None:
        self.popen.stdin.write(json.dumps(message) + "\n")
        self.popen.stdin.flush()

    def request(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}})
        while True:
            line = self.popen.stdout.readline()
            if not line:
                raise RuntimeError(f"the server closed stdout during {method}")
            message = json.loads(line)
            if message.get("id") == self.next_id and "method" not in message:
                return message

    def tools(self) -> list[dict]:
        tools, cursor = [], None
        while True:
            result = self.request("tools/list", {"cursor": cursor} if cursor else {})["result"]
            tools += result["tools"]
            cursor = result.get("nextCursor")
            if not cursor:
                return tools

    def close(self) -> None:
        self.popen.stdin.close()
        stop_process(self.popen, 5)


# --- the gateway -------------------------------------------------------------


@dataclass
class Gateway:
    name: str
    config: dict
    config_path: Path
    log: Path
    popen: subprocess.Popen
    key: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config['listen']}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def headers(self, key: str | None = None, **extra: str) -> dict:
        key = key if key is not None else self.key
        return ({"authorization": f"Bearer {key}"} if key else {}) | extra

    def get(self, path: str, **kw) -> httpx2.Response:
        kw.setdefault("headers", self.headers())
        kw.setdefault("timeout", 30)
        return httpx2.get(self.url + path, **kw)

    def post(self, path: str, body=None, **kw) -> httpx2.Response:
        kw.setdefault("headers", self.headers())
        kw.setdefault("timeout", 30)
        if body is not None:
            kw["json"] = body
        return httpx2.post(self.url + path, **kw)

    def entry(self, name: str) -> dict:
        response = self.get(f"/servers/{name}")
        assert response.status_code == 200, response.text
        return response.json()

    def servers(self) -> dict[str, dict]:
        response = self.get("/servers")
        assert response.status_code == 200, response.text
        return {e["name"]: e for e in response.json()["servers"]}

    def wait_up(self, names, timeout: float = 60) -> dict[str, dict]:
        def all_up():
            entries = self.servers()
            return entries if all(entries[n]["state"] == "up" for n in names) else None

        try:
            return wait_for(f"{self.name}: servers {sorted(names)} up", all_up, timeout, 0.2)
        except AssertionError as err:
            try:
                states = {n: (e["state"], e.get("lastError")) for n, e in self.servers().items()}
            except Exception as e:  # noqa: BLE001 (the gateway may be gone)
                states = f"/servers: {e!r}; exit status {self.popen.poll()}"
            raise AssertionError(f"{err}\n{states}\n{tail(self.log)}") from None

    def metrics(self) -> str:
        return httpx2.get(self.url + "/metrics", timeout=10).text

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        return stop_process(self.popen)


def gateway_binary() -> str:
    return str(env_path("HWC_AI_MCP"))


def write_config(workdir: Path, name: str, config: dict) -> Path:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def check_config(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([gateway_binary(), "--check-config", "--config", str(path)],
                          capture_output=True, text=True, timeout=30)


def start_gateway(workdir: Path, name: str, config: dict, key: str | None = None) -> Gateway:
    config = {"listen": f"127.0.0.1:{free_port()}", "log": {"level": "debug"}} | config
    path = write_config(workdir, name, config)
    check = check_config(path)
    assert check.returncode == 0, f"--check-config {path}: {check.stdout}{check.stderr}"
    log = workdir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    with log.open("wb") as out:
        popen = subprocess.Popen([gateway_binary(), "--config", str(path)], stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    gateway = Gateway(name, config, path, log, popen, key)

    def healthy():
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}:\n{tail(log)}")
        return httpx2.get(gateway.url + "/health", timeout=2).status_code == 200

    try:
        wait_for(f"{name} /health", healthy, 30)
    except AssertionError:
        gateway.stop()
        raise AssertionError(f"{name} did not answer /health:\n{tail(log)}") from None
    return gateway


def key_file(workdir: Path, name: str, value: str) -> dict:
    path = workdir / f"{name}.key"
    path.write_text(value + "\n")
    path.chmod(0o600)
    return {"file": str(path)}


# --- servers ------------------------------------------------------------------


@dataclass
class HttpServer:
    url: str
    popen: subprocess.Popen
    log: Path


def start_everything_http(workdir: Path, transport: str) -> HttpServer:
    port = free_port()
    log = workdir / f"everything-{transport}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen([everything_cmd(), transport], stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=dict(os.environ, PORT=str(port)))

    def listening():
        if popen.poll() is not None:
            raise RuntimeError(f"server-everything {transport} exited:\n{tail(log)}")
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_for(f"server-everything {transport} on port {port}", listening, 30)
    path = "/mcp" if transport == "streamableHttp" else "/sse"
    return HttpServer(f"http://127.0.0.1:{port}{path}", popen, log)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mcp")


@pytest.fixture(scope="session")
def everything_http(workdir):
    server = start_everything_http(workdir, "streamableHttp")
    yield server
    stop_process(server.popen)


@pytest.fixture(scope="session")
def everything_sse(workdir):
    server = start_everything_http(workdir, "sse")
    yield server
    stop_process(server.popen)


@pytest.fixture(scope="session")
def files_root(workdir) -> Path:
    root = workdir / "files"
    root.mkdir()
    (root / "notes.txt").write_text("first line\n")
    return root


@pytest.fixture(scope="session")
def secret_env(workdir) -> tuple[str, dict]:
    """A canary handed to a server through secretEnv, and its source."""
    value = "canary-mcp-secret-" + secrets.token_hex(8)
    return value, key_file(workdir, "secret-env", value)


def paged_server(*args: str) -> dict:
    return {"command": venv_bin("python"), "args": [str(HERE / "paged_server.py"), *args]}


@pytest.fixture(scope="session")
def servers(everything_http, everything_sse, files_root, secret_env) -> list[dict]:
    """The session gateway's servers: every transport, every policy."""
    return [
        {"name": "everything", "command": everything_cmd(), "args": ["stdio"],
         "env": {"HWC_AI_PLAIN": "plain-value"}, "secretEnv": {"HWC_AI_SECRET": secret_env[1]}},
        {"name": "everything-http", "url": everything_http.url},
        {"name": "everything-sse", "url": everything_sse.url, "transport": "sse"},
        {"name": "time", "command": venv_bin("mcp-server-time"), "args": ["--local-timezone", "UTC"]},
        {"name": "files", "command": filesystem_cmd(), "args": [str(files_root)], "readOnly": True},
        {"name": "limited", "command": everything_cmd(), "args": ["stdio"], "tools": LIMITED_POLICY},
        {"name": "paged", **paged_server()},
        {"name": "paged-ro", **paged_server(), "readOnly": True},
    ]


@pytest.fixture(scope="session")
def gateway(workdir, servers):
    g = start_gateway(workdir, "gateway", {
        "checkInterval": "5s", "checkTimeout": "20s", "callTimeout": "30s",
        "servers": servers,
    })
    try:
        g.wait_up([s["name"] for s in servers])
    except BaseException:
        g.stop()
        raise
    yield g
    g.stop()


@pytest.fixture
def make_gateway(workdir, request):
    """`make_gateway(config, key=None)`: a gateway of this test's own."""
    started: list[Gateway] = []

    def make(config: dict, key: str | None = None, name: str | None = None) -> Gateway:
        name = name or f"{request.node.name}-{len(started)}".replace("[", "-").replace("]", "")
        g = start_gateway(workdir, name, config, key)
        started.append(g)
        return g

    yield make
    for g in started:
        g.stop()


# --- MCP over HTTP, by hand --------------------------------------------------


def sse_messages(text: str) -> list[dict]:
    """The JSON-RPC messages of an SSE body (`data:` lines)."""
    messages, data = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line:
            # An event with empty data primes a client's reconnection
            # (an id and a retry only): no message.
            if "".join(data).strip():
                messages.append(json.loads("\n".join(data)))
            data = []
    return messages


def rpc_answer(response: httpx2.Response, request_id) -> dict:
    """The answer to `request_id` in a streamable HTTP response, whether
    the server sent JSON or an SSE stream."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/json"):
        messages = response.json()
        messages = messages if isinstance(messages, list) else [messages]
    elif kind.startswith("text/event-stream"):
        messages = sse_messages(response.text)
    else:
        raise AssertionError(f"{response.status_code} with content-type {kind!r}: {response.text[:500]}")
    for message in messages:
        if message.get("id") == request_id and "method" not in message:
            return message
    raise AssertionError(f"no answer to id {request_id} in {messages}")


class McpHttp:
    """A streamable HTTP MCP client written out by hand, to see every
    status and header: `init()`, then `call(method, params)`."""

    ACCEPT = "application/json, text/event-stream"

    def __init__(self, url: str, headers: dict | None = None) -> None:
        self.url = url
        self.base_headers = headers or {}
        self.session: str | None = None
        self.version: str | None = None
        self.next_id = 0

    def headers(self) -> dict:
        h = {"accept": self.ACCEPT, "content-type": "application/json"} | self.base_headers
        if self.session:
            h["mcp-session-id"] = self.session
        if self.version:
            h["mcp-protocol-version"] = self.version
        return h

    def post(self, message: dict) -> httpx2.Response:
        return httpx2.post(self.url, json=message, headers=self.headers(), timeout=30)

    def init(self) -> dict:
        response = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": LATEST, "capabilities": {},
            "clientInfo": {"name": "hwc-ai-checks", "version": "0"},
        }})
        assert response.status_code == 200, f"initialize: {response.status_code} {response.text}"
        answer = rpc_answer(response, 0)
        self.session = response.headers.get("mcp-session-id")
        self.version = answer["result"]["protocolVersion"]
        note = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert note.status_code == 202, f"notifications/initialized: {note.status_code} {note.text}"
        return answer["result"]

    def call(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        response = self.post({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}})
        assert response.status_code == 200, f"{method}: {response.status_code} {response.text}"
        return rpc_answer(response, self.next_id)

    def tools(self) -> list[dict]:
        tools, cursor = [], None
        for _ in range(100):
            answer = self.call("tools/list", {"cursor": cursor} if cursor else {})
            assert "result" in answer, answer
            tools += answer["result"]["tools"]
            cursor = answer["result"].get("nextCursor")
            if not cursor:
                return tools
        raise AssertionError("tools/list: more than 100 pages")

    def delete(self) -> httpx2.Response:
        return httpx2.delete(self.url, headers=self.headers(), timeout=30)


# --- OpenAPI -----------------------------------------------------------------


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    """(path, method, operation) for every operation of a spec."""
    found = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                found.append((path, method, op))
    return found


def refs(node, where: str = "#", key: str = "$ref") -> list[tuple[str, object]]:
    """Every `$ref` (or other `key`) in a document, with where it is."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append((where, v))
            else:
                found += refs(v, f"{where}/{k}", key)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += refs(v, f"{where}/{i}", key)
    return found


def resolve_pointer(doc: dict, ref: str):
    assert ref.startswith("#/"), f"a $ref outside the document: {ref}"
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def pytest_report_header(config) -> list[str]:
    lines = [f"hwc-ai-mcp: {os.environ.get('HWC_AI_MCP', '(HWC_AI_MCP unset)')}"]
    try:
        import importlib.metadata as md

        lines.append("python peers: " + ", ".join(
            f"{p} {md.version(p)}" for p in ("mcp", "mcp-server-time", "openapi-spec-validator", "prance")))
    except Exception:  # noqa: BLE001
        pass
    npm = os.environ.get("HWC_AI_MCP_NPM")
    if npm:
        for name in ("server-everything", "server-filesystem"):
            package = Path(npm).parent / "@modelcontextprotocol" / name / "package.json"
            if package.is_file():
                lines.append(f"@modelcontextprotocol/{name} {json.loads(package.read_text())['version']}")
    lines.append(f"python {sys.version.split()[0]}")
    return lines
