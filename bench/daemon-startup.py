#!/usr/bin/env python3
"""Exec to READY=1, and idle memory, of each hwc-ai daemon.

    bench/daemon-startup.py [--runs 20] [--daemon prober]

For each run: binds a NOTIFY_SOCKET datagram socket (as systemd does),
starts target/release/hwc-ai-<daemon> with an example config, and times
from just before exec to the READY=1 datagram. After the last run it keeps
one process idle for 5 s and reads its VmRSS. Prints min/median/p95/max.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A config like the module's default: Ollama, Open WebUI and the prober.
CONFIGS = {
    "prober": {
        "listen": "127.0.0.1:19630",
        "targets": [
            {"name": "ollama", "kind": "ollama", "url": "http://127.0.0.1:11434"},
            {"name": "open-webui", "kind": "open-webui", "url": "http://127.0.0.1:8080"},
            {"name": "hwc-ai-prober", "kind": "hwc-ai", "url": "http://127.0.0.1:19630"},
        ],
    },
    # Ollama unreachable: waiting for it is a state, READY comes regardless.
    "puller": {
        "listen": "127.0.0.1:19631",
        "ollamaUrl": "http://127.0.0.1:19632",
        "models": ["llama3.2:3b", {"name": "nomic-embed-text", "autoUpdate": True}],
        "disk": {"path": "/"},
    },
}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(binary, config_path, sock_path):
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, RUST_LOG="warn")
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "--config", config_path], env=env, stderr=subprocess.DEVNULL)
    return proc, t0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--daemon", action="append", choices=sorted(CONFIGS))
    args = parser.parse_args()
    for daemon in args.daemon or sorted(CONFIGS):
        binary = os.path.join(ROOT, "target", "release", f"hwc-ai-{daemon}")
        with tempfile.TemporaryDirectory() as work:
            config_path = os.path.join(work, "config.json")
            with open(config_path, "w") as f:
                json.dump(CONFIGS[daemon], f)
            sock_path = os.path.join(work, "notify.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(sock_path)
            sock.settimeout(5)
            times = []
            for run in range(args.runs):
                proc, t0 = start(binary, config_path, sock_path)
                while True:
                    msg = sock.recv(4096).decode()
                    if "READY=1" in msg.splitlines():
                        times.append((time.perf_counter() - t0) * 1000)
                        break
                if run == args.runs - 1:
                    time.sleep(5)
                    idle = rss_kb(proc.pid)
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(
                f"hwc-ai-{daemon}: exec to READY=1 over {len(times)} runs: "
                f"min {times[0]:.1f} ms, median {statistics.median(times):.1f} ms, "
                f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms; idle RSS after 5 s: {idle / 1024:.1f} MB"
            )


if __name__ == "__main__":
    main()
