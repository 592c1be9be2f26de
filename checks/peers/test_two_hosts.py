"""Two hosts: a router on one reaching the Ollama of another through TLS.

Two network namespaces joined by a veth pair stand for two machines on a
LAN. `gpu` runs the Ollama fake on its loopback, published on its LAN
address by Debian's nginx with TLS (a certificate from a throwaway CA,
no response buffering), as docs/router.md (Several Ollama hosts) says to
publish an Ollama. `gateway` runs the router with its own Ollama fake
(backend `ollama`) and `gpu`'s https URL as a second discovering backend
in one tier, the CA trusted by that backend's `tls.caFile`. checks/nixos/multi-host.nix
is the same topology as two NixOS machines.

What the operator relies on: a model only `gpu` has is answered through
the gateway (and /health says `gpu` lists it), a stream arrives token by
token across, a model both have is still answered when `gpu`'s nginx is
gone while one only `gpu` had gets a 502 naming the target and /health
shows the failed listing, and `gpu`'s Ollama port is closed to the LAN.

Root only (network namespaces); skipped otherwise. About 3 s.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from conftest import start

GPU_MODEL = "qwen3:0.6b"
SHARED_MODEL = "llama3.2:1b"
TOKEN_DELAY = 0.1
WORDS = "one two three four five six seven eight"
GPU_ADDR, GATEWAY_ADDR = "10.213.7.1", "10.213.7.2"
HTTPS_PORT = 8443
CLONE_NEWNET = 0x40000000

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="two hosts as network namespaces need root and iproute2")


def sh(*cmd: str, cwd: Path | None = None) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)


@contextlib.contextmanager
def inside(netns: str):
    """This thread in `netns` (sockets opened here stay in it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/ns/net") as home, open(f"/run/netns/{netns}") as there:
        if libc.setns(there.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {netns}")
        try:
            yield
        finally:
            libc.setns(home.fileno(), CLONE_NEWNET)


def certificates(d: Path) -> None:
    """A CA, and a certificate it signs for `gpu` and its LAN address."""
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=hwc-ai test CA", cwd=d)
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=gpu", cwd=d)
    (d / "san.ext").write_text(f"subjectAltName=DNS:gpu,IP:{GPU_ADDR}\n")
    sh("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
       "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "san.ext", cwd=d)


def nginx_conf(d: Path) -> str:
    # The virtual host of docs/router.md: TLS on the LAN address only,
    # streams passed on as they come.
    return f"""
user root;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen {GPU_ADDR}:{HTTPS_PORT} ssl;
    server_name gpu;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/key.pem;
    location / {{
      proxy_pass http://127.0.0.1:11434;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 10m;
      proxy_set_header Host 127.0.0.1:11434;
    }}
  }}
}}
"""


def fake(d: Path, netns: str, name: str, models: list[str]) -> subprocess.Popen:
    scenario = d / f"{name}.json"
    scenario.write_text(json.dumps({
        "installed": models,
        "faults": [{"model": GPU_MODEL, "tokenDelay": f"{int(TOKEN_DELAY * 1000)}ms"}] if GPU_MODEL in models else [],
    }))
    with (d / f"{name}.log").open("wb") as out:
        return subprocess.Popen(["ip", "netns", "exec", netns, os.environ["HWC_AI_OLLAMA_FAKE"],
                                 "--listen", "127.0.0.1:11434", "--scenario", str(scenario)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_for(what: str, check, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except httpx2.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s")
        time.sleep(0.1)


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def lan(workdir):
    for tool in ("nginx", "openssl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH (checks/peers/run installs it)")
    for var in ("HWC_AI_OLLAMA_FAKE", "HWC_AI_ROUTER"):
        if not os.environ.get(var):
            pytest.fail(f"{var} is not set (checks/peers/run sets it)")
    d = workdir / "two-hosts"
    d.mkdir()
    certificates(d)
    tag = secrets.token_hex(3)
    gpu, gateway = f"hwc-gpu-{tag}", f"hwc-gw-{tag}"
    procs: list[subprocess.Popen] = []
    try:
        for ns in (gpu, gateway):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", f"v{tag}g", "netns", gpu, "type", "veth", "peer", "name", f"v{tag}w",
           "netns", gateway)
        sh("ip", "-n", gpu, "addr", "add", f"{GPU_ADDR}/24", "dev", f"v{tag}g")
        sh("ip", "-n", gateway, "addr", "add", f"{GATEWAY_ADDR}/24", "dev", f"v{tag}w")
        sh("ip", "-n", gpu, "link", "set", f"v{tag}g", "up")
        sh("ip", "-n", gateway, "link", "set", f"v{tag}w", "up")

        procs.append(fake(d, gpu, "gpu-ollama", [GPU_MODEL, SHARED_MODEL]))
        procs.append(fake(d, gateway, "gateway-ollama", [SHARED_MODEL]))
        for ns, p in ((gpu, procs[0]), (gateway, procs[1])):
            def up(ns=ns, p=p) -> bool:
                assert p.poll() is None, f"the Ollama fake in {ns} exited (see its log in {d})"
                with inside(ns):
                    return httpx2.get("http://127.0.0.1:11434/api/version", timeout=2).status_code == 200
            wait_for(f"the Ollama fake in {ns} did not answer", up)
        (d / "nginx.conf").write_text(nginx_conf(d))
        with (d / "nginx.out").open("wb") as out:
            nginx = subprocess.Popen(["ip", "netns", "exec", gpu, "nginx", "-p", str(d), "-c", str(d / "nginx.conf")],
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(nginx)

        config = d / "router.json"
        config.write_text(json.dumps({
            "listen": "127.0.0.1:9432",
            "defaults": {"discoverInterval": "1s", "firstByteTimeout": "5s"},
            "backends": [
                {"name": "ollama", "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:11434/v1",
                 "discover": True},
                {"name": "gpu", "kind": "openai-compatible", "baseUrl": f"https://{GPU_ADDR}:{HTTPS_PORT}/v1",
                 "remote": True, "discover": True, "tls": {"caFile": str(d / "ca.pem")}},
            ],
            "routes": [{"model": "*", "targets": [{"backends": ["ollama", "gpu"]}]}],
        }))
        check = subprocess.run([os.environ["HWC_AI_ROUTER"], "--check-config", "--config", str(config)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        env = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "SSL_CERT_FILE", "SSL_CERT_DIR")}
        with (d / "router.log").open("wb") as out:
            router = subprocess.Popen(["ip", "netns", "exec", gateway, os.environ["HWC_AI_ROUTER"],
                                       "--config", str(config)],
                                      stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        procs.append(router)

        def gpu_listed() -> bool:
            with inside(gateway):
                h = httpx2.get("http://127.0.0.1:9432/health", timeout=2).json()
            gpu_backend = next(b for b in h["backends"] if b["name"] == "gpu")
            return GPU_MODEL in json.dumps(gpu_backend.get("models", {}).get("installed", []))

        wait_for("the gateway's router did not list gpu's models through nginx (see router.log, error.log)",
                 gpu_listed)
        yield {"dir": d, "gpu": gpu, "gateway": gateway, "nginx": nginx, "router": router}
    finally:
        for p in reversed(procs):
            stop(p)
        for ns in (gpu, gateway):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def chat(lan, model: str, **extra) -> httpx2.Response:
    with inside(lan["gateway"]):
        return httpx2.post("http://127.0.0.1:9432/v1/chat/completions", timeout=30,
                           json={"model": model, "messages": [{"role": "user", "content": WORDS}], **extra})


def health(lan) -> dict:
    with inside(lan["gateway"]):
        return httpx2.get("http://127.0.0.1:9432/health", timeout=5).json()


def test_a_model_only_gpu_has_is_answered_through_the_gateway(lan):
    answer = chat(lan, GPU_MODEL)
    assert answer.status_code == 200, answer.text
    assert WORDS in answer.json()["choices"][0]["message"]["content"]
    backends = {b["name"]: b for b in health(lan)["backends"]}
    assert GPU_MODEL in json.dumps(backends["gpu"]["models"]["installed"])
    assert GPU_MODEL not in json.dumps(backends["ollama"]["models"]["installed"])
    # it crossed the LAN: gpu's nginx served it
    assert "/v1/chat/completions" in (lan["dir"] / "access.log").read_text()


def test_a_stream_crosses_token_by_token(lan):
    arrivals, text = [], ""
    with inside(lan["gateway"]):
        start_at = time.monotonic()
        with httpx2.stream("POST", "http://127.0.0.1:9432/v1/chat/completions", timeout=30,
                           json={"model": GPU_MODEL, "stream": True,
                                 "messages": [{"role": "user", "content": WORDS}]}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if not line.startswith("data: {"):
                    continue
                delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if delta:
                    arrivals.append(time.monotonic() - start_at)
                    text += delta
    assert WORDS in text
    words = len(WORDS.split())
    assert len(arrivals) >= words
    # streamed, not buffered by nginx: the tokens arrive a delay apart
    assert arrivals[-1] - arrivals[0] >= (words - 2) * TOKEN_DELAY, arrivals


def test_gpus_ollama_port_is_closed_to_the_lan(lan):
    with inside(lan["gateway"]):
        with pytest.raises(httpx2.ConnectError):
            httpx2.get(f"http://{GPU_ADDR}:11434/api/tags", timeout=5)
        # and the TLS port answers only TLS
        plain = httpx2.get(f"http://{GPU_ADDR}:{HTTPS_PORT}/api/tags", timeout=5)
        assert plain.status_code == 400


def test_without_gpus_nginx_the_gateway_answers_what_it_can(lan):
    """Last: stops gpu's nginx."""
    stop(lan["nginx"])
    # the next listing fails, and /health says so
    def listing_failed() -> bool:
        gpu = next(b for b in health(lan)["backends"] if b["name"] == "gpu")
        return bool(gpu["models"].get("error"))
    wait_for("/health did not show gpu's failed listing", listing_failed, timeout=10)

    shared = chat(lan, SHARED_MODEL)
    assert shared.status_code == 200, shared.text
    only_gpu = chat(lan, GPU_MODEL)
    assert only_gpu.status_code == 502, only_gpu.text
    assert "gpu" in only_gpu.json()["error"]["message"], only_gpu.text
