# router: hwc-ai-router in front of the fake Ollama. It is active only
# after READY=1, a chat completion through it reaches the fake, its /health
# says nothing leaves the host, its sandbox (no cloud backend) reaches no
# address beyond loopback, and SIGTERM while a stream is in flight lets the
# stream finish before the daemon exits 0.
#
# The fake streams qwen3:0.6b's tokens 300 ms apart
# (checks/debian-vm/guest/ollama-fake-scenario.json, in both worlds), so a
# stream is still running when the stop request comes; the router has the
# alias local-slow for that model.

unit=hwc-ai-router.service
router=$(listen_of hwc-ai-router)
fake=http://127.0.0.1:11434
model=qwen3:0.6b
on_exit systemctl start "$unit"

chat() {
	# `chat MODEL STREAM WORDS...`
	local model=$1 stream=$2
	shift 2
	jq -cn --arg m "$model" --argjson s "$stream" --arg c "$*" \
		'{model: $m, stream: $s, messages: [{role: "user", content: $c}]}' |
		curl -sS -N --max-time 60 -H 'content-type: application/json' --data-binary @- \
			"$router/v1/chat/completions"
}

# --- ready --------------------------------------------------------------------

type=$(prop "$unit" Type)
[ "$type" = notify ] && pass "Type=notify" || fail "Type=$type, expected notify"
systemd_debug
cursor=$(journal_cursor)
started=$(now)
systemctl restart "$unit" || abort "systemctl restart $unit failed"
# a notify unit's start returns at READY=1: the API answers at once
if http_get "$router/v1/models" >/dev/null; then
	pass "READY=1 means serving: /v1/models answered the moment systemctl restart returned ($(elapsed "$started")s)"
else
	fail "/v1/models did not answer right after systemctl restart returned"
fi
systemd-analyze log-level info
line=$(journal_since "$cursor" -u "$unit" -o cat | grep -m1 -F 'READY=1')
[ -n "$line" ] && pass "PID 1 got READY=1 ($(printf '%s' "$line" | sed 's/.*(\(.*\))$/\1/'))" ||
	fail "PID 1 logged no READY=1 from the router"

# --- a request through the router ----------------------------------------------

out=$(curl -fsS --max-time 60 "$fake/api/pull" -d "{\"model\": \"$model\", \"stream\": false}")
[ "$(printf '%s' "$out" | jq -r .status)" = success ] || abort "the fake did not pull $model: $out"
answer=$(chat local-slow false hello router)
content=$(printf '%s' "$answer" | jq -r '.choices[0].message.content' 2>/dev/null)
if [ "$content" = "echo: hello router" ]; then
	pass "a chat completion through the alias local-slow reached the fake: \"$content\""
else
	fail "the answer through the router is not the fake's: $answer"
fi
overhead=$(curl -sS -o /dev/null -D - --max-time 60 -H 'content-type: application/json' \
	-d "{\"model\": \"$model\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}" \
	"$router/v1/chat/completions" | tr -d '\r' | sed -n 's/^x-hwc-ai-overhead-ms: //Ip')
[ -n "$overhead" ] && info "the router's own added time for one request: ${overhead} ms" ||
	fail "no x-hwc-ai-overhead-ms header"
ids=$(http_get "$router/v1/models" | jq -c '[.data[].id]' 2>/dev/null)
if printf '%s' "$ids" | jq -e --arg m "$model" 'index("local-slow") != null and index($m) != null' >/dev/null; then
	pass "/v1/models lists the alias and the fake's model: $ids"
else
	fail "/v1/models lacks local-slow or $model: ${ids:-no list}"
fi
health=$(http_get "$router/health")
if printf '%s' "$health" | jq -e '.status == "ok" and .leavesHost == false' >/dev/null; then
	pass "/health: ok, nothing leaves the host"
else
	fail "/health: $health"
fi
count=$(http_get "$router/metrics" |
	awk '/^hwc_ai_router_requests_total\{route="local-slow",target="ollama\/qwen3:0.6b",status="200"\}/ { print $2 }')
[ "${count:-0}" -ge 1 ] && pass "/metrics counts it: requests_total{route=\"local-slow\",status=\"200\"} $count" ||
	fail "/metrics has no 200 for route local-slow"

if wait_for 60 target_is hwc-ai-router up; then
	pass "the prober sees the router up (/health and /metrics)"
else
	fail "the prober does not see the router up: $(target_state hwc-ai-router)"
fi

# --- egress: loopback only -------------------------------------------------------

# A non-loopback address of this VM (it has no network card), a server on
# it, and copies of the router's unit (same sandbox, same IP filter) running
# curl against it and against the fake on loopback.
outside=192.0.2.1
ip addr add "$outside/32" dev lo || abort "cannot add $outside to lo"
on_exit ip addr del "$outside/32" dev lo
# the programs by their real paths: a unit copy's sandbox may not see a
# link farm such as NixOS's /run/current-system/sw
python=$(readlink -f "$(command -v python3)") || abort "no python3"
curl=$(readlink -f "$(command -v curl)") || abort "no curl"
systemd-run --quiet --unit hwc-check-outside -p DynamicUser=yes \
	"$python" -m http.server 9441 --bind "$outside" --directory "$CHECK_DIR"
on_exit systemctl stop hwc-check-outside
wait_for 20 curl -fsS -o /dev/null --max-time 2 "http://$outside:9441/" ||
	abort "the server on $outside does not answer outside the sandbox"
# `sandbox_curl COPY URL`: a copy of the router's unit whose ExecStart is
# curl URL (both loaded by one daemon-reload: each takes seconds under
# emulation)
sandbox_curl() {
	unit_copy_file "$unit" "$1" "[Service]
Type=oneshot
Restart=no
ExecStart=
ExecStart=$curl -sS --connect-timeout 3 --max-time 5 -o /dev/null $2"
}
sandbox_curl hwc-check-router-loopback.service "$fake/api/version"
sandbox_curl hwc-check-router-egress.service "http://$outside:9441/"
systemctl daemon-reload
curl_in_sandbox() { systemctl start "$1"; }
if curl_in_sandbox hwc-check-router-loopback.service; then
	pass "the router's sandbox reaches the fake Ollama on loopback"
else
	fail "the router's sandbox cannot reach $fake: $(journalctl -q -b -u hwc-check-router-loopback -o cat | tail -n 2)"
fi
cursor=$(journal_cursor)
if curl_in_sandbox hwc-check-router-egress.service; then
	fail "the router's sandbox reached http://$outside:9441/ (IPAddressAllow=$(prop "$unit" IPAddressAllow))"
else
	code=$(prop hwc-check-router-egress.service ExecMainStatus)
	said=$(journal_since "$cursor" -u hwc-check-router-egress -o cat | grep -m1 'curl:')
	seen=$(journal_since "$cursor" -u hwc-check-outside -o cat | grep -c 'GET /')
	# curl's 7 (could not connect) or 28 (connect timeout): the IP filter
	# refuses or drops the connection; the server, which answers outside the
	# sandbox, must not have seen a request
	if { [ "$code" = 7 ] || [ "$code" = 28 ]; } && [ "$seen" = 0 ]; then
		pass "the router's sandbox cannot reach $outside, which answers outside it: $said"
	else
		fail "curl in the sandbox exited $code (expected 7 or 28), the server saw $seen requests: $said"
	fi
fi

# --- SIGTERM with a stream in flight ------------------------------------------------

limit=$(usec "$unit" TimeoutStopUSec)
transcript=/run/hwc-check-router-stream
words="one two three four five six seven eight nine ten eleven twelve"
rm -f "$transcript"
on_exit rm -f "$transcript"
# shellcheck disable=SC2086 # one word each
chat "$model" true $words >"$transcript" 2>&1 &
client=$!
streaming() { grep -q 'chat.completion.chunk' "$transcript"; }
wait_for 30 streaming || abort "no chunk arrived within 30s: $(cat "$transcript")"
pid=$(prop "$unit" MainPID)
systemd_debug
cursor=$(journal_cursor)
started=$(now)
systemctl stop "$unit"
took=$(elapsed "$started")
systemd-analyze log-level info
wait "$client"
rc=$?
log=$(journal_since "$cursor" -u "$unit" -o cat)

if [ "$rc" = 0 ] && tail -n 3 "$transcript" | grep -qx 'data: \[DONE\]' &&
	[ "$(grep -o '"content":"[^"]*"' "$transcript" | wc -l)" -ge 13 ]; then
	pass "the stream in flight at SIGTERM completed: $(grep -c '^data: ' "$transcript") events, ending in [DONE]"
else
	fail "the stream was cut (curl exit $rc): $(tail -c 300 "$transcript" | tr '\n' ' ')"
fi
line=$(printf '%s\n' "$log" | grep -m1 -F 'STOPPING=1')
[ -n "$line" ] && pass "sent STOPPING=1" || fail "PID 1 received no STOPPING=1"
line=$(printf '%s\n' "$log" | grep -m1 -E 'request id=.*status=200')
[ -n "$line" ] && pass "the drained request was answered and logged: ${line#*INFO }" ||
	fail "no request line with status=200 after the stop request"
result=$(prop "$unit" Result)
code=$(prop "$unit" ExecMainCode)
status=$(prop "$unit" ExecMainStatus)
state=$(prop "$unit" ActiveState)
if [ "$result/$code/$status/$state" = success/1/0/inactive ]; then
	pass "stopped cleanly: exited 0 by itself, unit inactive, not failed"
else
	fail "Result=$result ExecMainCode=$code ExecMainStatus=$status ActiveState=$state, expected success/1 (exited)/0/inactive"
fi
if printf '%s\n' "$log" | grep -q -E 'SIGKILL|timed out|Killing process|still running'; then
	fail "not a clean drain: $(printf '%s\n' "$log" | grep -m1 -E 'SIGKILL|timed out|Killing process|still running')"
fi
if awk -v t="$took" -v l="$limit" 'BEGIN { exit !(t * 1000000 < l) }'; then
	pass "the stop waited for the stream and took ${took}s (TimeoutStopSec=$((limit / 1000000))s)"
else
	fail "the stop took ${took}s, TimeoutStopSec=$((limit / 1000000))s"
fi
! kill -0 "$pid" 2>/dev/null || fail "PID $pid still alive"
[ "$FAILED" = 0 ] || excerpt "$cursor" -u "$unit" -p info
systemctl start "$unit"
