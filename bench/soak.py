#!/usr/bin/env python3
"""Soak: the router and the prober under steady load for minutes, watched
for leaks.

    bench/soak.py [--minutes 10] [--rate 40] [--concurrency 4]
                  [--window 60] [--bin-dir target/release]

Starts hwc-ai-ollama-fake (three models installed, faults injected),
hwc-ai-router in front of it and hwc-ai-prober probing both every second,
then sends --rate requests per second from --concurrency client threads,
each on a kept-alive connection, for --minutes. The mix, drawn from a
seeded random stream:

- 55 % chat completions, not streamed (llama3.2:1b);
- 25 % streamed chat completions, tokens 10 ms apart (qwen3:0.6b);
- 10 % streams the fake cuts with an error after 3 chunks (tinyllama):
  an injected fault, which the client must see as an error event;
- 5 % GET /v1/models;
- 5 % chats to a model nobody serves: an injected client error (404).

Every 5 s it samples each daemon's VmRSS, open file descriptors and
threads (from /proc), and per --window prints the requests answered, the
latency percentiles (a whole answer; a stream to its last byte) and the
errors that were not injected. At the end, drift: each daemon's RSS, fds
and threads in the last window against the first window after warm-up
(the first window is warm-up), and RSS's least-squares slope over the
samples after warm-up. Exits 1 when an error was not injected or an
injected one was not seen as such.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCENARIO = {
    "installed": ["llama3.2:1b", "qwen3:0.6b", "tinyllama"],
    "faults": [
        {"model": "qwen3:0.6b", "tokenDelay": "10ms"},
        {"model": "tinyllama", "generate": {"kind": "errorAfter", "chunks": 3, "message": "runner died"}},
    ],
}

# (share, kind, body): kind says what a correct answer is
MIX = [
    (55, "chat", {"model": "llama3.2:1b", "max_tokens": 16,
                  "messages": [{"role": "user", "content": "How full is the disk?"}]}),
    (25, "stream", {"model": "qwen3:0.6b", "stream": True, "max_tokens": 16,
                    "messages": [{"role": "user", "content": "Say hello."}]}),
    (10, "cut", {"model": "tinyllama", "stream": True, "max_tokens": 16,
                 "messages": [{"role": "user", "content": "Say hello."}]}),
    (5, "models", None),
    (5, "unknown", {"model": "no-such-model:1b", "messages": [{"role": "user", "content": "hi"}]}),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_sample(pid):
    """(VmRSS KiB, open fds, threads) of a live process."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


def wait_http(url, proc, name):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit(f"soak: {name} exited with {proc.returncode} at start")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"soak: {name} does not answer {url}")


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


class Client(threading.Thread):
    """One kept-alive connection, sending at its share of the rate."""

    def __init__(self, port, period, seed, stop, results):
        super().__init__(daemon=True)
        self.port, self.period, self.stop, self.results = port, period, stop, results
        self.random = random.Random(seed)
        self.conn = None

    def request(self, method, path, body):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                data = json.dumps(body).encode() if body is not None else None
                headers = {"content-type": "application/json"} if data else {}
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # a kept-alive connection the server closed while idle
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def one(self):
        pick = self.random.uniform(0, 100)
        for share, kind, body in MIX:
            pick -= share
            if pick < 0:
                break
        start = time.perf_counter()
        try:
            if kind == "models":
                status, payload = self.request("GET", "/v1/models", None)
            else:
                status, payload = self.request("POST", "/v1/chat/completions", body)
        except OSError as err:
            return kind, time.perf_counter() - start, f"{kind}: {err}"
        elapsed = time.perf_counter() - start
        text = payload.decode(errors="replace")
        if kind == "unknown":
            ok = status == 404
        elif kind == "cut":
            # the answer began (200) and ended in an error event, not [DONE]
            ok = status == 200 and '"error"' in text and "[DONE]" not in text
        elif kind == "stream":
            ok = status == 200 and text.rstrip().endswith("data: [DONE]")
        elif kind == "models":
            ok = status == 200 and '"data"' in text
        else:
            ok = status == 200 and '"choices"' in text
        return kind, elapsed, None if ok else f"{kind}: {status} {text[:160]!r}"

    def run(self):
        next_at = time.monotonic() + self.random.uniform(0, self.period)
        while not self.stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += self.period
            kind, elapsed, error = self.one()
            self.results.append((time.monotonic(), kind, elapsed, error))


def slope_kib_per_min(samples):
    """Least-squares slope of (t seconds, KiB) in KiB per minute."""
    if len(samples) < 3:
        return float("nan")
    ts = [t for t, _ in samples]
    vs = [v for _, v in samples]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    den = sum((t - mt) ** 2 for t in ts)
    return 60 * sum((t - mt) * (v - mv) for t, v in samples) / den if den else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=40, help="requests per second, all clients together")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--window", type=int, default=60, help="seconds per reported window")
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target/release"))
    args = parser.parse_args()
    binary = {name: os.path.join(args.bin_dir, f"hwc-ai-{name}") for name in ("ollama-fake", "router", "prober")}
    for path in binary.values():
        if not os.access(path, os.X_OK):
            sys.exit(f"soak: {path} is missing; build it (cargo build --release -p hwc-ai-router "
                     "-p hwc-ai-prober -p hwc-ai-ollama-fake) or pass --bin-dir")

    fake_port, router_port, prober_port = free_port(), free_port(), free_port()
    procs = {}
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, document):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                json.dump(document, f)
            return path

        scenario = write("fake.json", SCENARIO)
        router = write("router.json", {
            "listen": f"127.0.0.1:{router_port}",
            "log": {"level": "warn"},
            "backends": [{"name": "ollama", "kind": "openai-compatible",
                          "baseUrl": f"http://127.0.0.1:{fake_port}/v1", "listModels": True}],
            "routes": [{"model": "*", "targets": [{"backend": "ollama"}]}],
        })
        prober = write("prober.json", {
            "listen": f"127.0.0.1:{prober_port}",
            "log": {"level": "warn"},
            "defaults": {"interval": "1s", "timeout": "1s"},
            "targets": [
                {"name": "ollama", "kind": "ollama", "url": f"http://127.0.0.1:{fake_port}"},
                {"name": "hwc-ai-router", "kind": "hwc-ai", "url": f"http://127.0.0.1:{router_port}"},
            ],
        })
        quiet = dict(os.environ, RUST_LOG="warn")
        try:
            procs["ollama-fake"] = subprocess.Popen(
                [binary["ollama-fake"], "--listen", f"127.0.0.1:{fake_port}", "--scenario", scenario],
                env=quiet, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_http(f"http://127.0.0.1:{fake_port}/api/version", procs["ollama-fake"], "ollama-fake")
            procs["router"] = subprocess.Popen([binary["router"], "--config", router],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_http(f"http://127.0.0.1:{router_port}/health", procs["router"], "router")
            procs["prober"] = subprocess.Popen([binary["prober"], "--config", prober],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_http(f"http://127.0.0.1:{prober_port}/metrics", procs["prober"], "prober")
            run(args, procs, router_port, prober_port)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def run(args, procs, router_port, prober_port):
    watched = ("router", "prober")
    stop = threading.Event()
    results = []
    samples = {name: [] for name in watched}  # (t, rss KiB, fds, threads)
    period = args.concurrency / args.rate
    clients = [Client(router_port, period, seed, stop, results) for seed in range(args.concurrency)]
    began = time.monotonic()
    end = began + args.minutes * 60
    print(f"soak: {args.minutes:g} min, {args.rate:g} requests/s from {args.concurrency} clients, "
          f"windows of {args.window} s (the first is warm-up); bin dir {args.bin_dir}")
    print(f"{'window':>8} {'answers':>8} {'unexpected':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   "
          + "   ".join(f"{n + ' RSS MiB / fds / threads':>30}" for n in watched))
    for client in clients:
        client.start()
    next_sample = began
    window_start, window_index = began, 0
    errors = []
    while True:
        now = time.monotonic()
        if now >= next_sample:
            for name in watched:
                if procs[name].poll() is not None:
                    stop.set()
                    sys.exit(f"soak: the {name} exited with {procs[name].returncode}")
                samples[name].append((now - began, *proc_sample(procs[name].pid)))
            next_sample += 5
        if now >= window_start + args.window or now >= end:
            lo, hi = window_start - began, now - began
            done = [r for r in list(results) if lo <= r[0] - began < hi]
            times = [r[2] * 1000 for r in done if r[3] is None]
            unexpected = [r[3] for r in done if r[3] is not None]
            errors += unexpected
            cols = []
            for name in watched:
                rows = [s for s in samples[name] if lo <= s[0] < hi] or samples[name][-1:]
                cols.append(f"{statistics.fmean(s[1] for s in rows) / 1024:>14.2f} / "
                            f"{max(s[2] for s in rows):>4} / {max(s[3] for s in rows):>3}")
            print(f"{window_index + 1:>8} {len(done):>8} {len(unexpected):>10} {percentile(times, 50):>8.2f} "
                  f"{percentile(times, 95):>8.2f} {percentile(times, 99):>8.2f}   " + "   ".join(cols), flush=True)
            window_start, window_index = now, window_index + 1
            if now >= end:
                break
        time.sleep(0.2)
    stop.set()
    for client in clients:
        client.join(timeout=35)

    kinds = {}
    for _, kind, _, error in results:
        total, bad = kinds.get(kind, (0, 0))
        kinds[kind] = (total + 1, bad + (error is not None))
    print("answers by kind (answered / not as expected): "
          + ", ".join(f"{k} {t}/{b}" for k, (t, b) in sorted(kinds.items())))
    warm = args.window
    print("latency after warm-up by kind, ms p50 / p95 / p99: " + ", ".join(
        f"{k} {percentile(ts, 50):.2f} / {percentile(ts, 95):.2f} / {percentile(ts, 99):.2f}"
        for k in sorted(kinds)
        for ts in [[r[2] * 1000 for r in results if r[1] == k and r[3] is None and r[0] - began >= warm]]))
    print(f"drift, the first window after warm-up ({warm}-{2 * warm} s) against the last:")
    for name in watched:
        after = [s for s in samples[name] if s[0] >= warm]
        first = [s for s in after if s[0] < 2 * warm] or after[:1]
        last_start = max(warm, (after[-1][0] if after else 0) - args.window)
        last = [s for s in after if s[0] >= last_start]
        if not first or not last:
            print(f"  {name}: too short a run for drift")
            continue
        rss0, rss1 = statistics.fmean(s[1] for s in first), statistics.fmean(s[1] for s in last)
        print(f"  {name}: RSS {rss0 / 1024:.2f} -> {rss1 / 1024:.2f} MiB ({100 * (rss1 - rss0) / rss0:+.1f} %), "
              f"slope {slope_kib_per_min([(s[0], s[1]) for s in after]):+.1f} KiB/min; "
              f"fds {max(s[2] for s in first)} -> {max(s[2] for s in last)}; "
              f"threads {max(s[3] for s in first)} -> {max(s[3] for s in last)}; "
              f"peak RSS {max(s[1] for s in samples[name]) / 1024:.2f} MiB")
    if errors:
        print(f"{len(errors)} answers not as expected; the first: {errors[0]}")
        sys.exit(1)
    print("every answer as expected (the injected faults seen as such)")


if __name__ == "__main__":
    main()
