# backoff: a daemon that always fails (broken config) is restarted with a
# delay, not in a tight loop, and keeps being retried, past the default
# start limit (5 starts); stopping it ends the retries, and the daemon's own
# unit is not disturbed. The daemon is a runtime copy of the prober's unit
# (its Restart=, RestartSec=, RestartSteps=, RestartMaxDelaySec= and start
# limit) with the broken config bind-mounted over the real one.
#
# systemd 254 added RestartSteps= and RestartMaxDelaySec=, which make the
# delay grow up to a bound. On an older systemd (Debian bookworm has 252)
# they are ignored and the delay stays RestartSec=: the scenario then
# asserts that constant delay and says so.
#
# The start rate limit (StartLimitBurst= starts within StartLimitIntervalSec=)
# counts automatic restarts too. Whether it stops the retries depends on how
# fast the daemon fails, so it is judged twice: as observed here, and for a
# daemon that fails at once (a fast machine), from the unit's settings.

unit=hwc-check-failing-prober.service
broken=$BROKEN_CONFIG_DIR/hwc-ai-prober.json
# the default start limit, which the units must not be subject to
default_burst=5
prober_restarts=$(prop hwc-ai-prober.service NRestarts)
unit_copy hwc-ai-prober.service "$unit" "[Service]
BindReadOnlyPaths=$broken:$(config_of hwc-ai-prober)
StateDirectory="

version=$(systemd_version)
restart=$(prop "$unit" Restart)
delay=$(usec "$unit" RestartUSec)
burst=$(prop "$unit" StartLimitBurst)
interval=$(usec "$unit" StartLimitIntervalUSec Unit)
info "systemd $version: Restart=$restart RestartSec=$((delay / 1000))ms StartLimitBurst=$burst StartLimitIntervalSec=$((interval / 1000))ms RestartPreventExitStatus=$(prop "$unit" RestartPreventExitStatus)"
[ "$restart" != no ] || abort "Restart=no: a failing daemon is never retried"
steps=0 max=$delay
if [ "$version" -ge 254 ]; then
	steps=$(prop "$unit" RestartSteps)
	max=$(usec "$unit" RestartMaxDelayUSec)
	info "RestartSteps=$steps RestartMaxDelaySec=$((max / 1000))ms"
else
	info "systemd $version predates RestartSteps=/RestartMaxDelaySec= (254): the delay stays RestartSec"
fi

# The delays systemd uses, as a daemon that fails at once would see them:
# RestartSec growing geometrically to RestartMaxDelaySec over RestartSteps.
delays=$(awk -v d="$delay" -v m="$max" -v s="$steps" -v n="$burst" 'BEGIN {
	for (i = 0; i < n - 1; i++) {
		x = (s > 0 && m > d) ? d * exp(log(m / d) * (i < s ? i : s) / s) : d
		printf "%.0f ", x
	}
}')
span=$(printf '%s\n' $delays | awk '{ t += $1 } END { printf "%.0f", t }')
if [ "$interval" = 0 ]; then
	pass "no start rate limit (StartLimitIntervalSec=0): retried for good"
elif [ "$span" -lt "$interval" ]; then
	fail "a daemon that fails at once gives up: its $burst starts fit in $((span / 1000))ms, within StartLimitIntervalSec=$((interval / 1000))ms (StartLimitIntervalSec=0 on the unit keeps it trying)"
else
	pass "a daemon that fails at once keeps being retried: $burst starts take $((span / 1000))ms, longer than StartLimitIntervalSec=$((interval / 1000))ms"
fi

# watch until it is past the default start limit (with a growing delay,
# the 6th restart is about 21 s in), which is also at least four attempts
# to measure the delays between
cursor=$(journal_cursor)
watched=$(now)
systemctl start --no-block "$unit"
past_limit() { [ "$(prop "$unit" NRestarts)" -gt "$default_burst" ]; }
if wait_for 120 past_limit; then
	pass "retried past the default start limit: NRestarts=$(prop "$unit" NRestarts) > $default_burst"
else
	fail "not retried past the default start limit: NRestarts=$(prop "$unit" NRestarts) after $(elapsed "$watched")s"
fi
attempts=$(journal_since "$cursor" -u "$unit" -o short-monotonic | grep -F ': Starting ' |
	sed 's/^\[ *\([0-9.]*\)\].*/\1/')
count=$(printf '%s\n' "$attempts" | grep -c .)
gaps=$(printf '%s\n' "$attempts" | awk 'NR > 1 { printf "%.1f ", $1 - prev } { prev = $1 }')
info "observed: $count attempts in $(elapsed "$watched")s; delays between them: ${gaps:-none}(s)"

# when the limit is hit the unit stays failed (Result keeps the exit's
# reason, so ask the journal)
gave_up=$(journal_since "$cursor" -u "$unit" -o cat | grep -m1 'Start request repeated too quickly')
state=$(prop "$unit" ActiveState)/$(prop "$unit" SubState)
if [ -n "$gave_up" ] || [ "$state" = failed/failed ]; then
	fail "observed: gave up after $count attempts (${gave_up:-$state})"
elif [ "$count" -ge "$default_burst" ]; then
	pass "observed: keeps trying, $count attempts, NRestarts=$(prop "$unit" NRestarts), now $state"
else
	fail "observed: only $count attempts in $(elapsed "$watched")s, now $state"
fi

# no tight loop: every delay at least RestartSec (10% slack for timestamps)
short=$(printf '%s\n' $gaps | awk -v d="$delay" '$1 * 1000000 < d * 0.9' | head -n 1)
if [ "$count" -ge 2 ] && [ -z "$short" ]; then
	pass "no tight loop: every delay >= RestartSec=$((delay / 1000))ms"
elif [ -n "$short" ]; then
	fail "retried after ${short}s, below RestartSec=$((delay / 1000))ms"
fi

if [ "${steps:-0}" -gt 0 ]; then
	if printf '%s\n' $gaps | awk 'NR == 1 { first = $1 } { last = $1 } END { exit !(last > first * 1.5) }'; then
		pass "the delay grows (the last above 1.5 times the first): $gaps"
	else
		fail "the delay does not grow: $gaps"
	fi
	over=$(printf '%s\n' $gaps | awk -v m="$max" '$1 * 1000000 > m + 1000000' | head -n 1)
	[ -z "$over" ] && pass "the delay stays within RestartMaxDelaySec" || fail "a delay of ${over}s exceeds RestartMaxDelaySec"
else
	pass "bounded: a constant RestartSec delay (no growth on systemd $version)"
fi

# stopping it ends the retries; the module's prober was never touched
systemctl stop "$unit"
systemctl reset-failed "$unit" 2>/dev/null || true
state=$(prop "$unit" ActiveState)
case $state in
inactive | failed) pass "stopped: $state" ;;
*) fail "still $state after systemctl stop" ;;
esac
restarts=$(prop hwc-ai-prober.service NRestarts)
if is_running hwc-ai-prober.service && [ "$restarts" = "$prober_restarts" ]; then
	pass "hwc-ai-prober itself was not disturbed (active/running, NRestarts=$restarts)"
else
	fail "hwc-ai-prober was disturbed: $(prop hwc-ai-prober.service ActiveState), NRestarts $prober_restarts -> $restarts"
fi
