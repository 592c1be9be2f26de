# stack: the daemons work together, and with the fake Ollama (its own unit,
# on Ollama's port). The prober sees the fake and the other daemons up,
# reports the fake down once it stops and up once it is back; the puller
# makes its declared models ready in the fake, and again after the fake
# comes back empty (it keeps its models in memory).

fake=hwc-check-ollama-fake.service
health() { http_get "$PROBER/health" | jq -c --arg n "$1" '.targets[] | select(.name == $n) | {state, lastError, models}'; }
puller=
[ -z "${PULLER_CONFIG:-}" ] || puller=$(listen_of hwc-ai-puller)
puller_ready() { http_get "$puller/health" | jq -e '.status == "ok" and (.models | length > 0) and all(.models[]; .state == "ready")'; }
puller_models() { http_get "$puller/health" | jq -c '[.models[] | {name, state}]'; }

if wait_for 20 target_is ollama up; then
	pass "prober sees the fake Ollama up: $(health ollama)"
else
	abort "target ollama is not up: $(health ollama)"
fi
for daemon in $DAEMONS; do
	[ "$daemon" != hwc-ai-prober ] || continue
	if wait_for 30 target_is "$daemon" up; then
		pass "prober sees $daemon up"
	else
		fail "prober sees $daemon $(target_state "$daemon"): $(health "$daemon")"
	fi
done
if [ -n "$puller" ]; then
	started=$(now)
	if wait_for 90 puller_ready; then
		pass "hwc-ai-puller has its models ready in the fake Ollama: $(puller_models)"
	else
		fail "hwc-ai-puller's models are not ready after 90s: $(http_body "$puller/health")"
	fi
fi

cursor=$(journal_cursor)
systemctl stop "$fake"
stopped=$(now)
if wait_for 20 target_is ollama down; then
	pass "reported down $(elapsed "$stopped")s after the fake stopped: $(health ollama)"
else
	fail "still $(target_state ollama) 20s after the fake stopped"
fi

systemctl start "$fake"
started=$(now)
if wait_for 20 target_is ollama up; then
	pass "reported up again $(elapsed "$started")s after the fake restarted"
else
	fail "still $(target_state ollama) 20s after the fake restarted"
fi
if [ -n "$puller" ]; then
	# The fake comes back empty: the puller must pull again, not just keep
	# reporting what it had (its config rechecks Ollama every 2 s).
	fake_has_model() { http_get "http://127.0.0.1:11434/api/tags" | jq -e '[.models[].name] | index("tinyllama:latest")'; }
	if wait_for 90 fake_has_model && wait_for 30 puller_ready; then
		pass "hwc-ai-puller pulled its models into the fake again $(elapsed "$started")s after it came back empty"
	else
		fail "the fake holds no tinyllama, or the puller is not ready, 90s after the fake came back: $(http_body "$puller/health")"
	fi
fi

lines=$(journal_since "$cursor" -u hwc-ai-prober -o cat | grep -F ollama)
if [ -n "$lines" ]; then
	printf '%s\n' "$lines" | head -n 4 | while IFS= read -r l; do info "prober logged: $l"; done
else
	fail "the prober logged neither transition"
fi
