# watchdog: a daemon that stops making progress (SIGSTOP) stops its
# WATCHDOG=1 pings; systemd declares the watchdog timeout, kills it and
# starts it again.

unit=hwc-ai-prober.service
limit=$(usec "$unit" WatchdogUSec)
[ "${limit:-0}" -gt 0 ] || abort "WatchdogSec is not set on $unit"
info "module: WatchdogSec=$((limit / 1000000))s, RestartSec=$(($(usec "$unit" RestartUSec) / 1000000))s"
if [ "$limit" -gt 10000000 ]; then
	# registered first so it runs last, after the drop-in is gone
	on_exit systemctl restart "$unit"
	dropin "$unit" watchdog-short "[Service]
WatchdogSec=3s"
	systemctl restart "$unit"
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
