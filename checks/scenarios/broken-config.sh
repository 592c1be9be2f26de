# broken-config: a daemon given a config with a bad field fails at start,
# fast, with the field's path in the journal. For each broken config in
# config/broken/ (<daemon>.json, and <daemon>.field naming the bad field):
# a runtime copy of the daemon's rendered unit, with the broken config
# bind-mounted over the real one.

for broken in "$VM_CHECK_DIR"/config/broken/*.json; do
	daemon=$(basename "$broken" .json)
	field=$(cat "${broken%.json}.field")
	unit=hwc-check-broken-${daemon#hwc-ai-}.service
	# Restart=no: this scenario is about the first start; backoff covers retries
	unit_copy "$daemon.service" "$unit" "[Service]
BindReadOnlyPaths=$broken:$(config_of "$daemon")
Restart=no
# its own (no) state and cache directories: a second DynamicUser on the
# real unit's StateDirectory or CacheDirectory would take it over
StateDirectory=
CacheDirectory="

	cursor=$(journal_cursor)
	started=$(now)
	if systemctl start "$unit" 2>/dev/null; then
		fail "$daemon: systemctl start succeeded with a broken config"
	else
		took=$(elapsed "$started")
		pass "$daemon: systemctl start fails (Result=$(prop "$unit" Result), exit status $(prop "$unit" ExecMainStatus))"
		if awk -v t="$took" 'BEGIN { exit !(t < 10) }'; then
			pass "$daemon: failed fast: ${took}s"
		else
			fail "$daemon: took ${took}s to fail, expected under 10s"
		fi
	fi

	line=$(journal_since "$cursor" -u "$unit" -o cat | grep -m1 -F -- "$field")
	if [ -n "$line" ]; then
		pass "$daemon: journal names the field: $line"
	else
		fail "$daemon: no journal line names $field"
		excerpt "$cursor" -u "$unit"
	fi
	state=$(prop "$unit" ActiveState)
	[ "$state" = failed ] && pass "$daemon: unit is failed" || fail "$daemon: unit is $state, expected failed"
done
