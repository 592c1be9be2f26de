# sigterm: `systemctl stop` sends SIGTERM; each daemon announces STOPPING=1,
# drains, and exits 0 by itself well within TimeoutStopSec: no SIGKILL, no
# death by signal.

for daemon in $DAEMONS; do
	unit=$daemon.service
	on_exit systemctl start "$unit"
	wait_for 10 is_running "$unit" || abort "$unit is not running"
	limit=$(usec "$unit" TimeoutStopUSec)
	pid=$(prop "$unit" MainPID)
	systemd_debug
	cursor=$(journal_cursor)
	started=$(now)
	systemctl stop "$unit"
	took=$(elapsed "$started")
	systemd-analyze log-level info
	log=$(journal_since "$cursor" -u "$unit" -o cat)

	line=$(printf '%s\n' "$log" | grep -m1 -F 'STOPPING=1')
	[ -n "$line" ] && pass "$daemon: sent STOPPING=1 ($(printf '%s' "$line" | sed 's/.*(\(.*\))$/\1/'))" ||
		fail "$daemon: PID 1 received no STOPPING=1"
	line=$(printf '%s\n' "$log" | grep -m1 -F 'SIGTERM received')
	[ -n "$line" ] && pass "$daemon: logged the drain: $line" ||
		fail "$daemon: no log line about SIGTERM (\"SIGTERM received\")"

	result=$(prop "$unit" Result)
	code=$(prop "$unit" ExecMainCode)
	status=$(prop "$unit" ExecMainStatus)
	# ExecMainCode 1 is CLD_EXITED: it returned from main, not killed by a signal
	if [ "$result" = success ] && [ "$code" = 1 ] && [ "$status" = 0 ]; then
		pass "$daemon: exited 0 by itself (Result=success)"
	else
		fail "$daemon: Result=$result ExecMainCode=$code ExecMainStatus=$status, expected success/1 (exited)/0"
	fi
	if printf '%s\n' "$log" | grep -q -E 'SIGKILL|timed out|Killing process'; then
		fail "$daemon: systemd had to kill it: $(printf '%s\n' "$log" | grep -m1 -E 'SIGKILL|timed out|Killing process')"
	fi
	if awk -v t="$took" -v l="$limit" 'BEGIN { exit !(t * 1000000 < l) }'; then
		pass "$daemon: stopped in ${took}s (TimeoutStopSec=$((limit / 1000000))s)"
	else
		fail "$daemon: stop took ${took}s, TimeoutStopSec=$((limit / 1000000))s"
	fi
	! kill -0 "$pid" 2>/dev/null || fail "$daemon: PID $pid still alive"
	[ "$FAILED" = 0 ] || excerpt "$cursor" -u "$unit" -p info
	if systemctl start "$unit" && wait_for 10 is_running "$unit"; then
		pass "$daemon: starts again"
	else
		fail "$daemon: does not start again: $(prop "$unit" ActiveState)/$(prop "$unit" SubState)"
	fi
done
