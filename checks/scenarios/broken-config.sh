# broken-config: a daemon given a config with a bad field fails at start,
# fast, with the config exit status (78, EX_CONFIG) and the field's path in
# the journal, and its unit is failed; the daemon's own unit is not
# disturbed. For each broken config in $BROKEN_CONFIG_DIR whose daemon has a
# unit here (<daemon>.json, and <daemon>.field naming the bad field): a
# runtime copy of the daemon's unit, with the broken config bind-mounted
# over the real one. (On NixOS the module checks every config it renders at
# build time, so a broken one cannot come through `hwc.ai.*`; the copy runs
# it unchecked.)

declare -A restarts_before
for daemon in $DAEMONS; do
	restarts_before[$daemon]=$(prop "$daemon.service" NRestarts)
done

# the copies, loaded by one daemon-reload (each takes seconds under emulation)
tried=()
for broken in "$BROKEN_CONFIG_DIR"/*.json; do
	daemon=$(basename "$broken" .json)
	if ! is_loaded "$daemon.service"; then
		info "$daemon: no unit here, its broken config is not tried"
		continue
	fi
	tried+=("$daemon")
	# Restart=no: this scenario is about the first start; backoff covers retries
	unit_copy_file "$daemon.service" "hwc-check-broken-${daemon#hwc-ai-}.service" "[Service]
BindReadOnlyPaths=$broken:$(config_of "$daemon")
Restart=no
# its own (no) state and cache directories: a second DynamicUser on the
# real unit's StateDirectory or CacheDirectory would take it over
StateDirectory=
CacheDirectory="
done
[ ${#tried[@]} = 0 ] || systemctl daemon-reload

for daemon in "${tried[@]}"; do
	field=$(cat "$BROKEN_CONFIG_DIR/$daemon.field")
	unit=hwc-check-broken-${daemon#hwc-ai-}.service
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
	result=$(prop "$unit" Result)
	status=$(prop "$unit" ExecMainStatus)
	# 78, EX_CONFIG: a config error, as opposed to a crash
	if [ "$result" = exit-code ] && [ "$status" = 78 ]; then
		pass "$daemon: exited with the config exit status (Result=exit-code, 78)"
	else
		fail "$daemon: Result=$result ExecMainStatus=$status, expected exit-code and 78 (EX_CONFIG)"
	fi
	systemctl reset-failed "$unit"
done

# the module's own units went on as they were
for daemon in $DAEMONS; do
	restarts=$(prop "$daemon.service" NRestarts)
	if is_running "$daemon.service" && [ "$restarts" = "${restarts_before[$daemon]}" ]; then
		pass "$daemon: its own unit was not disturbed (active/running, NRestarts=$restarts)"
	else
		fail "$daemon: its own unit was disturbed: $(prop "$daemon.service" ActiveState)/$(prop "$daemon.service" SubState), NRestarts ${restarts_before[$daemon]} -> $restarts"
	fi
done
