#!/usr/bin/env python3
"""hwc-ai-router against LiteLLM's proxy: added latency and memory, one mock upstream.

    bench/router-vs-litellm.py [--seconds 15] [--rates 500,1000,2000] [--quick]
                               [--priority] [--no-litellm] [--no-build]
                               [--neighbour] [--router-nice N]

TensorZero's method: a minimal mock OpenAI upstream and the load generator
(oha) on the same host; each request goes directly to the mock, through
hwc-ai-router, and through LiteLLM's proxy, all on 127.0.0.1 and in the same
run. A path through a proxy minus the direct path is the proxy's added
latency.

- The mock is `crates/router/examples/mock_upstream.rs` (one thread): a
  fixed chat completion with usage, or, for `"stream": true`, a first chunk
  after 20 ms, 15 more 5 ms apart, the finish and usage chunks and [DONE].
- Every request carries the same ~1 KB prompt (a system and a user message).
- For non-streaming and then streaming, after a warm-up: fixed rates (oha
  -q with --latency-correction, so a proxy that falls behind is charged for
  the queue it builds): half of LiteLLM's maximum (measured first), so that
  there is a rate LiteLLM sustains to compare at, then RATES; then each
  path unthrottled (a closed loop: its maximum throughput). Each point runs
  SECONDS; the paths take turns at each point, so that a change in the
  machine's load falls on all three alike.
- A rate is sustained when at least 98 % of it was answered, every answer
  a 200 (oha waits for what it sent before the end, up to 30 s). oha asks
  for no compression (LiteLLM would gzip its answers).
- Memory: each proxy's peak RSS per point and over the run, from the
  kernel's own peak (VmHWM, reset between points through clear_refs, so
  nothing polls); for LiteLLM summed over its process tree (the CLI and its
  uvicorn workers), and PSS at idle, which counts shared pages once.
- After LiteLLM falls behind, the next run waits until its processes are
  idle: it works off what it accepted even when the client has gone. It is
  not run at rates above one it did not sustain.
- First chunk: sequential streams, each on a fresh connection, before any
  load. The mock writes `: sent-unix-ns=<n>` with the first chunk; the
  client subtracts it from the time it reads that chunk. Through the router
  minus direct is the router's forwarding delay for a first chunk (LiteLLM
  re-serialises events and drops the comment; for it only time to first
  chunk is compared).

hwc-ai-router runs with its defaults (an info log line per request, here to
/dev/null) except `maxConcurrent: 1024`, since the mock has no slots to
protect. LiteLLM runs as its production guide suggests for a proxy without
a database: `--num_workers` = CPU count, `LITELLM_LOG=ERROR` (which also
silences uvicorn's access log), `LITELLM_MODE=PRODUCTION`,
`LITELLM_LOCAL_MODEL_COST_MAP=True`, `set_verbose: false`,
`turn_off_message_logging: true`, `disable_spend_logs`,
`disable_error_logs`, no callbacks; and `--timeout_worker_healthcheck 120`:
with uvicorn's default 5 s, workers that are busy or still importing on a
loaded 2-core machine miss the supervisor's ping and are killed and
restarted over and over (seen: 10 workers replaced within a minute, and
a third of the throughput). Both proxies check one client key: LiteLLM refuses to
start without a master key, and the router is told not to admit loopback
peers without its key.

`--priority` runs every process of the benchmark at nice -10 (root only),
so that other work on the machine (a compiler) preempts it less; the
numbers are still only as good as the machine is quiet (the report prints
the load average).

`--neighbour` runs the benchmark as a homelab runs the router: beside an
Ollama doing CPU inference, i.e. one CPU-bound process per core (a busy
loop at nice 0) for the whole run. `--router-nice N` starts the router at
niceness N (negative: root only); nice -10 gives it about 9.3 times the
CPU weight of a nice-0 neighbour, as `CPUWeight=1000` against the default
100 does between two systemd units.

Installs what is missing: oha with `cargo install oha --locked` into
`$XDG_CACHE_HOME/hwc-ai/tools` (minutes), and LiteLLM's proxy into a venv at
`$XDG_CACHE_HOME/hwc-ai/peers/litellm` (pip; needs the network). `--quick`
(3 s per point, 1000 RPS as the only fixed rate besides LiteLLM's, fewer
probes) takes about three minutes, for a first look; the release build
is `cargo build --release --locked -p hwc-ai-router --bin hwc-ai-router
--example mock_upstream`, which the script runs unless --no-build.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hwc-ai")
LITELLM_VENV = os.path.join(CACHE, "peers", "litellm")
PATHS = ("direct", "router", "litellm")
MODEL = "mock-gpt"
PORTS = {"direct": 19540, "router": 19541, "litellm": 19542}
# One client key for both proxies.
KEY = "sk-" + os.urandom(16).hex()

# The mock's stream: CHUNKS chunks, the first after FIRST_CHUNK_DELAY.
CHUNKS, CHUNK_DELAY, FIRST_CHUNK_DELAY = 16, "5ms", "20ms"
# Connections oha may hold open: at a fixed rate, enough for the streams
# (~0.1 s each) in flight at 2000 RPS and for a proxy that falls behind;
# unthrottled, the closed loop's concurrency.
CONNECTIONS = {False: 256, True: 512}
CLOSED_LOOP = {False: 32, True: 512}

# An ordinary chat request: about 1 KB, as a small assistant call.
PROMPT = {
    "model": MODEL,
    "messages": [
        {
            "role": "system",
            "content": "You are a concise assistant for a home lab. Answer in plain prose, "
            "cite the configuration option you rely on, and say when you are unsure. "
            "Prefer NixOS options over imperative commands.",
        },
        {
            "role": "user",
            "content": "My model router sits between Open WebUI and two backends: Ollama on "
            "this machine and a cloud provider for larger prompts. Requests for the local "
            "model sometimes take a few seconds longer than I expect when the machine is "
            "busy compiling. How can I tell whether the router, the backend or the machine "
            "is the cause, and which metrics should I look at first? Keep it short; I will "
            "ask follow-up questions about the Grafana dashboard afterwards.",
        },
    ],
    "temperature": 0.2,
    "max_tokens": 256,
}


def prompt_body(stream):
    body = dict(PROMPT)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


def url(path):
    return f"http://127.0.0.1:{PORTS[path]}/v1/chat/completions"


# --- tools -----------------------------------------------------------------


def ensure_oha():
    found = shutil.which("oha") or os.path.join(CACHE, "tools", "bin", "oha")
    if os.access(found, os.X_OK):
        return found
    print(f"installing oha into {CACHE}/tools (cargo install oha --locked; several minutes)", flush=True)
    subprocess.run(
        ["cargo", "install", "oha", "--locked", "--root", os.path.join(CACHE, "tools")], check=True
    )
    return os.path.join(CACHE, "tools", "bin", "oha")


def ensure_litellm():
    exe = os.path.join(LITELLM_VENV, "bin", "litellm")
    if not os.access(exe, os.X_OK):
        print(f"installing LiteLLM's proxy into {LITELLM_VENV} (pip)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", LITELLM_VENV], check=True)
        pip = os.path.join(LITELLM_VENV, "bin", "pip")
        subprocess.run([pip, "install", "-q", "litellm[proxy]"], check=True)
    version = subprocess.run(
        [os.path.join(LITELLM_VENV, "bin", "python"), "-c",
         "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    return exe, version


def build():
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", "hwc-ai-router",
         "--bin", "hwc-ai-router", "--example", "mock_upstream"],
        cwd=ROOT, check=True,
    )


# --- processes -------------------------------------------------------------


def descendants(pid):
    """`pid` and every process below it."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def proc_kb(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Memory:
    """Peak memory of a process tree, without polling: the kernel keeps each
    process's peak RSS (VmHWM), and writing 5 to clear_refs resets it."""

    def __init__(self, pid):
        self.pid = pid
        self.pids = set()
        self.peak_kb = 0
        self.window()

    def tree(self):
        tree = descendants(self.pid)
        self.pids.update(tree)
        return tree

    def window(self):
        """The summed peak RSS since the last call (for LiteLLM: the sum of
        each process's own peak, an upper bound of the peak of the sum),
        and the PSS now; then start a new window."""
        tree = self.tree()
        peak = sum(proc_kb(f"/proc/{p}/status", "VmHWM") for p in tree)
        pss = sum(proc_kb(f"/proc/{p}/smaps_rollup", "Pss") for p in tree)
        self.peak_kb = max(self.peak_kb, peak)
        for p in tree:
            try:
                with open(f"/proc/{p}/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass
        return peak, pss


def cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def request(address, body=None, timeout=10):
    method = "POST" if body is not None else "GET"
    req = urllib.request.Request(address, data=body, method=method,
                                 headers={"content-type": "application/json",
                                          "authorization": f"Bearer {KEY}"})
    return urllib.request.urlopen(req, timeout=timeout).read()


def wait_http(address, seconds, body=None):
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            return request(address, body)
        except Exception as err:
            last = err
            time.sleep(0.2)
    raise SystemExit(f"{address} did not answer within {seconds} s: {last}")


def settle(pid, seconds=120):
    """After a proxy fell behind, it still works off what it had accepted
    (a client that leaves does not cancel it): wait until its process tree
    is idle, so that it does not take CPU from the next path's run."""
    deadline = time.time() + seconds
    tree = descendants(pid)
    while time.time() < deadline:
        before = cpu_seconds(tree)
        time.sleep(1)
        if cpu_seconds(tree) - before < 0.05:
            return


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_tree(proc):
    """LiteLLM's workers are its children: signal its whole session."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def start_mock():
    exe = os.path.join(RELEASE, "examples", "mock_upstream")
    proc = subprocess.Popen(
        [exe, "--listen", f"127.0.0.1:{PORTS['direct']}", "--chunks", str(CHUNKS),
         "--chunk-delay", CHUNK_DELAY, "--first-chunk-delay", FIRST_CHUNK_DELAY, "--stamp"],
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{PORTS['direct']}/v1/models", 10)
    return proc


def niceness(value):
    """A preexec_fn that sets the child's absolute niceness."""
    return lambda: os.setpriority(os.PRIO_PROCESS, 0, value)


def start_neighbours():
    """One busy loop per core at nice 0: CPU inference next door."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=niceness(0))
        for _ in range(os.cpu_count())
    ]


def start_router(work, nice=None):
    key_file = os.path.join(work, "client-key")
    with open(key_file, "w") as f:
        f.write(KEY)
    config = {
        "listen": f"127.0.0.1:{PORTS['router']}",
        "defaults": {"maxConcurrent": 1024},
        "clients": {"keys": [{"name": "bench", "key": {"file": key_file}}],
                    "allowUnauthenticatedLoopback": False},
        "backends": [{"name": "mock", "kind": "openai-compatible",
                      "baseUrl": f"http://127.0.0.1:{PORTS['direct']}/v1"}],
        "routes": [{"model": MODEL, "targets": [{"backend": "mock"}]}],
    }
    path = os.path.join(work, "router.json")
    with open(path, "w") as f:
        json.dump(config, f)
    proc = subprocess.Popen(
        [os.path.join(RELEASE, "hwc-ai-router"), "--config", path], stderr=subprocess.DEVNULL,
        preexec_fn=None if nice is None else niceness(nice),
    )
    wait_http(f"http://127.0.0.1:{PORTS['router']}/health", 10)
    return proc


def start_litellm(work, exe):
    # JSON is YAML: no YAML writer needed.
    config = {
        "model_list": [{
            "model_name": MODEL,
            "litellm_params": {"model": f"openai/{MODEL}", "api_key": "none",
                               "api_base": f"http://127.0.0.1:{PORTS['direct']}/v1"},
        }],
        "litellm_settings": {"set_verbose": False, "turn_off_message_logging": True},
        "general_settings": {"disable_spend_logs": True, "disable_error_logs": True},
    }
    path = os.path.join(work, "litellm.yaml")
    with open(path, "w") as f:
        json.dump(config, f)
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR",
               LITELLM_MODE="PRODUCTION", LITELLM_MASTER_KEY=KEY)
    log = open(os.path.join(work, "litellm.log"), "w")
    proc = subprocess.Popen(
        [exe, "--config", path, "--host", "127.0.0.1", "--port", str(PORTS["litellm"]),
         "--num_workers", str(os.cpu_count()), "--timeout_worker_healthcheck", "120"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work, start_new_session=True,
    )
    try:
        wait_http(url("litellm"), 300, prompt_body(False))
    except SystemExit:
        stop_tree(proc)
        with open(log.name) as f:
            sys.stderr.write(f.read()[-3000:])
        raise
    return proc


# --- load ------------------------------------------------------------------


def oha(exe, path, stream, seconds, rate, body_file):
    """One oha run; rate None is unthrottled (closed loop)."""
    connections = CONNECTIONS[stream] if rate else CLOSED_LOOP[stream]
    cmd = [exe, url(path), "-m", "POST", "-T", "application/json", "-D", body_file,
           "-H", f"authorization: Bearer {KEY}", "-z", f"{seconds}s", "-c", str(connections),
           "-t", "30s", "--disable-compression", "--no-tui", "--output-format", "json"]
    if rate:
        # -w: requests sent before the end are waited for (up to -t), so
        # that every request of the rate is counted, answered or failed.
        cmd += ["-q", str(rate), "--latency-correction", "-w"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise SystemExit(f"oha failed: {out.stderr.strip()}")
    data = json.loads(out.stdout)
    codes = {int(k): v for k, v in data["statusCodeDistribution"].items()}
    # Unthrottled, requests cut off by the end of the run are not failures.
    errors = {k: v for k, v in data["errorDistribution"].items() if k != "aborted due to deadline"}
    ok = codes.get(200, 0)
    attempted = sum(codes.values()) + sum(errors.values())
    latency = data["latencyPercentiles"]
    first = data.get("firstBytePercentiles") or {}
    msec = lambda v: None if v is None else v * 1e3
    return {
        "rate": rate,
        "achieved": ok / seconds,
        "ok": ok,
        "attempted": attempted,
        "failed": attempted - ok,
        "errors": errors,
        "p50": msec(latency.get("p50")),
        "p99": msec(latency.get("p99")),
        # oha's first byte is timed from the actual send, not corrected.
        "fb50": msec(first.get("p50")) if stream else None,
        "fb99": msec(first.get("p99")) if stream else None,
    }


def sustained(r):
    return r["rate"] is not None and r["failed"] == 0 and r["achieved"] >= 0.98 * r["rate"]


def scrape_overhead():
    """The router's own overhead histogram: (sum in seconds, count)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{PORTS['router']}/metrics", timeout=5).read().decode()
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("hwc_ai_router_overhead_seconds_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith("hwc_ai_router_overhead_seconds_count"):
            count = float(line.rsplit(" ", 1)[1])
    return total, count


# --- first chunk -----------------------------------------------------------


def first_chunk(path, n):
    """Sequential streams, each on a fresh connection: per stream, the time
    from sending to reading the first chunk, the time from the mock's write
    of it to reading it (when the stamp survives), and the router's
    x-hwc-ai-overhead-ms."""
    body = prompt_body(True)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{PORTS[path]}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    ttfc, forward, overhead = [], [], []
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", PORTS[path])) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            sent = time.time_ns()
            s.sendall(head + body)
            while True:
                chunk = s.recv(65536)
                at = time.time_ns()
                if not chunk:
                    raise SystemExit(f"{path}: stream closed before its first chunk")
                buf += chunk
                end = buf.find(b"\r\n\r\n")
                data = buf.find(b"data: ", end) if end >= 0 else -1
                if data >= 0 and b"\n\n" in buf[data:]:
                    break
            ttfc.append((at - sent) / 1e6)
            headers = buf[:end].decode("latin-1").lower()
            if not headers.startswith("http/1.1 200"):
                raise SystemExit(f"{path}: {headers.splitlines()[0]}")
            for line in headers.split("\r\n"):
                if line.startswith("x-hwc-ai-overhead-ms:"):
                    overhead.append(float(line.split(":", 1)[1]))
            marker = buf.find(b": sent-unix-ns=")
            if marker >= 0:
                stamp = int(buf[marker + 15: buf.find(b"\n", marker)])
                forward.append((at - stamp) / 1e6)
            while s.recv(65536):
                pass
    return ttfc, forward, overhead


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# --- report ----------------------------------------------------------------


def ms(v):
    return "–" if v is None else f"{v:.3f}"


def label(load):
    return "max (closed loop)" if load == "max" else f"{load} RPS"


def table(results, stream, paths, loads, rss):
    cols = ["load", "path", "achieved RPS", "ok", "p50 ms", "p99 ms", "added p50", "added p99"]
    if stream:
        cols += ["1st byte p50", "1st byte p99", "added 1st p50", "added 1st p99"]
    cols.append("peak RSS")
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for load in loads:
        base = results.get((stream, "direct", load))
        for path in paths:
            r = results.get((stream, path, load))
            if r is None:
                if base is not None:
                    cells = [label(load), path, "not run: it fell behind at a lower rate"]
                    lines.append("| " + " | ".join(cells + ["–"] * (len(cols) - 3)) + " |")
                continue
            fixed = load != "max"

            def added(key):
                if not fixed or path == "direct" or r[key] is None or base[key] is None:
                    return None
                return r[key] - base[key]

            ok = f"{r['ok'] / r['attempted'] * 100:.1f} %" if r["attempted"] else "–"
            mark = "" if not fixed or sustained(r) else " (not sustained)"
            kb = rss.get((stream, path, load))
            cells = [label(load), path, f"{r['achieved']:,.0f}{mark}", ok,
                     ms(r["p50"]), ms(r["p99"]), ms(added("p50")), ms(added("p99"))]
            if stream:
                cells += [ms(r["fb50"]), ms(r["fb99"]), ms(added("fb50")), ms(added("fb99"))]
            cells.append(f"{kb / 1024:.1f} MB" if kb else "–")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15, help="per point (default 15)")
    parser.add_argument("--warmup", type=float, default=3, help="per path and mode (default 3)")
    parser.add_argument("--rates", default="500,1000,2000", help="fixed rates besides LiteLLM's half maximum")
    parser.add_argument("--probes", type=int, default=200, help="sequential streams per path for the first-chunk probe")
    parser.add_argument("--quick", action="store_true", help="3 s per point, 1000 RPS only, 50 probes: about three minutes")
    parser.add_argument("--priority", action="store_true", help="run the benchmark at nice -10 (root only)")
    parser.add_argument("--no-litellm", action="store_true", help="the mock and the router only")
    parser.add_argument("--no-build", action="store_true", help="use target/release as it is")
    parser.add_argument("--neighbour", action="store_true", help="a CPU-bound process on every core, at nice 0")
    parser.add_argument("--router-nice", type=int, help="the router's niceness (negative: root only)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.probes, args.rates = 3, 2, 50, "1000"
    rates = [int(r) for r in args.rates.split(",")]
    paths = PATHS[:2] if args.no_litellm else PATHS
    oha_exe = ensure_oha()
    litellm_exe, litellm_version = (None, None) if args.no_litellm else ensure_litellm()
    if not args.no_build:
        build()
    oha_version = subprocess.run([oha_exe, "--version"], capture_output=True, text=True).stdout.strip()
    if args.priority:
        os.nice(-10)  # inherited by every process started from here on

    work = tempfile.mkdtemp()
    procs, memory = {}, {}
    results, rss, overhead, loads = {}, {}, {}, {}
    started = time.time()
    load_before = os.getloadavg()
    neighbours = start_neighbours() if args.neighbour else []
    try:
        procs["direct"] = start_mock()
        procs["router"] = start_router(work, args.router_nice)
        if litellm_exe:
            procs["litellm"] = start_litellm(work, litellm_exe)
            settle(procs["litellm"].pid)
        memory = {path: Memory(procs[path].pid) for path in ("router", "litellm") if path in procs}
        time.sleep(1)
        idle = {path: m.window() for path, m in memory.items()}

        # Every path answers like the mock, whole and streamed.
        for path in paths:
            whole = json.loads(request(url(path), prompt_body(False)))
            assert whole["choices"][0]["message"]["content"], (path, whole)
            streamed = request(url(path), prompt_body(True))
            assert streamed.rstrip().endswith(b"data: [DONE]"), (path, streamed[-200:])

        print(f"first chunk: {args.probes} sequential streams per path", flush=True)
        probes = {path: first_chunk(path, args.probes) for path in paths}

        for stream in (False, True):
            mode = "stream" if stream else "whole"
            body_file = os.path.join(work, f"body-{int(stream)}.json")
            with open(body_file, "wb") as f:
                f.write(prompt_body(stream))

            def point(path, load):
                rate = None if load == "max" else load
                before = scrape_overhead() if path == "router" else None
                if path in memory:
                    memory[path].window()
                r = oha(oha_exe, path, stream, args.seconds, rate, body_file)
                if path in memory:
                    rss[(stream, path, load)] = memory[path].window()[0]
                if before:
                    after = scrape_overhead()
                    n = after[1] - before[1]
                    overhead[(stream, load)] = (after[0] - before[0]) / n * 1e3 if n else None
                results[(stream, path, load)] = r
                print(f"{mode:6} {str(load):>5} {path:8} achieved {r['achieved']:8.0f}/s "
                      f"ok {r['ok']}/{r['attempted']} p50 {ms(r['p50'])} ms p99 {ms(r['p99'])} ms"
                      + (f" first byte p50 {ms(r['fb50'])} ms" if stream else "")
                      + (f" errors {r['errors']}" if r["errors"] else ""), flush=True)
                if path == "litellm":
                    settle(procs[path].pid)
                time.sleep(1)

            for path in paths:
                oha(oha_exe, path, stream, args.warmup, 50, body_file)
                if path == "litellm":
                    settle(procs[path].pid)
            low = []
            if "litellm" in paths:
                # Half of LiteLLM's maximum, in steps of 5: a rate it sustains.
                point("litellm", "max")
                low = [max(5, int(results[(stream, "litellm", "max")]["achieved"] / 2) // 5 * 5)]
            loads[stream] = low + rates + ["max"]
            # The closed loops last: the memory they take stays taken, and
            # would hide the fixed rates' own peaks.
            for load in loads[stream]:
                for path in paths:
                    if (stream, path, load) in results:
                        continue
                    if path == "litellm" and load != "max" and any(
                        not sustained(results[(stream, path, l)])
                        for l in loads[stream] if l != "max" and l < load
                        and (stream, path, l) in results
                    ):
                        # It fell behind at a lower rate: a higher one only
                        # builds a longer queue, for minutes of draining.
                        continue
                    point(path, load)
    finally:
        for neighbour in neighbours:
            neighbour.kill()
            neighbour.wait()
        if "litellm" in procs:
            stop_tree(procs["litellm"])
        for path in ("router", "direct"):
            if path in procs:
                stop(procs[path])
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    # --- the report ---
    print()
    print(f"hwc-ai-router vs LiteLLM {litellm_version or '(not run)'}; {oha_version}; "
          f"{os.cpu_count()} CPUs; {args.seconds:g} s per point"
          + ("; nice -10" if args.priority else "")
          + (f"; a busy loop on each of {os.cpu_count()} cores at nice 0" if args.neighbour else "")
          + (f"; router at nice {args.router_nice}" if args.router_nice is not None else "")
          + f"; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"{(time.time() - started) / 60:.1f} min")
    for stream in (False, True):
        print()
        print("### " + ("Streaming" if stream else "Non-streaming"))
        print()
        print(table(results, stream, paths, loads[stream], rss))
        print()
        print("router's own overhead (mean x-hwc-ai-overhead-ms, from /metrics): "
              + ", ".join(f"{label(l)} {ms(overhead.get((stream, l)))} ms" for l in loads[stream]))

    print()
    print("### First chunk (sequential streams, before the load)")
    print()
    print("| path | send to first chunk p50 / p99 ms | mock's write to client's read p50 / p99 ms | x-hwc-ai-overhead-ms p50 / p99 |")
    print("| --- | --- | --- | --- |")
    for path in paths:
        ttfc, forward, over = probes[path]
        print(f"| {path} | {ms(pct(ttfc, 50))} / {ms(pct(ttfc, 99))} | "
              f"{ms(pct(forward, 50))} / {ms(pct(forward, 99))} | "
              f"{ms(pct(over, 50))} / {ms(pct(over, 99))} |")
    d_fwd, r_fwd = probes["direct"][1], probes["router"][1]
    fwd50, fwd99 = pct(r_fwd, 50) - pct(d_fwd, 50), pct(r_fwd, 99) - pct(d_fwd, 99)

    print()
    print("### Memory")
    print()
    print("| proxy | idle RSS | peak RSS | PSS idle | processes |")
    print("| --- | --- | --- | --- | --- |")
    for path, m in memory.items():
        name = "hwc-ai-router" if path == "router" else f"LiteLLM {litellm_version}"
        print(f"| {name} | {idle[path][0] / 1024:.1f} MB | {m.peak_kb / 1024:.1f} MB | "
              f"{idle[path][1] / 1024:.1f} MB | {len(m.pids)} |")

    # --- goals ---
    print()
    print("### Goals")
    print()
    verdict = lambda ok: "met" if ok else "MISSED"
    for stream in (False, True):
        d, r = results.get((stream, "direct", 1000)), results.get((stream, "router", 1000))
        if d and r:
            for key in ("p99", "fb99") if stream else ("p99",):
                added = r[key] - d[key]
                what = {"p99": "p99", "fb99": "first byte p99"}[key]
                mode = "streaming" if stream else "non-streaming"
                print(f"- added {what} at 1000 RPS, {mode}: {added:.3f} ms (goal ≤ 0.5 ms): "
                      f"{verdict(added <= 0.5 and sustained(r))}")
    if "litellm" in paths:
        worst = None
        for stream in (False, True):
            for load in loads[stream][:-1]:
                d, r, l = (results.get((stream, p, load)) for p in PATHS)
                if not l or not sustained(l):
                    continue
                for key in ("p50", "p99") + (("fb50", "fb99") if stream else ()):
                    ours, theirs = r[key] - d[key], l[key] - d[key]
                    ratio = theirs / max(ours, 0.01)
                    worst = ratio if worst is None else min(worst, ratio)
                    mode = "streaming" if stream else "non-streaming"
                    print(f"- {mode}, {load} RPS, added {key}: router {ours:.3f} ms, "
                          f"LiteLLM {theirs:.3f} ms: {ratio:.0f}× (goal ≥ 20×)")
        print("- lowest ratio at a rate LiteLLM sustains: "
              + ("none sustained" if worst is None else f"{worst:.0f}×: {verdict(worst >= 20)}"))
    fixed_peak = max((kb for (s, p, l), kb in rss.items() if p == "router" and l != "max"), default=0)
    peak = memory["router"].peak_kb / 1024
    print(f"- router peak RSS at the fixed rates: {fixed_peak / 1024:.1f} MB "
          f"({verdict(fixed_peak / 1024 <= 30)}); over the whole run, closed loops included: "
          f"{peak:.1f} MB ({verdict(peak <= 30)}) (goal ≤ 30 MB)")
    print(f"- first chunk forwarding, through the router minus direct (mock's write to client's read): "
          f"p50 {fwd50:.3f} ms, p99 {fwd99:.3f} ms (goal ≤ 0.2 ms): {verdict(fwd99 <= 0.2)}")


if __name__ == "__main__":
    main()
