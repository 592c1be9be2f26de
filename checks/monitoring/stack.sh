# The whole stack on loopback, as separate processes (as the units run it),
# for checks/monitoring/run. Sourced; needs $BIN (the built binaries) and
# $DIR (a scratch directory). Ports 195xx, away from the defaults.

FAKE=127.0.0.1:19540
PROBER=127.0.0.1:19530
PULLER=127.0.0.1:19531
ROUTER=127.0.0.1:19532
MCP=127.0.0.1:19533
ASSISTANT=127.0.0.1:19534
PROMETHEUS=127.0.0.1:19590
ALERTMANAGER=127.0.0.1:19593

# name -> pid of what this file started (global: sourced in a function)
declare -gA PIDS=()

# Fails naming the first of the ports that something already listens on.
ports_free() {
    local addr
    for addr in $FAKE $PROBER $PULLER $ROUTER $MCP $ASSISTANT $PROMETHEUS $ALERTMANAGER; do
        if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
            echo "$addr is already in use" >&2
            return 1
        fi
    done
}

start() {
    local name=$1
    shift
    "$@" >"$DIR/$name.log" 2>&1 &
    PIDS[$name]=$!
}

stop() {
    local name=$1 pid=${PIDS[$1]:-}
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "PIDS[$name]"
}

stop_all() {
    local name
    for name in "${!PIDS[@]}"; do stop "$name"; done
}

# Waits until URL answers 2xx, up to 15 s.
wait_for() {
    local url=$1 i
    for i in $(seq 150); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $url" >&2
    return 1
}

start_stack() {
    local echo_server=$1
    mkdir -p "$DIR/assistant" "$DIR/models"
    cat >"$DIR/prober.json" <<JSON
{
  "listen": "$PROBER",
  "defaults": { "interval": "500ms", "timeout": "400ms", "failureThreshold": 1 },
  "targets": [
    { "name": "ollama", "kind": "ollama", "url": "http://$FAKE" },
    { "name": "open-webui", "kind": "open-webui", "url": "http://127.0.0.1:9" },
    { "name": "hwc-ai-puller", "kind": "hwc-ai", "url": "http://$PULLER" },
    { "name": "hwc-ai-router", "kind": "hwc-ai", "url": "http://$ROUTER" },
    { "name": "hwc-ai-mcp", "kind": "hwc-ai", "url": "http://$MCP" },
    { "name": "hwc-ai-assistant", "kind": "hwc-ai", "url": "http://$ASSISTANT" }
  ],
  "alerts": { "webhooks": [ { "name": "nowhere", "url": "http://127.0.0.1:9/hook", "retries": 0 } ] }
}
JSON
    cat >"$DIR/puller.json" <<JSON
{
  "listen": "$PULLER",
  "ollamaUrl": "http://$FAKE",
  "models": [ "tinyllama", { "name": "nomic-embed-text", "autoUpdate": true }, "no-such-model:1b" ],
  "disk": { "path": "$DIR/models", "minFree": "1MiB" }
}
JSON
    cat >"$DIR/router.json" <<JSON
{
  "listen": "$ROUTER",
  "backends": [
    { "name": "ollama", "kind": "openai-compatible", "baseUrl": "http://$FAKE/v1", "listModels": true },
    { "name": "gone", "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:9/v1" }
  ],
  "routes": [
    { "model": "broken", "targets": [{ "backend": "gone", "model": "tinyllama" }] },
    { "model": "fallback", "targets": [{ "backend": "gone", "model": "other" }, { "backend": "ollama", "model": "tinyllama" }] },
    { "model": "*", "targets": [{ "backend": "ollama" }] }
  ],
  "circuitBreaker": { "failureThreshold": 1, "cooldown": "10m" }
}
JSON
    cat >"$DIR/mcp.json" <<JSON
{
  "listen": "$MCP",
  "checkInterval": "1s",
  "servers": [ { "name": "echo", "command": "python3", "args": ["$echo_server"] } ]
}
JSON
    cat >"$DIR/assistant.json" <<JSON
{
  "listen": "$ASSISTANT",
  "stateDirectory": "$DIR/assistant",
  "router": { "url": "http://$ROUTER", "model": "no-such-model" },
  "tools": ["disk_usage", "ai_stack", "alerts"],
  "rateLimit": { "requestsPerMinute": 120, "burst": 6 },
  "stack": { "proberUrl": "http://$PROBER", "pullerUrl": "http://$PULLER", "routerUrl": "http://$ROUTER" },
  "alerts": { "alertmanagerUrl": "http://$ALERTMANAGER" }
}
JSON
    start ollama "$BIN/hwc-ai-ollama-fake" --listen "$FAKE"
    start prober "$BIN/hwc-ai-prober" --config "$DIR/prober.json"
    start puller "$BIN/hwc-ai-puller" --config "$DIR/puller.json"
    start router "$BIN/hwc-ai-router" --config "$DIR/router.json"
    start mcp "$BIN/hwc-ai-mcp" --config "$DIR/mcp.json"
    start assistant "$BIN/hwc-ai-assistant" --config "$DIR/assistant.json"
    local addr
    for addr in $PROBER $PULLER $ROUTER $MCP $ASSISTANT; do
        wait_for "http://$addr/metrics" || return 1
    done
}
