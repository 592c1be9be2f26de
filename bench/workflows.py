#!/usr/bin/env python3
"""The workflow machinery's own cost per run, and the assistant's memory
with 50 workflows declared.

    bench/workflows.py [--runs 200] [--bin-dir target/release]

Starts hwc-ai-assistant with 50 workflows (47 prompt workflows, a
journal, a file-triage and an auto-doc) in front of a stand-in model that
answers every chat completion at once, so a run's time is everything but
the model: the HTTP request, the inputs' schema check, the output
directory check, the prompt rendering, the router call on loopback, the
tools, the atomic file write, and the audit rows (SQLite, synchronous=FULL,
one fsync per row). Runs each kind --runs times, one after the other, and
prints min/median/p95 per kind; then the daemon's VmRSS, idle after start
and after the runs.
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Model(http.server.BaseHTTPRequestHandler):
    """Answers every chat completion at once."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": "All fine."}}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target/release"))
    args = parser.parse_args()

    model = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Model)
    threading.Thread(target=model.serve_forever, daemon=True).start()
    model_url = f"http://127.0.0.1:{model.server_address[1]}"

    with tempfile.TemporaryDirectory() as tmp:
        for d in ["out", "inbox", "docs", "pdf", "src", "src/lib"]:
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        for i in range(20):
            with open(os.path.join(tmp, "inbox", f"file{i:02}.{'pdf' if i % 2 else 'txt'}"), "wb") as f:
                f.write(b"%PDF-1.7 x" if i % 2 else b"plain text")
        for name in ["README.md", "main.rs", "lib/util.rs"]:
            with open(os.path.join(tmp, "src", name), "w") as f:
                f.write("fn main() {}\n" * 20)
        workflows = {
            f"prompt-{i:02}": {
                "kind": "prompt", "prompt": "Report on {{topic}} in {{lines}} lines.",
                "inputs": {"type": "object", "required": ["topic"],
                           "properties": {"topic": {"type": "string"}, "lines": {"type": "integer"}}},
                "output": {"directory": f"{tmp}/out"}, "schedule": "daily",
            }
            for i in range(47)
        }
        workflows["journal"] = {"kind": "journal", "tools": ["disk_usage"],
                                "output": {"directory": f"{tmp}/out"}}
        workflows["triage"] = {"kind": "file-triage", "inbox": f"{tmp}/inbox",
                               "destinations": {"pdf": {"directory": f"{tmp}/pdf", "types": ["pdf"]}},
                               "output": {"directory": f"{tmp}/out"}}
        workflows["autodoc"] = {"kind": "auto-doc", "source": f"{tmp}/src",
                                "output": {"directory": f"{tmp}/docs"}}
        port = 19634
        config = {"listen": f"127.0.0.1:{port}", "stateDirectory": f"{tmp}/state",
                  "rateLimit": {"requestsPerMinute": 1000000, "burst": 1000000},
                  "router": {"url": model_url, "model": "stand-in"},
                  "tools": ["disk_usage", "system_overview"], "workflows": workflows}
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f)
        daemon = subprocess.Popen([os.path.join(args.bin_dir, "hwc-ai-assistant"),
                                   "--config", os.path.join(tmp, "config.json")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            time.sleep(2)
            idle = rss_kib(daemon.pid)
            kinds = [
                ("prompt (model call, file, audit)", "prompt-07", {"inputs": {"topic": "disks", "lines": 3}}),
                ("journal (disk tool, model summary)", "journal", {}),
                ("file-triage plan (20 files)", "triage", {}),
                ("auto-doc (2 folders, 2 model calls)", "autodoc", {}),
            ]
            print(f"{len(workflows)} workflows declared; {args.runs} runs of each kind, sequential")
            print(f"{'kind':<40} {'min':>8} {'median':>8} {'p95':>8}")
            for label, name, body in kinds:
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    result = post(f"{base}/v1/workflows/{name}/run", body)
                    times.append((time.perf_counter() - start) * 1000)
                    assert result.get("files"), result
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                print(f"{label:<40} {times[0]:>6.2f}ms {statistics.median(times):>6.2f}ms {p95:>6.2f}ms")
            after = rss_kib(daemon.pid)
            print(f"VmRSS idle with {len(workflows)} workflows: {idle / 1024:.1f} MiB; "
                  f"after {args.runs * len(kinds)} runs: {after / 1024:.1f} MiB")
        finally:
            daemon.terminate()
            daemon.wait()
            model.shutdown()


if __name__ == "__main__":
    main()
