"""The router published as `hwc.ai.router.publish` publishes it: Debian's
nginx with the configuration the module renders (publish-nginx.nix), a
certificate signed by a throwaway CA, the router behind it with one client
key and loopback clients admitted (the default), the Ollama fake as its
backend, streaming one token per 150 ms.

What a LAN client relies on: the `openai` SDK, trusting the CA, streams a
chat through nginx token by token over HTTP/2; without its key it is
refused although nginx reaches the router from loopback; plain HTTP is
refused; a body over the limit never reaches the router.

Environment: HWC_AI_ROUTER and HWC_AI_OLLAMA_FAKE (set by checks/peers/run);
nginx, openssl, curl and nix-instantiate on PATH.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx2
import openai
import pytest

from conftest import free_port, start, start_router

MODEL = "qwen3:0.6b"
TOKEN_DELAY = 0.15
WORDS = "one two three four five six seven eight"
ROOT = Path(__file__).resolve().parents[2]


def trusting(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def run(*cmd: str, cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)


def make_certificates(d: Path) -> None:
    """A CA, and a certificate it signs for localhost and 127.0.0.1."""
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=hwc-ai test CA", cwd=d)
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "san.ext", cwd=d)


@pytest.fixture(scope="module")
def published(workdir):
    for tool in ("nginx", "openssl", "curl", "nix-instantiate"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH (checks/peers/run installs it)")
    fake_bin = os.environ.get("HWC_AI_OLLAMA_FAKE")
    if not fake_bin:
        pytest.fail("HWC_AI_OLLAMA_FAKE is not set (checks/peers/run sets it)")
    d = workdir / "publish"
    d.mkdir()
    make_certificates(d)

    scenario = d / "fake.json"
    scenario.write_text(json.dumps({
        "installed": [MODEL],
        "faults": [{"model": MODEL, "tokenDelay": f"{int(TOKEN_DELAY * 1000)}ms"}],
    }))
    fake_port = free_port()
    fake = start("ollama-fake", [fake_bin, "--listen", f"127.0.0.1:{fake_port}", "--scenario", str(scenario)],
                 d / "fake.log", f"http://127.0.0.1:{fake_port}", "/api/version", 30)

    key = "publish-key-" + secrets.token_hex(8)
    key_file = d / "client.key"
    key_file.write_text(key + "\n")
    router_port = free_port()
    router = start_router("published-router", d, {
        "listen": f"127.0.0.1:{router_port}",
        "clients": {"keys": [{"name": "laptop", "key": {"file": str(key_file)}}]},
        "backends": [{"name": "fake", "kind": "openai-compatible", "baseUrl": f"http://127.0.0.1:{fake_port}/v1"}],
        "routes": [{"model": "*", "targets": [{"backend": "fake"}]}],
    })

    port = free_port()
    args = ["--argstr", "dir", str(d), "--argstr", "port", str(port),
            "--argstr", "upstream", f"127.0.0.1:{router_port}",
            "--argstr", "certificate", str(d / "cert.pem"), "--argstr", "key", str(d / "key.pem")]
    if os.geteuid() == 0:
        # workers as root read the test's private files, as nginx's own
        # user reads its certificate on a NixOS host
        args += ["--argstr", "user", "root"]
    conf = subprocess.run(["nix-instantiate", "--readonly-mode", "--eval", "--json",
                           str(ROOT / "checks/peers/publish-nginx.nix"), *args],
                          check=True, capture_output=True, text=True)
    (d / "nginx.conf").write_text(json.loads(conf.stdout))
    test = subprocess.run(["nginx", "-t", "-p", str(d), "-c", str(d / "nginx.conf")], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    with (d / "nginx.out").open("wb") as out:
        nginx = subprocess.Popen(["nginx", "-p", str(d), "-c", str(d / "nginx.conf")],
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"https://localhost:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx2.get(url + "/health", verify=trusting(str(d / "ca.pem")), timeout=2)
            break
        except httpx2.HTTPError:
            if nginx.poll() is not None or time.monotonic() > deadline:
                pytest.fail("nginx did not start:\n" + (d / "error.log").read_text(errors="replace"))
            time.sleep(0.1)

    yield {"url": url, "ca": str(d / "ca.pem"), "key": key, "router": router, "port": port, "dir": d}

    nginx.terminate()
    nginx.wait(timeout=15)
    router.process.stop()
    fake.stop()


def sdk(published, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=published["url"] + "/v1", api_key=key, max_retries=0,
                         http_client=httpx2.Client(verify=trusting(published["ca"]), timeout=60))


def test_the_sdk_streams_through_nginx_token_by_token(published):
    client = sdk(published, published["key"])
    start = time.monotonic()
    arrivals, text = [], ""
    for chunk in client.chat.completions.create(model=MODEL, stream=True,
                                                messages=[{"role": "user", "content": WORDS}]):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
            text += chunk.choices[0].delta.content
    assert WORDS in text
    words = len(WORDS.split())
    assert len(arrivals) >= words
    # Streamed, not buffered: the first token is there long before the
    # last, which comes about one delay per word later.
    assert arrivals[-1] - arrivals[0] >= (words - 2) * TOKEN_DELAY, arrivals
    assert arrivals[0] < arrivals[-1] / 2, arrivals


def test_nginx_speaks_http2_with_the_certificate(published):
    out = subprocess.run(["curl", "-sS", "--http2", "--cacert", published["ca"], "-o", "/dev/null",
                          "-w", "%{http_version} %{http_code}",
                          "-H", f"Authorization: Bearer {published['key']}", published["url"] + "/v1/models"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "2 200"


def test_without_its_key_a_client_is_refused_though_nginx_is_on_loopback(published):
    router = published["router"]
    # the same request, sent to the router directly from loopback, is admitted
    assert httpx2.get(router.url + "/v1/models", timeout=10).status_code == 200
    with httpx2.Client(verify=trusting(published["ca"]), timeout=10) as c:
        missing = c.get(published["url"] + "/v1/models")
        assert missing.status_code == 401, missing.text
        # a client cannot claim to be loopback by what it sends
        spoofed = c.get(published["url"] + "/v1/models", headers={"X-Forwarded-For": "127.0.0.1"})
        assert spoofed.status_code == 401, spoofed.text
        wrong = c.get(published["url"] + "/v1/models", headers={"Authorization": "Bearer sk-dummy"})
        assert wrong.status_code in (401, 403), wrong.text
    with pytest.raises(openai.AuthenticationError):
        sdk(published, "sk-dummy").chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])


def test_plain_http_is_refused(published):
    answer = httpx2.get(f"http://127.0.0.1:{published['port']}/v1/models",
                        headers={"Authorization": f"Bearer {published['key']}"}, timeout=10)
    assert answer.status_code == 400
    assert "plain HTTP request was sent to HTTPS port" in answer.text


def test_a_body_over_the_limit_never_reaches_the_router(published):
    with httpx2.Client(verify=trusting(published["ca"]), timeout=30) as c:
        answer = c.post(published["url"] + "/v1/chat/completions", content=b"x" * (9 << 20),
                        headers={"Authorization": f"Bearer {published['key']}",
                                 "Content-Type": "application/json"})
    assert answer.status_code == 413
    assert "nginx" in answer.text


def test_the_key_appears_in_no_log(published):
    """After the requests above, with the key and without: neither the
    router's log nor nginx's access and error logs hold the key."""
    d = published["dir"]
    for log in (published["router"].log_text(), (d / "access.log").read_text(errors="replace"),
                (d / "error.log").read_text(errors="replace")):
        assert log, "a log is empty: the test would prove nothing"
        assert published["key"] not in log
