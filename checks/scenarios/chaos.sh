# chaos: SIGKILL in the middle of a stream. Ollama (the fake, on Ollama's
# port) killed while the router relays its stream: the client gets an
# error event instead of [DONE], the router logs the request as a
# stream_error, stays up (same process, no restart) and answers again once
# Ollama is back. The router itself killed mid-stream: the client's stream
# is cut, systemd restarts the router, and the next request is answered.
#
# The fake streams qwen3:0.6b's tokens 300 ms apart and echoes the prompt
# (guest/ollama-fake-scenario.json): twenty words give a stream of about
# six seconds, which is in flight when the kill comes.

has_daemon hwc-ai-router || abort "the router is not among the daemons checked ($DAEMONS)"
fake_unit=$OLLAMA_UNIT.service
is_loaded "$fake_unit" || abort "no $fake_unit"
unit=hwc-ai-router.service
router=$(listen_of hwc-ai-router)
fake=http://127.0.0.1:11434
model=qwen3:0.6b
words=$(seq 20 | sed 's/^/word/' | tr '\n' ' ')
transcript=/run/hwc-check-chaos-stream
on_exit rm -f "$transcript"

pull() { curl -fsS --max-time 60 "$fake/api/pull" -d "{\"model\": \"$model\", \"stream\": false}" | jq -e '.status == "success"'; }
# `stream`: a streamed chat through the router into $transcript, in the
# background ($client)
stream() {
	rm -f "$transcript"
	jq -cn --arg m "$model" --arg c "$words" '{model: $m, stream: true, messages: [{role: "user", content: $c}]}' |
		curl -sS -N --max-time 60 -H 'content-type: application/json' --data-binary @- \
			"$router/v1/chat/completions" >"$transcript" 2>&1 &
	client=$!
	streaming() { [ "$(grep -c 'chat.completion.chunk' "$transcript")" -ge 2 ]; }
	wait_for 30 streaming || abort "no chunks arrived within 30s: $(cat "$transcript")"
}
answers() {
	jq -cn --arg m "$model" '{model: $m, messages: [{role: "user", content: "hello again"}]}' |
		curl -fsS --max-time 10 -H 'content-type: application/json' --data-binary @- \
			"$router/v1/chat/completions" | jq -e '.choices[0].message.content' >/dev/null
}

wait_for 30 pull || abort "the fake did not pull $model"

# --- Ollama killed mid-stream -------------------------------------------------
pid=$(prop "$unit" MainPID)
restarts=$(prop "$unit" NRestarts)
stream
cursor=$(journal_cursor)
systemctl kill -s KILL "$fake_unit"
wait "$client"
rc=$?
if grep -q '"error"' "$transcript" && ! grep -q '\[DONE\]' "$transcript"; then
	pass "Ollama killed mid-stream: the client got $(grep -c 'chat.completion.chunk' "$transcript") chunks, then an error event and no [DONE]: $(grep -o '"message":"[^"]*"' "$transcript" | tail -n 1)"
else
	fail "Ollama killed mid-stream: no error event, or a [DONE] (curl exit $rc): $(tail -c 300 "$transcript" | tr '\n' ' ')"
fi
if [ "$(prop "$unit" MainPID)" = "$pid" ] && [ "$(prop "$unit" NRestarts)" = "$restarts" ] && is_running "$unit" &&
	http_answers "$router/health"; then
	pass "the router stayed up: the same process ($pid), no restart, /health answers"
else
	fail "the router did not stay up: MainPID $pid -> $(prop "$unit" MainPID), NRestarts $restarts -> $(prop "$unit" NRestarts)"
fi
line=$(journal_since "$cursor" -u "$unit" -o cat | grep -m1 -E 'request id=.*status=stream_error')
[ -n "$line" ] && pass "the router logged it: ${line#*INFO }" || fail "no request line with status=stream_error"
systemctl start "$fake_unit"
wait_for 30 pull || abort "the fake did not pull $model after its restart"
# the router's circuit for the backend may be open for its cool-down
if wait_for 60 answers; then
	pass "Ollama back: the router answers again"
else
	fail "Ollama back, but the router does not answer a chat"
	excerpt "$cursor" -u "$unit"
fi

# --- the router killed mid-stream -------------------------------------------------
pid=$(prop "$unit" MainPID)
restarts=$(prop "$unit" NRestarts)
stream
cursor=$(journal_cursor)
killed=$(now)
systemctl kill -s KILL "$unit"
wait "$client"
rc=$?
if [ "$rc" != 0 ] && ! grep -q '\[DONE\]' "$transcript"; then
	pass "the router killed mid-stream: the client's stream was cut (curl exit $rc) after $(grep -c 'chat.completion.chunk' "$transcript") chunks"
else
	fail "the router killed mid-stream, yet curl exited $rc: $(tail -c 300 "$transcript" | tr '\n' ' ')"
fi
back() { [ "$(prop "$unit" MainPID)" != "$pid" ] && [ "$(prop "$unit" NRestarts)" -gt "$restarts" ] && is_running "$unit"; }
if wait_for 30 back && wait_for 30 answers; then
	pass "systemd restarted it (NRestarts $restarts -> $(prop "$unit" NRestarts)) and it answered $(elapsed "$killed")s after the kill"
else
	fail "the router is not back: $(prop "$unit" ActiveState)/$(prop "$unit" SubState), NRestarts=$(prop "$unit" NRestarts)"
fi
line=$(journal_since "$cursor" -u "$unit" -o cat | grep -m1 'status=9/KILL')
[ -n "$line" ] && pass "journal: $line" || fail "no 'status=9/KILL' in the router's journal"
[ "$FAILED" = 0 ] || excerpt "$cursor" -u "$unit"
