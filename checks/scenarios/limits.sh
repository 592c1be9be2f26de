# limits: every daemon's unit carries its resource limits (MemoryMax=,
# TasksMax=, LimitNOFILE=, modules/lib/daemons.nix), the kernel holds the
# running process to them (its cgroup's memory.max and pids.max, its own
# open-files limit), and a limit that bites is a diagnosable failure: the
# router under a small MemoryMax= (a runtime drop-in) fed large request
# bodies is OOM-killed, the journal says so, systemd starts it again and the
# prober reports it DOWN and UP again; a daemon under TasksMax=2 cannot
# start its threads and says why.

# `cgroup UNIT FILE`: a file of the unit's cgroup (cgroup v2)
cgroup() { cat "/sys/fs/cgroup$(prop "$1" ControlGroup)/$2"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

for daemon in $DAEMONS; do
	unit=$daemon.service
	# one systemctl call per unit: each is slow under emulation
	memory= tasks= files= pid= group= state=
	while IFS='=' read -r key value; do
		case $key in
		MemoryMax) memory=$value ;;
		TasksMax) tasks=$value ;;
		LimitNOFILE) files=$value ;;
		MainPID) pid=$value ;;
		ControlGroup) group=$value ;;
		SubState) state=$value ;;
		esac
	done < <(systemctl show -p MemoryMax,TasksMax,LimitNOFILE,MainPID,ControlGroup,SubState "$unit")
	[ "$state" = running ] || {
		fail "$unit is not running ($state)"
		continue
	}
	cg=/sys/fs/cgroup$group
	if [ "$memory" = infinity ] || [ "$tasks" = infinity ] || [ "$files" -ge 524288 ]; then
		fail "$unit lacks a limit: MemoryMax=$memory TasksMax=$tasks LimitNOFILE=$files"
		continue
	fi
	soft=$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")
	hard=$(awk '/^Max open files/ { print $5 }' "/proc/$pid/limits")
	if [ "$(cat "$cg/memory.max")" = "$memory" ] && [ "$(cat "$cg/pids.max")" = "$tasks" ] &&
		[ "$soft" = "$files" ] && [ "$hard" = "$files" ]; then
		pass "$unit: MemoryMax=$(mib "$memory") TasksMax=$tasks LimitNOFILE=$files, held by its cgroup and process"
	else
		fail "$unit: the unit says MemoryMax=$memory TasksMax=$tasks LimitNOFILE=$files; the cgroup memory.max=$(cat "$cg/memory.max") pids.max=$(cat "$cg/pids.max"), the process open files $soft/$hard"
	fi
	info "$unit uses $(mib "$(cat "$cg/memory.current")") (peak $(mib "$(cat "$cg/memory.peak" 2>/dev/null || echo 0)")), $(cat "$cg/pids.current") tasks, $(find "/proc/$pid/fd" -mindepth 1 | wc -l) open files"
done

# The router under MemoryMax=32M, with a longer RestartSec= so the prober,
# probing every second, sees it down; a copy of the prober's unit under
# TasksMax=2. Both loaded by one daemon-reload (each takes seconds under
# emulation).
oom=no tasks=no
has_daemon hwc-ai-router && has_daemon hwc-ai-prober && oom=yes
has_daemon hwc-ai-prober && tasks=yes
if [ "$oom" = yes ]; then
	# registered first so it runs last, after the drop-in is gone
	on_exit systemctl restart hwc-ai-router.service
	dropin_file hwc-ai-router.service limits-small "[Service]
MemoryMax=32M
RestartSec=3s"
fi
[ "$tasks" = no ] || unit_copy_file hwc-ai-prober.service hwc-check-tasks-prober.service "[Service]
TasksMax=2"
[ "$oom$tasks" = nono ] || systemctl daemon-reload

# Sixteen requests with 7 MiB bodies (within the router's 8 MiB
# maxBodyBytes) are held at once while they are read.
if [ "$oom" = yes ]; then
	unit=hwc-ai-router.service
	router=$(listen_of hwc-ai-router)
	systemctl restart "$unit"
	wait_for 15 is_running "$unit" || abort "$unit does not start under MemoryMax=32M"
	wait_for 15 target_is hwc-ai-router up || abort "the prober does not see hwc-ai-router up: $(target_state hwc-ai-router)"
	info "$unit under MemoryMax=$(mib "$(cgroup "$unit" memory.max)"), using $(mib "$(cgroup "$unit" memory.current)")"
	pid=$(prop "$unit" MainPID)
	restarts=$(prop "$unit" NRestarts)
	body=/run/hwc-check-limits-body.json
	on_exit rm -f "$body"
	{
		printf '{"model":"qwen3:0.6b","messages":[{"role":"user","content":"'
		head -c $((7 << 20)) /dev/zero | tr '\0' a
		printf '"}]}'
	} >"$body"
	cursor=$(journal_cursor)
	sent=$(now)
	killed() { journal_since "$cursor" -u "$unit" -o cat | grep -q 'oom-kill\|OOM killer'; }
	# up to three waves, in case one is answered faster than it piles up
	for wave in 1 2 3; do
		for _ in $(seq 16); do
			curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/json' -H 'Expect:' \
				-X POST -T "$body" "$router/v1/chat/completions" &
		done
		wait_for 20 killed && break
		wait
	done
	info "waves sent: $wave"
	if killed; then
		pass "OOM-killed $(elapsed "$sent")s into the load: $(journal_since "$cursor" -u "$unit" -o cat | grep -m1 'OOM killer\|oom-kill')"
	else
		fail "not OOM-killed: MainPID $pid -> $(prop "$unit" MainPID), memory.events: $(cgroup "$unit" memory.events | tr '\n' ' ')"
	fi
	wait
	line=$(journal_since "$cursor" -u "$unit" -o cat | grep -m1 "Failed with result 'oom-kill'")
	[ -n "$line" ] && pass "journal: $line" || fail "no \"Failed with result 'oom-kill'\" in the journal"
	if wait_for 15 target_is hwc-ai-router down; then
		pass "the prober reported hwc-ai-router DOWN: $(http_get "$PROBER/health" | jq -r '.targets[] | select(.name == "hwc-ai-router") | .lastError')"
	else
		fail "the prober still says $(target_state hwc-ai-router) while the router is down"
	fi
	back() { [ "$(prop "$unit" MainPID)" != "$pid" ] && [ "$(prop "$unit" NRestarts)" -gt "$restarts" ] && is_running "$unit"; }
	if wait_for 30 back && wait_for 15 target_is hwc-ai-router up; then
		pass "systemd restarted it (NRestarts $restarts -> $(prop "$unit" NRestarts)) and the prober reported it UP again $(elapsed "$sent")s after the load began"
	else
		fail "the router is not back: $(prop "$unit" ActiveState)/$(prop "$unit" SubState), NRestarts=$(prop "$unit" NRestarts), prober says $(target_state hwc-ai-router)"
	fi
	logged=$(journal_since "$cursor" -u hwc-ai-prober -o cat | grep -F 'hwc-ai-router (hwc-ai) is')
	if printf '%s\n' "$logged" | grep -q 'is DOWN' && printf '%s\n' "$logged" | grep -q 'is UP again'; then
		pass "prober logged: $(printf '%s\n' "$logged" | grep -m1 'is DOWN')"
	else
		fail "the prober's journal lacks the DOWN and UP-again lines: ${logged:-nothing}"
	fi
	[ "$FAILED" = 0 ] || excerpt "$cursor" -u "$unit"
fi

# A copy of the prober's unit under TasksMax=2: its two async workers and
# the main thread do not fit; it fails at start naming the cause (before it
# binds the prober's port).
if [ "$tasks" = yes ]; then
	copy=hwc-check-tasks-prober.service
	cursor=$(journal_cursor)
	systemctl start --no-block "$copy"
	refused() { journal_since "$cursor" -u "$copy" -o cat | grep -q 'Resource temporarily unavailable'; }
	if wait_for 30 refused; then
		pass "under TasksMax=2: $(journal_since "$cursor" -u "$copy" -o cat | grep -m1 'Resource temporarily unavailable')"
	else
		fail "no 'Resource temporarily unavailable' from $copy under TasksMax=2: $(prop "$copy" ActiveState)/$(prop "$copy" SubState)"
		excerpt "$cursor" -u "$copy"
	fi
	systemctl stop "$copy"
	is_running hwc-ai-prober.service && pass "hwc-ai-prober itself still runs" || fail "hwc-ai-prober was disturbed"
fi
