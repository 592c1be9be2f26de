# credentials: the prober reads a bearer token through LoadCredential= (the
# dummy target answers 401 without it, so "up" proves it was read), and the
# value shows up nowhere else: not in the daemon's environment or command
# line, not in the journal, not in /metrics or /health.

unit=hwc-ai-prober.service
name=bearer-target-token
token=$(cat "$VM_CONFIG_DIR/credentials/$name")
[ -n "$token" ] || abort "no test token in $VM_CONFIG_DIR/credentials/$name"

# systemctl show cannot print LoadCredential in 252; read the unit itself
load=$(systemctl cat "$unit" | grep -m1 "^LoadCredential=$name:")
[ -n "$load" ] && pass "unit loads the credential: $load" ||
	fail "the unit has no LoadCredential=$name:..."

if wait_for 20 target_is bearer-target up; then
	pass "the daemon read it: target bearer-target is up (401 without the token)"
else
	fail "target bearer-target is $(target_state bearer-target): $(http_get "$PROBER/health" | jq -c '.targets[] | select(.name == "bearer-target")')"
fi
log=$(journalctl -q -b -u hwc-check-bearer-target -o cat)
if printf '%s\n' "$log" | grep -q '^authorized'; then
	pass "the target logged an authorized probe, and $(printf '%s\n' "$log" | grep -c '^unauthorized') refused ones"
else
	fail "the target saw no authorized request"
fi

pid=$(prop "$unit" MainPID)
dir=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^CREDENTIALS_DIRECTORY=//p')
[ -n "$dir" ] && pass "daemon has CREDENTIALS_DIRECTORY=$dir" || fail "daemon has no CREDENTIALS_DIRECTORY"

leak() {
	if grep -a -q -F -- "$token"; then
		fail "the token is in $1"
	else
		pass "the token is not in $1"
	fi
}
leak "/proc/$pid/environ" <"/proc/$pid/environ"
leak "/proc/$pid/cmdline" <"/proc/$pid/cmdline"
cat /proc/"$pid"/task/*/environ | leak "any thread's environ"
# every field of every entry, not just MESSAGE
journalctl -q -b -o verbose --no-pager | leak "the journal"
http_get "$PROBER/metrics" | leak "/metrics"
http_get "$PROBER/health" | leak "/health"
systemctl show "$unit" | leak "the unit's properties"
