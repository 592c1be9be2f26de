"""hwc-ai-assistant's ai.v1.AIService with python grpcio as the client.

The stubs are generated here from the repository's .proto by grpcio-tools,
as any chat bot built from the plan's proto has them; nothing in this file
knows more about the wire than that proto says. The assistant is the real
binary, in front of a scripted OpenAI-compatible model served from this
process.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "crates/assistant/proto"
KEY = "k-discord-bot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    """ai_pb2 / ai_pb2_grpc, generated from ai/v1/ai.proto."""
    out = tmp_path_factory.mktemp("stubs")
    code = protoc.main([
        "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"--python_out={out}", f"--grpc_python_out={out}",
        "ai/v1/ai.proto",
    ])
    assert code == 0, "grpcio-tools could not compile ai/v1/ai.proto"
    sys.path.insert(0, str(out))
    from ai.v1 import ai_pb2, ai_pb2_grpc  # noqa: PLC0415 (generated above)
    return ai_pb2, ai_pb2_grpc


class Model(BaseHTTPRequestHandler):
    """An OpenAI-compatible model: a fixed answer, slow for "slowly", no
    backend (503) for "limerick"."""

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = json.dumps(body["messages"])
        if "limerick" in text:
            status, answer = 503, {"error": {"message": "no backend is up"}}
        else:
            if "slowly" in text:
                time.sleep(3)
            status, answer = 200, {"choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "A homelab is a lab at home."}}]}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def assistant(tmp_path_factory):
    """The assistant with gRPC on, one client key; yields (target, log path)."""
    work = tmp_path_factory.mktemp("assistant")
    model = ThreadingHTTPServer(("127.0.0.1", 0), Model)
    threading.Thread(target=model.serve_forever, daemon=True).start()
    (work / "bot.key").write_text(KEY + "\n")
    grpc_listen = f"127.0.0.1:{free_port()}"
    config = {
        "listen": f"127.0.0.1:{free_port()}",
        "stateDirectory": str(work / "state"),
        "router": {"url": f"http://127.0.0.1:{model.server_port}"},
        "tools": ["disk_usage"],
        "clients": {"allowUnauthenticatedLoopback": False,
                    "keys": [{"name": "discord", "key": {"file": str(work / "bot.key")}}]},
        "grpc": {"listen": grpc_listen},
        "log": {"format": "json"},
    }
    path = work / "assistant.json"
    path.write_text(json.dumps(config))
    binary = os.environ["HWC_AI_ASSISTANT"]
    check = subprocess.run([binary, "--check-config", "--config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    log = work / "assistant.log"
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    with open(log, "w") as out:
        process = subprocess.Popen([binary, "--config", str(path)], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        channel = grpc.insecure_channel(grpc_listen)
        grpc.channel_ready_future(channel).result(timeout=30)
        channel.close()
        yield grpc_listen, log, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)
        model.shutdown()


def call(stubs, target, text, source="discord", key=KEY, timeout=10):
    ai_pb2, ai_pb2_grpc = stubs
    with grpc.insecure_channel(target) as channel:
        metadata = [("authorization", f"Bearer {key}")] if key is not None else []
        return ai_pb2_grpc.AIServiceStub(channel).Query(
            ai_pb2.QueryRequest(text=text, source=source), metadata=metadata, timeout=timeout)


def code_of(stubs, target, text, **kwargs):
    with pytest.raises(grpc.RpcError) as err:
        call(stubs, target, text, **kwargs)
    return err.value.code(), err.value.details()


def test_a_question_gets_the_models_answer(stubs, assistant):
    answer = call(stubs, assistant[0], "what is a homelab?")
    assert answer.reply == "A homelab is a lab at home."
    assert answer.intent == "question"
    assert answer.action_taken is False


def test_a_refusal_is_ok_with_an_intent_saying_so(stubs, assistant):
    answer = call(stubs, assistant[0], "please reboot the server now")
    assert answer.intent == "refused"
    assert "read-only" in answer.reply
    assert answer.action_taken is False


def test_errors_follow_the_plans_status_codes(stubs, assistant):
    target = assistant[0]
    assert code_of(stubs, target, "hello", key=None)[0] == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(stubs, target, "hello", key="not-the-key")[0] == grpc.StatusCode.PERMISSION_DENIED
    code, details = code_of(stubs, target, "   ")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "text" in details
    code, details = code_of(stubs, target, "tell me a limerick about llamas")
    assert code == grpc.StatusCode.UNAVAILABLE
    assert "503" in details


def test_the_callers_deadline_is_honoured(stubs, assistant):
    started = time.monotonic()
    code, _ = code_of(stubs, assistant[0], "answer slowly please", timeout=0.5)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2
    # The server is still answering.
    assert call(stubs, assistant[0], "and now?").reply


def test_health_like_grpc_health_probe(assistant):
    with grpc.insecure_channel(assistant[0]) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "ai.v1.AIService"):
            response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING, service
        with pytest.raises(grpc.RpcError) as err:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_and_describes_the_service(assistant):
    with grpc.insecure_channel(assistant[0]) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = iter([
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="ai.v1.AIService"),
        ])
        listed, described = list(stub.ServerReflectionInfo(requests, timeout=5))
    names = {s.name for s in listed.list_services_response.service}
    assert {"ai.v1.AIService", "grpc.health.v1.Health"} <= names, names
    from google.protobuf import descriptor_pb2  # noqa: PLC0415
    files = [descriptor_pb2.FileDescriptorProto.FromString(b)
             for b in described.file_descriptor_response.file_descriptor_proto]
    ai = next(f for f in files if f.package == "ai.v1")
    assert [m.name for m in ai.service[0].method] == ["Query"]
    fields = {m.name: [(f.name, f.number) for f in m.field] for m in ai.message_type}
    assert fields["QueryRequest"] == [("text", 1), ("source", 2)]
    assert fields["QueryResponse"] == [("reply", 1), ("intent", 2), ("action_taken", 3)]


def test_one_log_line_per_query(stubs, assistant):
    call(stubs, assistant[0], "what is a homelab, once more?", source="discord")
    time.sleep(0.2)
    lines = [json.loads(line) for line in assistant[1].read_text().splitlines() if line.startswith("{")]
    queries = [line for line in lines if line.get("message") == "query"]
    assert queries, lines[-5:]
    last = queries[-1]
    assert last["transport"] == "grpc" and last["client"] == "discord" and last["source"] == "discord"
    assert last["intent"] == "question" and last["outcome"] == "answered" and last["status"] == "OK"
    assert isinstance(last["duration_ms"], int)
    assert "homelab" not in json.dumps(queries), "the text is not logged"
    statuses = {(q["outcome"], q["status"]) for q in queries}
    assert ("invalid_request", "INVALID_ARGUMENT") in statuses, statuses
    assert ("model_unavailable", "UNAVAILABLE") in statuses, statuses
    # The query whose caller's deadline passed is logged too.
    assert ("abandoned", "CANCELLED") in statuses, statuses


def test_shutdown_ends_the_listener(assistant):
    """Last: SIGTERM stops gRPC with the daemon, exit status 0."""
    process = assistant[2]
    process.terminate()
    assert process.wait(timeout=20) == 0
    with socket.socket() as s:
        assert s.connect_ex(tuple_of(assistant[0])) != 0


def tuple_of(target):
    host, port = target.rsplit(":", 1)
    return host, int(port)

