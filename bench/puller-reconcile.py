#!/usr/bin/env python3
"""A no-change reconcile of N declared models, and the puller's idle memory.

    cargo build --release -p hwc-ai-puller -p hwc-ai-ollama-fake
    bench/puller-reconcile.py [--models 200] [--runs 20]

Starts target/release/hwc-ai-ollama-fake with N small models installed and
target/release/hwc-ai-puller declaring all N (with a state file), waits
until every model is ready (the first start validates each once), then
times --runs no-change reconciles through `POST /reconcile?wait=true` and
counts the Ollama calls each made from the fake's request log. Then:
the daemon's VmRSS after 5 s idle, and a restart's cost: `--once` with the
state file the daemon left behind (wall time and Ollama calls).
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def http(method, url, timeout=600):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def wait_for(what, check, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


class RequestLog:
    """Counts the fake's requests by path from its stderr log."""

    PATTERN = re.compile(r"path=(\S+)")

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def since_last(self):
        with open(self.path) as f:
            f.seek(self.offset)
            text = f.read()
            self.offset = f.tell()
        counts = {}
        for match in self.PATTERN.finditer(text):
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
        return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    names = [f"bench{i:03d}:q4" for i in range(args.models)]
    with tempfile.TemporaryDirectory() as work:
        scenario = os.path.join(work, "scenario.json")
        with open(scenario, "w") as f:
            json.dump(
                {
                    "builtinCatalog": False,
                    "catalog": [{"name": n, "modelSize": 1024} for n in names],
                    "installed": names,
                },
                f,
            )
        ollama_port, puller_port = free_port(), free_port()
        ollama = f"http://127.0.0.1:{ollama_port}"
        puller = f"http://127.0.0.1:{puller_port}"
        config = os.path.join(work, "puller.json")
        with open(config, "w") as f:
            json.dump(
                {
                    "listen": f"127.0.0.1:{puller_port}",
                    "ollamaUrl": ollama,
                    "models": names,
                    "stateFile": os.path.join(work, "state.json"),
                    "disk": {"path": work, "minFree": 0},
                    "log": {"level": "warn"},
                },
                f,
            )
        fake_log_path = os.path.join(work, "fake.log")
        env = dict(os.environ, RUST_LOG="info")
        env.pop("NOTIFY_SOCKET", None)
        quiet = dict(env, RUST_LOG="warn")
        with open(fake_log_path, "w") as fake_log:
            fake = subprocess.Popen(
                [os.path.join(RELEASE, "hwc-ai-ollama-fake"), "--listen", f"127.0.0.1:{ollama_port}", "--scenario", scenario],
                stderr=fake_log,
                env=env,
            )
        daemon = None
        try:
            wait_for("the fake", lambda: http("GET", f"{ollama}/api/version")[0] == 200)
            log = RequestLog(fake_log_path)
            log.since_last()  # not the wait above
            t0 = time.perf_counter()
            daemon = subprocess.Popen([os.path.join(RELEASE, "hwc-ai-puller"), "--config", config], env=quiet)

            def all_ready():
                _, doc = http("GET", f"{puller}/models", timeout=5)
                return all(m["state"] == "ready" for m in doc["models"] if m["declared"])

            wait_for("every model validated", all_ready)
            first = time.perf_counter() - t0
            first_calls = log.since_last()

            times, calls = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                status, doc = http("POST", f"{puller}/reconcile?wait=true")
                times.append(time.perf_counter() - t)
                assert status == 200, doc
                time.sleep(0.05)  # let the fake's log line land
                calls.append(log.since_last())
            time.sleep(5)
            rss = rss_kb(daemon.pid)
            daemon.terminate()
            daemon.wait(timeout=30)
            daemon = None

            log.since_last()
            t = time.perf_counter()
            once = subprocess.run(
                [os.path.join(RELEASE, "hwc-ai-puller"), "--config", config, "--once"],
                env=quiet,
                stdout=subprocess.DEVNULL,
            )
            once_time = time.perf_counter() - t
            time.sleep(0.05)
            once_calls = log.since_last()
        finally:
            if daemon:
                daemon.kill()
            fake.terminate()
            fake.wait(timeout=10)

    def fmt(counts):
        return ", ".join(f"{path} {n}" for path, n in sorted(counts.items())) or "none"

    distinct = {json.dumps(c, sort_keys=True) for c in calls}
    print(f"models declared and installed: {args.models}")
    print(f"first start (validates each once): {first:.2f} s; Ollama calls: {fmt(first_calls)}")
    print(
        f"no-change reconcile, {args.runs} runs: median {statistics.median(times) * 1000:.2f} ms, "
        f"min {min(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms"
    )
    print(f"Ollama calls per no-change reconcile: {' | '.join(fmt(json.loads(d)) for d in sorted(distinct))}")
    print(f"idle RSS after 5 s: {rss / 1024:.1f} MiB ({rss} kB)")
    print(f"restart as --once with the state file: {once_time * 1000:.0f} ms, exit {once.returncode}; Ollama calls: {fmt(once_calls)}")


if __name__ == "__main__":
    main()
