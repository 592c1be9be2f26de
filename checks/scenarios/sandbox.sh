# sandbox: `systemd-analyze security` scores every daemon's unit at 1.5 or
# lower, the hardening is in force on the running process, and the daemon
# still does its job under it (the prober probes its loopback targets, the
# puller measures Ollama's models directory). On systemd 254 and later,
# which knows every directive the units use, none may be unknown; an older
# one ignores those it does not know, and they are listed.

threshold=1.5
for daemon in $DAEMONS; do
	unit=$daemon.service
	report=$(systemd-analyze security --no-pager "$unit" 2>&1)
	score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		fail "$daemon: systemd-analyze security gave no score"
		printf '%s\n' "$report" | tail -n 20 | while IFS= read -r l; do say LOG "$l"; done
	elif awk -v s="$score" -v t="$threshold" 'BEGIN { exit !(s <= t) }'; then
		pass "$daemon: exposure $score (threshold $threshold)"
	else
		fail "$daemon: exposure $score, above $threshold"
		printf '%s\n' "$report" | grep '✗' | while IFS= read -r l; do say LOG "$l"; done
	fi

	# directives this systemd does not know are ignored with a warning
	# (by systemd-analyze verify, and by PID 1 when it loads the unit);
	# name them, they are what the score cannot see
	fragment=$(prop "$unit" FragmentPath)
	unknown=$({
		systemd-analyze verify "$fragment" 2>&1 | grep -F "/$unit:" | grep -i 'unknown'
		journalctl -q -b -o cat --no-pager | grep -F "/$unit:" | grep -i 'unknown key'
	} | sed "s|^.*/$unit:||" | sort -u)
	if [ -z "$unknown" ]; then
		pass "$daemon: systemd $(systemd_version) knows every directive of the unit"
	elif [ "$(systemd_version)" -ge 254 ]; then
		printf '%s\n' "$unknown" | while IFS= read -r l; do fail "$daemon: systemd $(systemd_version) does not know: $l"; done
		FAILED=1
	else
		printf '%s\n' "$unknown" | while IFS= read -r l; do info "$daemon: systemd $(systemd_version) ignores: $l"; done
	fi

	pid=$(prop "$unit" MainPID)
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
	user=$(ps -o user= -p "$pid")
	[ "$uid" != 0 ] && pass "$daemon: runs as $user (uid $uid), not root" || fail "$daemon: runs as root"
	nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$pid/status")
	seccomp=$(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")
	caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
	if [ "$nnp" = 1 ] && [ "$seccomp" = 2 ] && [ "$caps" = 0000000000000000 ]; then
		pass "$daemon: NoNewPrivs=1, seccomp filter on, no effective capabilities"
	else
		fail "$daemon: NoNewPrivs=$nnp Seccomp=$seccomp CapEff=$caps, expected 1, 2, 0"
	fi
	if grep -q ' / / ro' "/proc/$pid/mountinfo"; then
		pass "$daemon: / is read-only in its mount namespace"
	else
		fail "$daemon: / is not read-only in its mount namespace"
	fi
done

# the prober still works under its sandbox
targets=$(jq -r '.targets[].name' "$(config_of hwc-ai-prober)")
all_up() {
	local t
	for t in $targets; do target_is "$t" up || return 1; done
}
if wait_for 60 all_up; then
	pass "hwc-ai-prober probes its loopback targets under the sandbox: $(echo $targets | sed 's/ /, /g') up"
else
	fail "not every target is up: $(http_get "$PROBER/health" | jq -c '[.targets[] | {name, state, lastError}]')"
fi

# the puller measures Ollama's models directory (statvfs through its
# read-only bind mount) under its sandbox
if has_daemon hwc-ai-puller; then
	disk() { http_get "$(listen_of hwc-ai-puller)/models" | jq -c .disk; }
	measured() { http_get "$(listen_of hwc-ai-puller)/models" | jq -e '.disk.freeBytes > 0'; }
	if wait_for 60 measured; then
		pass "hwc-ai-puller measures the models directory under the sandbox: $(disk)"
	else
		fail "hwc-ai-puller cannot measure the models directory: $(disk)"
	fi
fi
