# stack: the daemons see each other. The prober sees the fake Ollama (its
# own unit, on Ollama's port) up, reports it down once it stops, and up
# again once it is back.

fake=hwc-check-ollama-fake.service
health() { http_get "$PROBER/health" | jq -c --arg n "$1" '.targets[] | select(.name == $n) | {state, lastError, models}'; }

if wait_for 20 target_is ollama up; then
	pass "prober sees the fake Ollama up: $(health ollama)"
else
	abort "target ollama is not up: $(health ollama)"
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

lines=$(journal_since "$cursor" -u hwc-ai-prober -o cat | grep -F ollama)
if [ -n "$lines" ]; then
	printf '%s\n' "$lines" | head -n 4 | while IFS= read -r l; do info "prober logged: $l"; done
else
	fail "the prober logged neither transition"
fi
