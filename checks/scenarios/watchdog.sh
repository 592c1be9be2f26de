# watchdog: a daemon that stops making progress (SIGSTOP) stops its
# WATCHDOG=1 pings; systemd declares the watchdog timeout, kills it and
# starts it again, and the new process serves /health. The prober reports a
# stuck puller's outage and recovery.

unit=hwc-ai-prober.service
limit=$(usec "$unit" WatchdogUSec)
[ "${limit:-0}" -gt 0 ] || abort "WatchdogSec is not set on $unit"
info "module: WatchdogSec=$((limit / 1000000))s, RestartSec=$(($(usec "$unit" RestartUSec) / 1000000))s"
peer=hwc-ai-puller.service
# WatchdogSec=3s from runtime drop-ins on the prober (where its own is
# longer) and on the puller, loaded by one daemon-reload and one restart
# (each takes seconds under emulation)
short=()
[ "$limit" -le 10000000 ] || short+=("$unit")
! has_daemon hwc-ai-puller || short+=("$peer")
if [ ${#short[@]} -gt 0 ]; then
	# registered first so it runs last, after the drop-ins are gone
	on_exit systemctl restart "${short[@]}"
	for name in "${short[@]}"; do
		dropin_file "$name" watchdog-short "[Service]
WatchdogSec=3s"
	done
	systemctl daemon-reload
	systemctl restart "${short[@]}"
fi
if [ "$limit" -gt 10000000 ]; then
	limit=3000000
	info "testing with WatchdogSec=3s from a runtime drop-in, to keep the run short"
fi

wait_for 10 is_running "$unit" || abort "$unit is not running"
restarts=$(prop "$unit" NRestarts)
pid=$(prop "$unit" MainPID)
cursor=$(journal_cursor)
kill -STOP "$pid"
stopped=$(now)
info "SIGSTOP sent to main PID $pid"

back() { [ "$(prop "$unit" MainPID)" != "$pid" ] && [ "$(prop "$unit" NRestarts)" -gt "$restarts" ] && is_running "$unit"; }
if wait_for $((limit / 1000000 * 3 + 60)) back; then
	pass "restarted: main PID $pid -> $(prop "$unit" MainPID), NRestarts $restarts -> $(prop "$unit" NRestarts), active/running $(elapsed "$stopped")s after SIGSTOP"
else
	kill -CONT "$pid" 2>/dev/null
	fail "not restarted: MainPID=$(prop "$unit" MainPID) NRestarts=$(prop "$unit" NRestarts) $(prop "$unit" ActiveState)/$(prop "$unit" SubState)"
fi

line=$(journal_since "$cursor" -u "$unit" -o cat | grep -m1 'Watchdog timeout')
[ -n "$line" ] && pass "journal: $line" || fail "no 'Watchdog timeout' in the journal"
if kill -0 "$pid" 2>/dev/null; then
	fail "the stopped process $pid is still alive"
else
	pass "the stopped process is gone ($(journal_since "$cursor" -u "$unit" -o cat | grep -m1 'Main process exited'))"
fi
http_answers "$PROBER/health" && pass "the new process serves /health" ||
	fail "the new process does not serve /health"
[ "$FAILED" = 0 ] || excerpt "$cursor" -u "$unit"

# The prober watches the other daemons: a stuck puller is reported DOWN
# (its /health stops answering) and UP again once systemd has restarted it.
if has_daemon hwc-ai-puller; then
	wait_for 10 is_running "$peer" || abort "$peer is not running"
	wait_for 15 target_is hwc-ai-puller up || abort "the prober does not see hwc-ai-puller up: $(target_state hwc-ai-puller)"
	cursor=$(journal_cursor)
	peer_pid=$(prop "$peer" MainPID)
	peer_restarts=$(prop "$peer" NRestarts)
	kill -STOP "$peer_pid"
	stopped=$(now)
	info "SIGSTOP sent to $peer's main PID $peer_pid"
	reason() { http_get "$PROBER/health" | jq -r '.targets[] | select(.name == "hwc-ai-puller") | .lastError'; }
	if wait_for 15 target_is hwc-ai-puller down; then
		pass "the prober reported hwc-ai-puller DOWN $(elapsed "$stopped")s after SIGSTOP: $(reason)"
	else
		fail "the prober still says $(target_state hwc-ai-puller) 15s after the puller stopped"
	fi
	peer_back() { [ "$(prop "$peer" MainPID)" != "$peer_pid" ] && [ "$(prop "$peer" NRestarts)" -gt "$peer_restarts" ] && is_running "$peer"; }
	if wait_for 30 peer_back && wait_for 15 target_is hwc-ai-puller up; then
		pass "systemd restarted the puller and the prober reported it UP again $(elapsed "$stopped")s after SIGSTOP"
	else
		kill -CONT "$peer_pid" 2>/dev/null
		fail "the puller is not back up: NRestarts=$(prop "$peer" NRestarts), prober says $(target_state hwc-ai-puller)"
	fi
	logged=$(journal_since "$cursor" -u hwc-ai-prober -o cat | grep -F 'hwc-ai-puller (hwc-ai) is')
	if printf '%s\n' "$logged" | grep -q 'is DOWN' && printf '%s\n' "$logged" | grep -q 'is UP again'; then
		pass "prober logged: $(printf '%s\n' "$logged" | grep 'is DOWN' | tail -n 1)"
		pass "prober logged: $(printf '%s\n' "$logged" | grep 'is UP again' | tail -n 1)"
	else
		fail "the prober's journal lacks the DOWN and UP-again lines: ${logged:-nothing}"
	fi
fi
