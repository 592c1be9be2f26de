# broken-config: a daemon given a config with a bad field fails at start,
# fast, with the field's path in the journal. A runtime copy of the rendered
# unit, with the broken config bind-mounted over the real one.

unit=hwc-check-broken-prober.service
broken=$VM_CHECK_DIR/config/broken/hwc-ai-prober.json
unit_copy hwc-ai-prober.service "$unit"
# Restart=no: this scenario is about the first start; backoff covers retries
dropin "$unit" broken "[Service]
BindReadOnlyPaths=$broken:$PROBER_CONFIG
Restart=no"

cursor=$(journal_cursor)
started=$(now)
if systemctl start "$unit" 2>/dev/null; then
	fail "systemctl start succeeded with a broken config"
else
	took=$(elapsed "$started")
	pass "systemctl start fails (Result=$(prop "$unit" Result), exit status $(prop "$unit" ExecMainStatus))"
	if awk -v t="$took" 'BEGIN { exit !(t < 10) }'; then
		pass "failed fast: ${took}s"
	else
		fail "took ${took}s to fail, expected under 10s"
	fi
fi

line=$(journal_since "$cursor" -u "$unit" -o cat | grep -m1 -F 'targets[0].url')
if [ -n "$line" ]; then
	pass "journal names the field: $line"
else
	fail "no journal line names targets[0].url"
	excerpt "$cursor" -u "$unit"
fi
state=$(prop "$unit" ActiveState)
[ "$state" = failed ] && pass "unit is failed" || fail "unit is $state, expected failed"
