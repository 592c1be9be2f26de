# workflows: the assistant's scheduled workflows on the real systemd.
# Each workflow with a `schedule` is a timer waiting for its calendar time
# (persistent, randomized); fired, it starts its oneshot service, which
# asks the assistant (`hwc-ai workflow run`), and the journal note appears
# in the declared output directory, the run in the assistant's list. A
# workflow whose output directory is missing fails its service: the
# failure and the error naming the directory show in `systemctl status`
# and the journal, nothing is written, and the run is listed as failed.
#
# The assistant's config declares (checks/debian-vm/config/; the NixOS
# test through hwc.ai.workflows):
#   daily   journal into /var/lib/hwc-check-notes, schedule *-*-* 04:00:00
#   broken  journal into /var/lib/hwc-check-missing (never created), the same
# Its model is a closed port: the note is written without a summary.

unit=hwc-ai-assistant.service
assistant=$(listen_of hwc-ai-assistant)
notes=/var/lib/hwc-check-notes
missing=/var/lib/hwc-check-missing
daily=hwc-ai-workflow-daily
broken=hwc-ai-workflow-broken

is_loaded "$daily.timer" && is_loaded "$broken.timer" ||
	abort "no timer for the declared workflows: $daily.timer $(prop "$daily.timer" LoadState), $broken.timer $(prop "$broken.timer" LoadState)"

for timer in "$daily.timer" "$broken.timer"; do
	state=$(prop "$timer" ActiveState)/$(prop "$timer" SubState)
	[ "$state" = active/waiting ] && pass "$timer is $state after boot (timers.target)" ||
		fail "$timer is $state, expected active/waiting"
done
calendar=$(prop "$daily.timer" TimersCalendar)
case $calendar in
*"OnCalendar=*-*-* 04:00:00 "*) pass "$daily.timer: the declared schedule, next at $(prop "$daily.timer" NextElapseUSecRealtime)" ;;
*) fail "$daily.timer: TimersCalendar=$calendar, expected OnCalendar=*-*-* 04:00:00" ;;
esac
persistent=$(prop "$daily.timer" Persistent) delay=$(prop "$daily.timer" RandomizedDelayUSec)
[ "$persistent" = yes ] && [ "$delay" = 5min ] &&
	pass "$daily.timer: Persistent=yes (a run missed while off runs at boot), RandomizedDelaySec=5min" ||
	fail "$daily.timer: Persistent=$persistent RandomizedDelayUSec=$delay, expected yes and 5min"

# The output directory, the assistant's user's. Missing when the unit
# started (ReadWritePaths=-...), so the unit is restarted to be given it,
# as after `nixos-rebuild` creates one.
mkdir -p "$notes"
chown "$(prop "$unit" User)": "$notes"
on_exit rm -rf "$notes"
systemctl restart "$unit"
wait_for 60 http_get "$assistant/health" || abort "$unit does not answer after a restart"

# Fired by its timer: one second after the timer starts instead of at
# 04:00, with no random delay. Then the calendar again.
on_exit systemctl restart "$daily.timer"
dropin "$daily.timer" fire '[Timer]
OnCalendar=
OnActiveSec=1s
RandomizedDelaySec=0'
cursor=$(journal_cursor)
started=$(now)
systemctl restart "$daily.timer"
ran() {
	[ "$(prop "$daily.service" ExecMainExitTimestampMonotonic)" != 0 ] &&
		[ "$(prop "$daily.service" ActiveState)" != activating ]
}
if wait_for 90 ran; then
	result=$(prop "$daily.service" Result)
	[ "$result" = success ] && pass "$daily.timer fired and $daily.service succeeded in $(elapsed "$started") s" ||
		fail "$daily.service ran but Result=$result: $(journal_since "$cursor" -u "$daily.service" | tail -n 5)"
else
	fail "$daily.service did not run within 90 s of its timer's start: timer $(prop "$daily.timer" SubState), last trigger '$(prop "$daily.timer" LastTriggerUSec)'"
fi
note=$(find "$notes" -maxdepth 1 -name 'daily-*.md' | head -n 1)
if [ -n "$note" ] && head -n 1 "$note" | grep -q '^# Journal '; then
	pass "the note is in the declared directory: $note ($(wc -c <"$note") bytes, owner $(stat -c %U "$note"))"
else
	fail "no daily-*.md journal note in $notes: $(ls -A "$notes")"
fi
leftover=$(find "$notes" -maxdepth 1 -name '.*' | head -n 3)
[ -z "$leftover" ] && pass "no temporary file left beside it" || fail "left behind: $leftover"
runs=$(http_get "$assistant/v1/workflows/runs")
printf '%s' "$runs" | jq -e '.runs | any(.workflow == "daily" and .status == "ok")' >/dev/null &&
	pass "the assistant ran it: its runs list daily as ok" ||
	fail "daily is not among the assistant's runs as ok: $runs"

# A run that cannot write: the service fails, saying why.
on_exit systemctl reset-failed "$broken.service"
cursor=$(journal_cursor)
if systemctl start "$broken.service" 2>/dev/null; then
	fail "$broken.service succeeded though $missing does not exist"
fi
state=$(prop "$broken.service" ActiveState) result=$(prop "$broken.service" Result)
[ "$state" = failed ] && [ "$result" = exit-code ] &&
	pass "$broken.service failed (ActiveState=failed, Result=exit-code)" ||
	fail "$broken.service: ActiveState=$state Result=$result, expected failed and exit-code"
status_names() { systemctl status --no-pager -l -n 20 "$broken.service" 2>&1 | grep -F "$missing"; }
if wait_for 10 status_names; then
	pass "systemctl status shows the error: $(status_names | head -n 1 | sed 's/^.*hwc-ai\[[0-9]*\]: //')"
else
	fail "systemctl status does not name $missing: $(systemctl status --no-pager -l -n 20 "$broken.service" 2>&1 | tail -n 5)"
fi
journal_since "$cursor" -u "$broken.service" | grep -qF "$missing" &&
	pass "its journal names the directory" ||
	fail "the journal of $broken.service does not name $missing: $(journal_since "$cursor" -u "$broken.service" | tail -n 5)"
[ ! -e "$missing" ] && pass "nothing was created" || fail "$missing exists now"
runs=$(http_get "$assistant/v1/workflows/runs")
printf '%s' "$runs" | jq -e '.runs | any(.workflow == "broken" and .status == "error" and .error.kind == "output_unavailable")' >/dev/null &&
	pass "the assistant lists the run as failed (output_unavailable)" ||
	fail "broken is not among the assistant's runs as output_unavailable: $runs"
