"""Home Assistant intents through ai.v1.AIService, with python grpcio as
the chat bot: a friendly name switches the light it names, a name that
fits two lights gets a question back, "what can I control?" lists the
allowed entities, and the request id comes back as response metadata.

The stubs are generated from the repository's .proto, as in
test_grpc.py. Home Assistant is a stand-in speaking its REST API
(`/api/states`, `/api/services/<domain>/<service>`, a bearer token); the
model classifies each message with a fixed answer.
"""

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
KEY = "k-discord-bot"
TOKEN = "ha-long-lived-token"
STATES = [
    {"entity_id": "light.kitchen_ceiling", "state": "off",
     "attributes": {"friendly_name": "Kitchen ceiling", "supported_color_modes": ["color_temp"],
                    "min_color_temp_kelvin": 2000, "max_color_temp_kelvin": 6500}},
    {"entity_id": "light.kitchen_counter", "state": "off",
     "attributes": {"friendly_name": "Kitchen counter", "supported_color_modes": ["brightness"]}},
    {"entity_id": "light.hall", "state": "on",
     "attributes": {"friendly_name": "Hall", "supported_color_modes": ["brightness"]}},
]
# What the model answers for a message containing each key.
CLASSIFY = {
    "kitchen lights": {"intent": "turn_on", "target": "kitchen lights", "domain": "light"},
    "hall light": {"intent": "turn_on", "target": "the hall light", "brightness_pct": 40},
    "control": {"intent": "list_entities", "domain": None, "area": None},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def reply(handler, status, body):
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class HomeAssistant(BaseHTTPRequestHandler):
    calls = []

    def authorized(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            reply(self, 401, {"message": "401: Unauthorized"})
            return False
        return True

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        if self.authorized() and self.path == "/api/states":
            reply(self, 200, STATES)

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.authorized() and self.path.startswith("/api/services/"):
            HomeAssistant.calls.append((self.path, body))
            reply(self, 200, [])

    def log_message(self, *args):
        pass


class Model(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["messages"][-1]["content"]
        intent = next((v for k, v in CLASSIFY.items() if k in text), {"intent": "question"})
        reply(self, 200, {"choices": [{"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": json.dumps(intent)}}]})

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    out = tmp_path_factory.mktemp("stubs")
    code = protoc.main(["grpc_tools.protoc", f"-I{ROOT / 'crates/assistant/proto'}",
                        f"--python_out={out}", f"--grpc_python_out={out}", "ai/v1/ai.proto"])
    assert code == 0
    sys.path.insert(0, str(out))
    from ai.v1 import ai_pb2, ai_pb2_grpc  # noqa: PLC0415 (generated above)
    return ai_pb2, ai_pb2_grpc


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    """The assistant with gRPC and Home Assistant actions on."""
    work = tmp_path_factory.mktemp("assistant-ha")
    ha, model = serve(HomeAssistant), serve(Model)
    (work / "bot.key").write_text(KEY + "\n")
    (work / "ha.token").write_text(TOKEN + "\n")
    target = f"127.0.0.1:{free_port()}"
    config = {
        "listen": f"127.0.0.1:{free_port()}",
        "stateDirectory": str(work / "state"),
        "router": {"url": f"http://127.0.0.1:{model.server_port}"},
        "clients": {"allowUnauthenticatedLoopback": False,
                    "keys": [{"name": "discord", "key": {"file": str(work / "bot.key")}}]},
        "grpc": {"listen": target},
        "homeAssistant": {
            "url": f"http://127.0.0.1:{ha.server_port}",
            "token": {"file": str(work / "ha.token")},
            "actions": {"enable": True,
                        "entities": ["light.kitchen_ceiling", "light.kitchen_counter", "light.hall"]},
        },
    }
    (work / "assistant.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    process = subprocess.Popen([os.environ["HWC_AI_ASSISTANT"], "--config", str(work / "assistant.json")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        with grpc.insecure_channel(target) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        yield target
    finally:
        process.terminate()
        process.wait(timeout=20)
        ha.shutdown()
        model.shutdown()


def query(stubs, target, text, metadata=()):
    ai_pb2, ai_pb2_grpc = stubs
    with grpc.insecure_channel(target) as channel:
        answer, call = ai_pb2_grpc.AIServiceStub(channel).Query.with_call(
            ai_pb2.QueryRequest(text=text, source="discord"),
            metadata=[("authorization", f"Bearer {KEY}"), *metadata], timeout=10)
        return answer, dict(call.initial_metadata())


def test_a_friendly_name_switches_the_light_it_names(stubs, assistant):
    HomeAssistant.calls.clear()
    answer, metadata = query(stubs, assistant, "set the hall light to 40%", [("x-request-id", "bot-42")])
    assert (answer.reply, answer.intent, answer.action_taken) == (
        "Turned on light.hall at 40% brightness.", "light_on", True)
    assert HomeAssistant.calls == [("/api/services/light/turn_on",
                                    {"entity_id": "light.hall", "brightness_pct": 40})]
    assert metadata["x-request-id"] == "bot-42"


def test_a_name_that_fits_two_lights_gets_a_question(stubs, assistant):
    HomeAssistant.calls.clear()
    answer, metadata = query(stubs, assistant, "turn on the kitchen lights")
    assert answer.intent == "clarify" and answer.action_taken is False
    assert answer.reply == ("Which one do you mean: Kitchen ceiling (light.kitchen_ceiling) "
                            "or Kitchen counter (light.kitchen_counter)?")
    assert HomeAssistant.calls == []
    assert metadata["x-request-id"].startswith("q-")


def test_what_can_i_control(stubs, assistant):
    answer, _ = query(stubs, assistant, "what can I control?")
    assert answer.intent == "list_entities"
    assert answer.reply == ("I can control: Kitchen ceiling (light.kitchen_ceiling, off), "
                            "Kitchen counter (light.kitchen_counter, off), Hall (light.hall, on).")
