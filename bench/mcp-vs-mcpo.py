#!/usr/bin/env python3
"""hwc-ai-mcp's OpenAPI bridge against mcpo: added latency of a tool call,
and memory, on one MCP server.

    bench/mcp-vs-mcpo.py [--calls 3000] [--concurrency 16] [--concurrent-calls 6000]
                         [--rounds 3] [--quick] [--no-build]

The server is the protocol's reference server,
@modelcontextprotocol/server-everything, over stdio; the tool is `echo`
(`{"message": ...}` in, one text item out). Three paths, all on this
machine, in the same run:

- direct: the call straight to a server-everything of its own, over its
  stdin and stdout (newline-delimited JSON-RPC, a minimal client: one
  pre-serialised line out, one line parsed back). This is the baseline:
  the server's own time and the pipe's.
- hwc-ai-mcp: `POST /openapi/everything/echo` on the release build, the
  server a child of the gateway (a `command` server).
- mcpo: `POST /echo` on mcpo (`mcpo --api-key K -- server-everything
  stdio`), the server a child of mcpo.

Both bridges check one bearer key (mcpo's --api-key; the gateway with
`allowUnauthenticatedLoopback: false`), run with their default settings
and log to /dev/null; mcpo with LOG_LEVEL=WARNING, which drops uvicorn's
access line per request (its default logs one; this favours mcpo).

- Sequential: one call at a time on one kept-alive connection (for
  direct: one request in flight on the pipe), CALLS calls per path after
  200 warm-up calls.
- Concurrent: CONCURRENCY connections (direct: that many requests in
  flight on the one pipe, as a bridge multiplexes them), each calling in a
  closed loop, CONCURRENT_CALLS calls in all per path.
- The paths take turns, ROUNDS times, each round a share of the calls, so
  that a change in the machine's load falls on all three alike.
- Added latency: a path's percentile minus the direct path's percentile.
  (The difference of percentiles, not the percentile of differences, as
  TensorZero's gateway benchmark reports it.) The HTTP paths' client cost
  (writing a request, parsing a response in Python) is part of their
  added latency, the same for both bridges.
- HTTP floor: after the runs, the same client's sequential `GET /health`
  on the gateway, which touches no MCP server: how much of an HTTP path's
  latency is the HTTP round trip and the client.
- Memory: the bridge process's own RSS (VmRSS) idle, 5 s after its server
  is up, and its peak (VmHWM) after the runs; the server child, the same
  node process behind either bridge, is not counted. CPU: the bridge
  process's utime + stime over the measured calls, per call.

Every answer is checked (status 200, the echoed text); a run with a
failed call says so.

Installs what is missing with `checks/peers/mcp/run --install-only`
(server-everything from npm, mcpo 0.0.20 into its own venv with mcp<2 and
fastapi<0.120, cached under ${XDG_CACHE_HOME:-~/.cache}/hwc-ai/peers); the
release build is `cargo build --release --locked -p hwc-ai-mcp --bin
hwc-ai-mcp`, which the script runs unless --no-build. --quick (500 calls
and 1,000 concurrent calls a path) takes well under a minute, for a first
look.
"""

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hwc-ai", "peers")
EVERYTHING = os.path.join(CACHE, "npm", "node_modules", ".bin", "mcp-server-everything")
MCPO = os.path.join(CACHE, "mcpo", "bin", "mcpo")
PATHS = ("direct", "hwc-ai-mcp", "mcpo")
KEY = "bench-" + os.urandom(16).hex()
MESSAGE = "a tool call through the bench"
ANSWER = "Echo: " + MESSAGE
WARMUP = 200


# --- setup -------------------------------------------------------------------


def install():
    subprocess.run([os.path.join(ROOT, "checks", "peers", "mcp", "run"), "--install-only"], check=True)


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "hwc-ai-mcp", "--bin", "hwc-ai-mcp"],
                   cwd=ROOT, check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


# --- clients -----------------------------------------------------------------


class Http:
    """One kept-alive HTTP/1.1 connection that sends one prepared POST."""

    def __init__(self, port, path, check=True):
        body = json.dumps({"message": MESSAGE}).encode()
        self.port = port
        self.check = check
        if check:
            self.request = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {KEY}\r\n"
                f"Content-Type: application/json\r\nAccept: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
        else:
            self.request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def call(self):
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            raise RuntimeError(f"an answer without a length: {head!r}")
        if status != 200 or (self.check and json.loads(body) != ANSWER):
            raise RuntimeError(f"{status} {body[:200]!r}")

    def close(self):
        if self.writer:
            self.writer.close()


class Stdio:
    """The server itself over its stdin/stdout; requests in flight are
    matched to their answers by id."""

    def __init__(self):
        self.proc = None
        self.pending = {}
        self.next_id = 0

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            EVERYTHING, "stdio", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, limit=1 << 22)
        self.reader = asyncio.get_running_loop().create_task(self.read())
        await self.rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                      "clientInfo": {"name": "bench", "version": "0"}})
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

    async def read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                for future in self.pending.values():
                    future.set_exception(RuntimeError("the server closed stdout"))
                return
            message = json.loads(line)
            future = self.pending.pop(message.get("id"), None) if "method" not in message else None
            if future is not None:
                future.set_result(message)

    async def rpc(self, method, params):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                          "params": params}).encode() + b"\n")
        return await future

    async def call(self):
        answer = await self.rpc("tools/call", {"name": "echo", "arguments": {"message": MESSAGE}})
        if answer.get("result", {}).get("content", [{}])[0].get("text") != ANSWER:
            raise RuntimeError(str(answer)[:200])

    async def stop(self):
        self.reader.cancel()
        self.proc.stdin.close()
        self.proc.terminate()
        await self.proc.wait()


# --- runs --------------------------------------------------------------------


async def sequential(path, targets, calls):
    latencies = []
    if path == "direct":
        call = targets["direct"].call
        conn = None
    else:
        conn = Http(*targets[path], check=path != "floor")
        await conn.open()
        call = conn.call
    try:
        for _ in range(calls):
            t = time.perf_counter_ns()
            await call()
            latencies.append(time.perf_counter_ns() - t)
    finally:
        if conn:
            conn.close()
    return latencies


async def concurrent(path, targets, calls, concurrency):
    latencies = []
    conns = []

    async def worker(call, n):
        for _ in range(n):
            t = time.perf_counter_ns()
            await call()
            latencies.append(time.perf_counter_ns() - t)

    shares = [calls // concurrency + (1 if i < calls % concurrency else 0) for i in range(concurrency)]
    if path == "direct":
        calls_fns = [targets["direct"].call] * concurrency
    else:
        conns = [Http(*targets[path]) for _ in range(concurrency)]
        await asyncio.gather(*(c.open() for c in conns))
        calls_fns = [c.call for c in conns]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(f, n) for f, n in zip(calls_fns, shares)))
        wall = time.perf_counter() - started
    finally:
        for c in conns:
            c.close()
    return latencies, wall


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(ns):
    return ns / 1e6


async def wait_http(port, path, seconds):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        conn = Http(port, path)
        try:
            await conn.open()
            await conn.call()
            return
        except (OSError, RuntimeError, asyncio.IncompleteReadError, ValueError) as err:
            last = err
            await asyncio.sleep(0.2)
        finally:
            conn.close()
    raise SystemExit(f"127.0.0.1:{port}{path} did not answer within {seconds} s: {last}")


async def main_async(args, work):
    key_file = os.path.join(work, "client-key")
    with open(key_file, "w") as f:
        f.write(KEY)
    gw_port, mcpo_port = free_port(), free_port()
    config = {
        "listen": f"127.0.0.1:{gw_port}",
        "clients": {"keys": [{"name": "bench", "key": {"file": key_file}}],
                    "allowUnauthenticatedLoopback": False},
        "servers": [{"name": "everything", "command": EVERYTHING, "args": ["stdio"]}],
    }
    config_path = os.path.join(work, "gateway.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    gateway = subprocess.Popen([os.path.join(RELEASE, "hwc-ai-mcp"), "--config", config_path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mcpo = subprocess.Popen([MCPO, "--host", "127.0.0.1", "--port", str(mcpo_port), "--api-key", KEY,
                             "--", EVERYTHING, "stdio"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, LOG_LEVEL="WARNING"))
    direct = Stdio()
    try:
        await direct.start()
        await wait_http(gw_port, "/openapi/everything/echo", 30)
        await wait_http(mcpo_port, "/echo", 60)
        targets = {"direct": direct, "hwc-ai-mcp": (gw_port, "/openapi/everything/echo"),
                   "mcpo": (mcpo_port, "/echo"), "floor": (gw_port, "/health")}
        pids = {"hwc-ai-mcp": gateway.pid, "mcpo": mcpo.pid}
        await asyncio.sleep(5)
        idle = {p: proc_kb(pid, "VmRSS") for p, pid in pids.items()}
        for path in PATHS:
            await sequential(path, targets, WARMUP)
        seq = {p: [] for p in PATHS}
        conc = {p: [] for p in PATHS}
        walls = {p: 0.0 for p in PATHS}
        cpu = {p: 0.0 for p in pids}
        for r in range(args.rounds):
            order = PATHS[r % 3:] + PATHS[:r % 3]
            for path in order:
                before = cpu_seconds(pids[path]) if path in pids else 0
                seq[path] += await sequential(path, targets, args.calls // args.rounds)
                lat, wall = await concurrent(path, targets, args.concurrent_calls // args.rounds, args.concurrency)
                conc[path] += lat
                walls[path] += wall
                if path in pids:
                    cpu[path] += cpu_seconds(pids[path]) - before
        peak = {p: proc_kb(pid, "VmHWM") for p, pid in pids.items()}
        floor = await sequential("floor", targets, args.calls)
        return seq, conc, walls, idle, peak, cpu, floor
    finally:
        await direct.stop()
        stop(gateway)
        stop(mcpo)


def report(args, seq, conc, walls, idle, peak, cpu, floor):
    mcpo_version = version([os.path.join(CACHE, "mcpo", "bin", "python"), "-c",
                            "import importlib.metadata as m; print(m.version('mcpo'), 'mcp', m.version('mcp'))"])
    try:
        with open(os.path.join(CACHE, "npm", "node_modules", "@modelcontextprotocol", "server-everything",
                               "package.json")) as f:
            everything_version = json.load(f)["version"]
    except OSError:
        everything_version = "?"
    print()
    print(f"# hwc-ai-mcp vs mcpo: {platform.node()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"# server-everything {everything_version} over stdio, tool echo; mcpo {mcpo_version}; "
          f"node {version(['node', '--version'])}")
    print()
    print(f"## Sequential: {args.calls} calls a path, one at a time")
    print()
    print("| path | p50 | p90 | p99 | added p50 | added p99 |")
    print("| --- | --- | --- | --- | --- | --- |")
    base = seq["direct"]
    added = {}
    for path in PATHS:
        lat = seq[path]
        a50 = pct(lat, 50) - pct(base, 50)
        a99 = pct(lat, 99) - pct(base, 99)
        added[path] = (a50, a99)
        extra = ("–", "–") if path == "direct" else (f"{ms(a50):.3f} ms", f"{ms(a99):.3f} ms")
        print(f"| {path} | {ms(pct(lat, 50)):.3f} ms | {ms(pct(lat, 90)):.3f} ms | {ms(pct(lat, 99)):.3f} ms "
              f"| {extra[0]} | {extra[1]} |")
    print()
    print(f"HTTP floor, the same client's `GET /health` on hwc-ai-mcp ({len(floor)} calls, no MCP): "
          f"p50 {ms(pct(floor, 50)):.3f} ms, p99 {ms(pct(floor, 99)):.3f} ms")
    print()
    print(f"## Concurrent: {args.concurrency} in flight, {args.concurrent_calls} calls a path")
    print()
    print("| path | calls/s | p50 | p99 | added p50 | added p99 |")
    print("| --- | --- | --- | --- | --- | --- |")
    cbase = conc["direct"]
    cadded = {}
    for path in PATHS:
        lat = conc[path]
        a50 = pct(lat, 50) - pct(cbase, 50)
        a99 = pct(lat, 99) - pct(cbase, 99)
        cadded[path] = (a50, a99)
        extra = ("–", "–") if path == "direct" else (f"{ms(a50):.3f} ms", f"{ms(a99):.3f} ms")
        print(f"| {path} | {len(lat) / walls[path]:,.0f} | {ms(pct(lat, 50)):.3f} ms | {ms(pct(lat, 99)):.3f} ms "
              f"| {extra[0]} | {extra[1]} |")
    print()
    print("## The bridges")
    print()
    print("| bridge | idle RSS | peak RSS | CPU per call |")
    print("| --- | --- | --- | --- |")
    for path in ("hwc-ai-mcp", "mcpo"):
        calls = len(seq[path]) + len(conc[path])
        print(f"| {path} | {idle[path] / 1024:.1f} MB ({idle[path]:,} kB) | {peak[path] / 1024:.1f} MB "
              f"({peak[path]:,} kB) | {cpu[path] / calls * 1e6:.0f} µs |")
    print()

    def ratio(a, b):
        return f"{a / b:.1f}x" if b > 0 else "n/a (hwc-ai-mcp's is within the direct path's noise)"

    print(f"mcpo's added latency / hwc-ai-mcp's: sequential p50 {ratio(added['mcpo'][0], added['hwc-ai-mcp'][0])}, "
          f"p99 {ratio(added['mcpo'][1], added['hwc-ai-mcp'][1])}; concurrent p50 "
          f"{ratio(cadded['mcpo'][0], cadded['hwc-ai-mcp'][0])}, p99 {ratio(cadded['mcpo'][1], cadded['hwc-ai-mcp'][1])}"
          " (goal: at least 5x)")
    print(f"hwc-ai-mcp idle RSS {idle['hwc-ai-mcp'] / 1024:.1f} MB (goal: at most 10 MB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--concurrent-calls", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.concurrent_calls = 500, 1000
    install()
    if not args.no_build:
        build()
    with tempfile.TemporaryDirectory() as work:
        results = asyncio.run(main_async(args, work))
    report(args, *results)


if __name__ == "__main__":
    sys.exit(main())
