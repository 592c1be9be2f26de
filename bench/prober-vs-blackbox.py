#!/usr/bin/env python3
"""hwc-ai-prober against prometheus-blackbox-exporter, same targets, same rate.

    bench/prober-vs-blackbox.py [--targets 1000] [--interval 10] [--seconds 60]

Starts a target server (hwc-ai-ollama-fake, whose /api/version is a small
JSON answer), then, one after the other:

- hwc-ai-prober with N `http` targets (distinct URLs) every INTERVAL s;
- prometheus-blackbox-exporter with its http_2xx module, driven by this
  script at the same rate: N /probe requests per INTERVAL s, spread evenly
  (blackbox probes only when asked; the driver stands in for Prometheus).

For each it measures, over SECONDS after a warm-up interval, the probing
process's own CPU time (utime + stime from /proc, the driver's and the
target server's excluded), the probes completed, and the peak RSS (VmHWM).
Both open a fresh connection per probe. Prints a table; exits non-zero if
a side failed probes. Needs target/release binaries (cargo build --release)
and the Debian package prometheus-blackbox-exporter.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_http(url, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def scrape_sum(url, metric):
    total = 0.0
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        if line.startswith(metric + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def measure(pid, seconds, count_probes):
    """CPU seconds and probes done by `pid` over `seconds`."""
    cpu0, probes0 = cpu_seconds(pid), count_probes()
    time.sleep(seconds)
    return cpu_seconds(pid) - cpu0, count_probes() - probes0


def run_prober(args, target_base, work):
    port = 19530
    config = {
        "listen": f"127.0.0.1:{port}",
        "maxConcurrentProbes": 64,
        "defaults": {"interval": f"{args.interval}s", "timeout": "5s"},
        "targets": [
            {"name": f"t{i}", "kind": "http", "url": f"{target_base}/api/version?t={i}"}
            for i in range(args.targets)
        ],
    }
    path = os.path.join(work, "prober.json")
    with open(path, "w") as f:
        json.dump(config, f)
    proc = subprocess.Popen(
        [os.path.join(RELEASE, "hwc-ai-prober"), "--config", path],
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, RUST_LOG="warn"),
    )
    try:
        metrics = f"http://127.0.0.1:{port}/metrics"
        wait_http(metrics)
        time.sleep(args.interval + 1)  # warm-up: every target probed once
        count = lambda: scrape_sum(metrics, "hwc_ai_prober_probes_total")
        cpu, probes = measure(proc.pid, args.seconds, count)
        failures = 0.0
        for line in urllib.request.urlopen(metrics).read().decode().splitlines():
            if line.startswith("hwc_ai_prober_probes_total{") and 'result="failure"' in line:
                failures += float(line.rsplit(" ", 1)[1])
        return cpu, probes, status_kb(proc.pid, "VmHWM"), failures
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def run_blackbox(args, target_base, work):
    exe = shutil.which("prometheus-blackbox-exporter")
    if not exe:
        raise SystemExit("prometheus-blackbox-exporter is not installed (apt-get install prometheus-blackbox-exporter)")
    port = 19515
    path = os.path.join(work, "blackbox.yml")
    with open(path, "w") as f:
        f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      method: GET\n")
    proc = subprocess.Popen(
        [exe, f"--config.file={path}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stderr=subprocess.DEVNULL,
    )
    done = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def probe(i):
        url = f"http://127.0.0.1:{port}/probe?module=http_2xx&target={target_base}/api/version%3Ft%3D{i}"
        try:
            body = urllib.request.urlopen(url, timeout=10).read().decode()
            ok = "\nprobe_success 1" in "\n" + body
        except Exception:
            ok = False
        with lock:
            done["ok" if ok else "failed"] += 1

    def drive():
        # N probes per interval, evenly spaced, like N scrape jobs.
        pool = ThreadPoolExecutor(max_workers=64)
        gap = args.interval / args.targets
        start, i = time.monotonic(), 0
        while not stop.is_set():
            pool.submit(probe, i % args.targets)
            i += 1
            delay = start + i * gap - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        pool.shutdown(wait=True)

    try:
        wait_http(f"http://127.0.0.1:{port}/metrics")
        driver = threading.Thread(target=drive)
        driver.start()
        time.sleep(args.interval + 1)
        count = lambda: done["ok"] + done["failed"]
        cpu, probes = measure(proc.pid, args.seconds, count)
        stop.set()
        driver.join()
        return cpu, probes, status_kb(proc.pid, "VmHWM"), done["failed"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    work = tempfile.mkdtemp()
    server = subprocess.Popen(
        [os.path.join(RELEASE, "hwc-ai-ollama-fake"), "--listen", "127.0.0.1:19534"],
        stderr=subprocess.DEVNULL,
    )
    target_base = "http://127.0.0.1:19534"
    try:
        wait_http(target_base + "/api/version")
        rows = [
            ("hwc-ai-prober", *run_prober(args, target_base, work)),
            ("blackbox_exporter", *run_blackbox(args, target_base, work)),
        ]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)

    rate = args.targets / args.interval
    print(f"{args.targets} http targets every {args.interval:g} s ({rate:g} probes/s), measured over {args.seconds:g} s")
    print(f"{'prober':<18} {'probes':>7} {'failed':>6} {'CPU s':>7} {'CPU/probe':>10} {'CPU %':>6} {'peak RSS':>9}")
    for name, cpu, probes, hwm_kb, failed in rows:
        per = cpu / probes * 1e6 if probes else float("nan")
        print(f"{name:<18} {int(probes):>7} {int(failed):>6} {cpu:>7.2f} {per:>8.0f}us {cpu / args.seconds * 100:>5.1f}% {hwm_kb / 1024:>7.1f}MB")
    ours, theirs = rows[0], rows[1]
    if ours[2] and theirs[2]:
        ratio = (ours[1] / ours[2]) / (theirs[1] / theirs[2])
        print(f"hwc-ai-prober CPU per probe is {ratio:.2f}x blackbox_exporter's")
    if any(r[4] for r in rows):
        sys.exit("some probes failed: the numbers above are not comparable")


if __name__ == "__main__":
    main()
