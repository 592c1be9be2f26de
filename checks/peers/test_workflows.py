"""Workflows (docs/workflows.md) run by hwc-ai-assistant through the
router and llama.cpp's server with SmolLM2-135M: the journal, auto-doc
and a file-triage plan each write their file, and a prompt workflow with
an output schema, run with `hwc-ai workflow run`, goes through the
router's /execute and writes JSON that validates against its schema.
The inputs are tiny and the profile caps the answers at 48 tokens: this
is the plumbing with a real model, not the quality of its prose.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path

import httpx2
import pytest

from conftest import LLAMA_MODEL, free_port, metric, start, start_router

PROFILE = "workflow"

REPORT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["colour", "count"],
    "properties": {
        "colour": {"type": "string", "maxLength": 40},
        "count": {"type": "integer"},
    },
}


def validates(doc, schema: dict) -> list[str]:
    """The errors of `doc` against the small subset of JSON Schema that
    REPORT_SCHEMA uses (independent of the router's own validator)."""
    errors = []
    types = {"object": dict, "string": str, "integer": int, "boolean": bool}
    kind = types[schema["type"]]
    if not isinstance(doc, kind) or (kind is int and isinstance(doc, bool)):
        return [f"{doc!r} is not of type {schema['type']}"]
    if kind is str and len(doc) > schema.get("maxLength", len(doc)):
        errors.append(f"{doc!r} is longer than {schema['maxLength']}")
    if kind is dict:
        errors += [f"`{k}` is missing" for k in schema.get("required", []) if k not in doc]
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            errors += [f"`{k}` is not allowed" for k in doc if k not in props]
        for k, sub in props.items():
            if k in doc:
                errors += [f"{k}: {e}" for e in validates(doc[k], sub)]
    return errors


@pytest.fixture(scope="module")
def wf_router(workdir, canaries, llama):
    """A router with only llama.cpp's server behind a small profile."""
    key = workdir / "wf-llama.key"
    key.write_text(canaries.llama + "\n")
    key.chmod(0o600)
    config = {
        "listen": f"127.0.0.1:{free_port()}",
        "backends": [{"name": "llama", "kind": "openai-compatible", "baseUrl": f"{llama.url}/v1",
                      "apiKey": {"file": str(key)}, "schemaFormat": "json-object"}],
        "routes": [{"model": "smol*", "targets": [{"backend": "llama"}]}],
        "profiles": [{"name": PROFILE, "targets": [{"backend": "llama", "model": LLAMA_MODEL}],
                      "temperature": 0, "maxTokens": 48, "schemaRepairs": 2}],
    }
    router = start_router("wf-router", workdir, config)
    yield router
    router.process.stop()


@pytest.fixture(scope="module")
def tree(workdir) -> Path:
    root = workdir / "wf"
    (root / "source" / "scripts").mkdir(parents=True)
    (root / "source" / "README.txt").write_text("Backups of the homelab.\n")
    (root / "source" / "scripts" / "backup.sh").write_text("#!/bin/sh\nrsync -a /srv /mnt/backup\n")
    (root / "inbox").mkdir()
    (root / "inbox" / "invoice-2026.pdf").write_bytes(b"%PDF-1.7\n")
    (root / "inbox" / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "inbox" / "notes.bin").write_bytes(b"\x00\x01\x02")
    for out in ("journal", "docs", "triage", "reports", "documents", "pictures"):
        (root / out).mkdir()
    return root


@pytest.fixture(scope="module")
def assistant(workdir, wf_router, tree):
    binary = os.environ.get("HWC_AI_ASSISTANT")
    if not binary:
        pytest.fail("HWC_AI_ASSISTANT is not set (checks/peers/run sets it)")
    port = free_port()
    config = {
        "listen": f"127.0.0.1:{port}",
        "stateDirectory": str(workdir / "wf-assistant-state"),
        "router": {"url": wf_router.url, "model": PROFILE},
        "agent": {"maxRounds": 1, "budget": "90s"},
        "tools": ["disk_usage"],
        "workflows": {
            "daily": {"kind": "journal", "tools": ["disk_usage"],
                      "output": {"directory": str(tree / "journal")}},
            "docs": {"kind": "auto-doc", "source": str(tree / "source"),
                     "output": {"directory": str(tree / "docs")},
                     "limits": {"maxFileBytes": 512, "maxTotalBytes": 2048, "maxEntries": 2}},
            "downloads": {"kind": "file-triage", "inbox": str(tree / "inbox"),
                          "output": {"directory": str(tree / "triage")},
                          "destinations": {
                              "documents": {"directory": str(tree / "documents"), "types": ["pdf"]},
                              "pictures": {"directory": str(tree / "pictures"), "types": ["image"]}}},
            "report": {"kind": "prompt",
                       "prompt": "Name the colour {{thing}} usually has and how many legs it has, "
                                 "as JSON with `colour` and `count`.",
                       "inputs": {"type": "object", "required": ["thing"],
                                  "properties": {"thing": {"type": "string"}}},
                       "outputSchema": REPORT_SCHEMA,
                       "output": {"directory": str(tree / "reports")}},
        },
    }
    path = workdir / "wf-assistant.json"
    path.write_text(json.dumps(config))
    check = subprocess.run([binary, "--check-config", "--config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    process = start("wf-assistant", [binary, "--config", str(path)], workdir / "wf-assistant.log",
                    f"http://127.0.0.1:{port}", "/health", 30)
    yield process
    process.stop()


def run(assistant, name: str, inputs: dict | None = None) -> dict:
    response = httpx2.post(f"{assistant.url}/v1/workflows/{name}/run", json={"inputs": inputs or {}}, timeout=180)
    assert response.status_code == 200, response.text
    return response.json()


def asked(router) -> float:
    return metric(router.metrics(), "hwc_ai_router_requests_total", route=PROFILE, target=f"llama/{LLAMA_MODEL}",
                  status="200")


def test_the_journal_is_summarised_by_the_model(assistant, wf_router, tree):
    before = asked(wf_router)
    body = run(assistant, "daily")
    date = datetime.date.today().isoformat()
    assert body["files"] == [str(tree / "journal" / f"daily-{date}.md")], body
    assert body["data"]["summarised"] is True, body
    note = (tree / "journal" / f"daily-{date}.md").read_text()
    assert note.startswith(f"# Journal {date}\n\n"), note
    summary = note.split("\n## ")[0].removeprefix(f"# Journal {date}\n\n").strip()
    assert summary and "No summary" not in summary, note
    assert "\n## Disks\n" in note, note
    assert asked(wf_router) - before >= 1


def test_auto_doc_writes_a_readme_per_folder(assistant, wf_router, tree):
    before = asked(wf_router)
    body = run(assistant, "docs")
    assert body["data"]["folders"] == [str(tree / "source"), str(tree / "source" / "scripts")], body
    top = (tree / "docs" / "README.md").read_text()
    scripts = (tree / "docs" / "scripts" / "README.md").read_text()
    assert top.startswith(f"# {tree / 'source'}\n\n") and "- `README.txt` (24 bytes)" in top, top
    assert "- `backup.sh` (" in scripts, scripts
    for readme in (top, scripts):
        summary = readme.split("\n\n## Contents")[0].split("\n\n", 1)[1]
        assert summary.strip(), readme
    assert asked(wf_router) - before == 2, "one model call per folder"


def test_a_file_triage_plan_moves_nothing(assistant, tree):
    body = run(assistant, "downloads")
    plan = {item["file"]: item["destination"] for item in body["data"]["plan"]}
    assert plan == {"cat.png": "pictures", "invoice-2026.pdf": "documents", "notes.bin": None}, body
    assert body["data"]["applied"] is False
    table = Path(body["files"][0]).read_text()
    assert "| `invoice-2026.pdf` | documents |" in table, table
    assert sorted(p.name for p in (tree / "inbox").iterdir()) == ["cat.png", "invoice-2026.pdf", "notes.bin"]
    assert not any((tree / "documents").iterdir())


def test_a_schema_checked_prompt_workflow_from_the_cli(assistant, wf_router, tree):
    before = asked(wf_router)
    done = subprocess.run([os.environ["HWC_AI_CLI"], "workflow", "run", "report", "--url", assistant.url,
                           "--json", "--input", "thing=a cat"], capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads(done.stdout)
    [written] = body["files"]
    assert written.startswith(str(tree / "reports" / "report-")) and written.endswith(".json"), body
    doc = json.loads(Path(written).read_text())
    assert validates(doc, REPORT_SCHEMA) == [], doc
    assert doc == body["data"]
    assert asked(wf_router) - before >= 1, "through the router's /execute"
    runs = httpx2.get(f"{assistant.url}/v1/workflows/runs", timeout=10).json()
    assert [r["workflow"] for r in runs["runs"]][:1] == ["report"], runs


def test_every_run_is_in_the_audit_log(assistant, workdir):
    verify = subprocess.run([os.environ["HWC_AI_CLI"], "audit", "verify", "--db",
                             str(workdir / "wf-assistant-state" / "audit.db")],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    tail = subprocess.run([os.environ["HWC_AI_CLI"], "audit", "tail", "-n", "40", "--db",
                           str(workdir / "wf-assistant-state" / "audit.db")],
                          capture_output=True, text=True, timeout=60).stdout
    for name in ("daily", "docs", "downloads", "report"):
        assert f"workflow {name}" in tail, tail
