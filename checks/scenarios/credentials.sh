# credentials: the prober reads a bearer token through LoadCredential= (the
# dummy target answers 401 without it, so "up" proves it was read), and the
# value shows up nowhere else: not in the daemon's environment or command
# line, not in the journal, not in /metrics or /health, not in the unit's
# properties or the config document.

unit=hwc-ai-prober.service
name=bearer-target-token
file=$CREDENTIAL_DIR/$name
token=$(cat "$file")
[ -n "$token" ] || abort "no test token in $file"

# systemctl show cannot print LoadCredential in 252; read the unit itself
if systemctl cat "$unit" | grep -q -x -F "LoadCredential=$name:$file"; then
	pass "unit loads the credential: LoadCredential=$name:$file"
else
	fail "the unit has no LoadCredential=$name:$file: $(systemctl cat "$unit" | grep '^LoadCredential=' | tr '\n' ' ')"
fi
# the file on the host is root's alone
owner=$(stat -L -c '%U %a' "$file")
case $owner in
"root 400" | "root 600") pass "$file is root's alone ($owner)" ;;
*) fail "$file is not root's alone: $owner" ;;
esac

if wait_for 60 target_is bearer-target up; then
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
if [ -n "$dir" ]; then
	pass "daemon has CREDENTIALS_DIRECTORY=$dir"
	# read where the daemon reads it, in its own mount namespace: the value
	# the checks below look for is the one it holds
	if nsenter -t "$pid" -m cat "$dir/$name" | grep -q -F -- "$token"; then
		pass "the daemon's credential is the token"
	else
		fail "the daemon's credential ($dir/$name in its mount namespace) is not the token"
	fi
else
	fail "daemon has no CREDENTIALS_DIRECTORY"
fi

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
document=$(config_of hwc-ai-prober)
leak "the config document" <"$document"
# the document names the credential instead
if tr -d ' \n\t' <"$document" | grep -q -F '"credential":"bearer-target-token"'; then
	pass "the config document names the credential"
else
	fail "the config document does not name the credential bearer-target-token"
fi
