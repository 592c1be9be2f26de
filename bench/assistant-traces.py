#!/usr/bin/env python3
"""What OpenTelemetry traces cost a chat-bot query, off and on.

    bench/assistant-traces.py [--queries 300] [--rounds 3] [--bin-dir target/release] [--off-only]

Starts hwc-ai-assistant three times per round: without `tracing`, and
with `tracing.otlpEndpoint` pointing at a receiver in this process that
accepts every export at once. Each time, sends --queries `POST /v1/query`
one after the other (after 30 to warm up) to a stand-in model that
answers at once, and prints the median and p90 of the client's time.
The state directory is under /dev/shm, so the audit log's fsyncs cost
little. --bin-dir with --off-only may name a build from before traces
existed, to compare with "traces off".
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NoDelay(BaseHTTPRequestHandler):
    """Headers and body leave at once (no 40 ms Nagle/delayed-ACK stall)."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Model(NoDelay):

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        message = {"role": "assistant", "content": "A lab at home."}
        data = json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Receiver(NoDelay):
    """OTLP/HTTP: every export accepted, nothing kept."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_port


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(binary, model, receiver, queries):
    state = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    port = free_port()
    config = {
        "listen": f"127.0.0.1:{port}",
        "stateDirectory": state,
        "rateLimit": {"requestsPerMinute": 1000000, "burst": 1000000},
        "router": {"url": f"http://127.0.0.1:{model}"},
    }
    if receiver:
        config["tracing"] = {"otlpEndpoint": f"http://127.0.0.1:{receiver}"}
    path = os.path.join(state, "config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    daemon = subprocess.Popen([binary, "--config", path], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                time.sleep(0.05)
        body = json.dumps({"text": "what is a homelab?"}).encode()
        times = []
        for i in range(queries + 30):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/query", data=body,
                                             headers={"Content-Type": "application/json"})
            started = time.perf_counter()
            urllib.request.urlopen(request).read()
            if i >= 30:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        daemon.terminate()
        daemon.wait()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target/release"))
    parser.add_argument("--off-only", action="store_true", help="a build without `tracing`")
    args = parser.parse_args()
    binary = os.path.join(args.bin_dir, "hwc-ai-assistant")
    model, receiver = serve(Model), serve(Receiver)
    for round_ in range(args.rounds):
        kinds = [("traces off", None)] + ([] if args.off_only else [("traces on", receiver)])
        for name, traces in kinds:
            median, p90 = run(binary, model, traces, args.queries)
            print(f"round {round_}  {name:10s}  median {median:6.2f} ms  p90 {p90:6.2f} ms", flush=True)


if __name__ == "__main__":
    main()
