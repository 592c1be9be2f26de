# stack: the daemons work together, and with the fake Ollama (its own unit,
# on Ollama's port). The prober sees the fake and the other daemons up,
# reports the fake down once it stops and up once it is back; the puller
# makes its declared models ready in the fake, and again after the fake
# comes back empty (it keeps its models in memory), and the prober logs
# both transitions. $OLLAMA_UNIT is the fake's unit.

fake=$OLLAMA_UNIT.service
health() { http_get "$PROBER/health" | jq -c --arg n "$1" '.targets[] | select(.name == $n) | {state, lastError, models}'; }
puller=
! has_daemon hwc-ai-puller || puller=$(listen_of hwc-ai-puller)
puller_ready() { http_get "$puller/health" | jq -e '.status == "ok" and (.models | length > 0) and all(.models[]; .state == "ready")'; }
puller_models() { http_get "$puller/health" | jq -c '[.models[] | {name, state}]'; }

if wait_for 60 target_is ollama up; then
	pass "prober sees the fake Ollama up: $(health ollama)"
else
	abort "target ollama is not up: $(health ollama)"
fi
for daemon in $DAEMONS; do
	[ "$daemon" != hwc-ai-prober ] || continue
	if wait_for 60 target_is "$daemon" up; then
		pass "prober sees $daemon up"
	else
		fail "prober sees $daemon $(target_state "$daemon"): $(health "$daemon")"
	fi
done
if [ -n "$puller" ]; then
	started=$(now)
	if wait_for 120 puller_ready; then
		pass "hwc-ai-puller has its models ready in the fake Ollama: $(puller_models)"
	else
		fail "hwc-ai-puller's models are not ready after 120s: $(http_body "$puller/health")"
	fi
fi

cursor=$(journal_cursor)
systemctl stop "$fake"
stopped=$(now)
if wait_for 30 target_is ollama down; then
	pass "reported down $(elapsed "$stopped")s after the fake stopped: $(health ollama)"
else
	fail "still $(target_state ollama) 30s after the fake stopped"
fi

systemctl start "$fake"
started=$(now)
if wait_for 30 target_is ollama up; then
	pass "reported up again $(elapsed "$started")s after the fake restarted"
else
	fail "still $(target_state ollama) 30s after the fake restarted"
fi
if [ -n "$puller" ]; then
	# The fake comes back empty: the puller must pull again, not just keep
	# reporting what it had (its config rechecks Ollama every 2 s); in the
	# fake itself, not only in the puller's report.
	fake_has_model() { http_get "http://127.0.0.1:11434/api/tags" | jq -e '[.models[].name] | index("tinyllama:latest")'; }
	if wait_for 120 fake_has_model && wait_for 120 puller_ready; then
		pass "hwc-ai-puller pulled its models into the fake again $(elapsed "$started")s after it came back empty"
	else
		fail "the fake holds no tinyllama, or the puller is not ready, after the fake came back: $(http_body "$puller/health")"
	fi
	pulled=$(journal_since "$cursor" -u hwc-ai-puller -o cat | grep -m1 -F 'pulled tinyllama')
	[ -n "$pulled" ] && pass "the puller logged it: $pulled" || fail "the puller logged no 'pulled tinyllama' after the fake came back"
fi

lines=$(journal_since "$cursor" -u hwc-ai-prober -o cat | grep -F ollama)
printf '%s\n' "$lines" | head -n 4 | while IFS= read -r l; do [ -z "$l" ] || info "prober logged: $l"; done
if printf '%s\n' "$lines" | grep -q -F 'ollama (ollama) is DOWN' &&
	printf '%s\n' "$lines" | grep -q -F 'ollama (ollama) is UP again'; then
	pass "the prober logged both transitions"
else
	fail "the prober did not log both transitions (DOWN, UP again): ${lines:-nothing}"
fi
