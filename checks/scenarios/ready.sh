# ready: every daemon is Type=notify and becomes active only once it has
# sent READY=1, by which time it already serves /health; its STATUS= line
# is set.

for daemon in $DAEMONS; do
	unit=$daemon.service
	type=$(prop "$unit" Type)
	[ "$type" = notify ] && pass "$daemon: Type=notify" || fail "$daemon: Type=$type, expected notify"

	# as booted
	state=$(prop "$unit" ActiveState)/$(prop "$unit" SubState)
	if [ "$state" = active/running ]; then
		pass "$daemon: active/running after boot, NRestarts=$(prop "$unit" NRestarts)"
	else
		fail "$daemon: $state after boot, expected active/running"
	fi
	status=$(prop "$unit" StatusText)
	[ -n "$status" ] && pass "$daemon: StatusText=\"$status\"" || fail "$daemon: StatusText is empty"

	# a fresh start, with PID 1 logging each notification it receives
	systemctl stop "$unit"
	systemd_debug
	cursor=$(journal_cursor)
	started=$(now)
	if ! systemctl start "$unit"; then
		fail "$daemon: systemctl start failed"
		excerpt "$cursor" -u "$unit"
		continue
	fi
	took=$(elapsed "$started")
	# `systemctl start` of a notify unit returns at READY=1: the listener
	# must already answer, without a retry
	if http_answers "$(listen_of "$daemon")/health"; then
		pass "$daemon: serves /health the moment systemctl start returns (${took}s)"
	else
		fail "$daemon: /health did not answer right after systemctl start returned"
	fi
	systemd-analyze log-level info

	log=$(journal_since "$cursor" -u "$unit" -o cat)
	at() { printf '%s\n' "$log" | grep -n -m1 -F -- "$1" | cut -d: -f1; }
	activating=$(at 'Changed dead -> start')
	ready=$(at 'READY=1')
	running=$(at 'Changed start -> running')
	if [ -n "$activating" ] && [ -n "$ready" ] && [ -n "$running" ] &&
		[ "$activating" -lt "$ready" ] && [ "$ready" -lt "$running" ]; then
		pass "$daemon: start -> READY=1 -> running, in that order ($(printf '%s\n' "$log" | grep -m1 -F 'READY=1' | sed 's/.*(\(.*\))$/\1/'))"
	else
		fail "$daemon: no start -> READY=1 -> running sequence in PID 1's log (lines: start=${activating:-none} READY=${ready:-none} running=${running:-none})"
		excerpt "$cursor" -u "$unit"
	fi
	restarts=$(prop "$unit" NRestarts)
	[ "$restarts" = 0 ] || fail "$daemon: NRestarts=$restarts after a clean start"
done
