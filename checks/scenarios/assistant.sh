# assistant: hwc-ai-assistant on the real systemd, over the real system
# D-Bus and journal. A dummy unit fails; asked "Is any service unhealthy?"
# and "Did any service crash recently?", the assistant names it. Its model
# (router.url) is a closed port, so the answers come from the tools
# directly and say so. "restart nginx" is refused; the audit log the unit
# wrote verifies (with `hwc-ai`, $HWC_AI when set); it can write only its
# state directory; SIGTERM stops it cleanly.

unit=hwc-ai-assistant.service
assistant=$(listen_of hwc-ai-assistant)
dummy=hwc-check-broken-dummy.service
on_exit systemctl start "$unit"
on_exit rm -f "/run/systemd/system/$dummy"
on_exit systemctl daemon-reload
on_exit systemctl reset-failed "$dummy"

ask() {
	jq -cn --arg c "$*" '{model: "hwc-ai-assistant", messages: [{role: "user", content: $c}]}' |
		curl -sSf --max-time 120 -H 'content-type: application/json' --data-binary @- \
			"$assistant/v1/chat/completions"
}

type=$(prop "$unit" Type)
[ "$type" = notify ] && pass "Type=notify" || fail "Type=$type, expected notify"
is_running "$unit" && pass "active/running after boot" ||
	fail "not active/running: $(prop "$unit" ActiveState)/$(prop "$unit" SubState)"

# a unit that fails, logging at priority err (the <3> prefix)
cat >"/run/systemd/system/$dummy" <<'UNIT'
[Unit]
Description=A unit that fails, for the assistant to find
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "<3>database unreachable" >&2; exit 3'
UNIT
systemctl daemon-reload
systemctl start "$dummy" 2>/dev/null && fail "$dummy did not fail"
[ "$(prop "$dummy" ActiveState)" = failed ] || abort "$dummy is $(prop "$dummy" ActiveState), not failed"

answer=$(ask "Is any service unhealthy?")
reply=$(printf '%s' "$answer" | jq -r '.choices[0].message.content' 2>/dev/null)
if printf '%s' "$reply" | grep -qF "$dummy"; then
	pass "\"Is any service unhealthy?\" names the failed unit: $(printf '%s' "$reply" | head -1)"
else
	fail "the failed unit is not named: $answer"
fi
if printf '%s' "$reply" | grep -qF "model was not available" &&
	[ "$(printf '%s' "$answer" | jq -r .hwc_ai.source)" = direct ]; then
	pass "the answer says it came from the tools directly (the model is unreachable; source direct)"
else
	fail "the direct answer is not marked (in the text and as source direct): $answer"
fi

answer=$(ask "Did any service crash recently?")
printf '%s' "$answer" | jq -r '.choices[0].message.content' | grep -qF "$dummy" &&
	pass "\"Did any service crash recently?\" names it too" ||
	fail "recent failures miss $dummy: $answer"
failures=$(curl -sSf --max-time 60 -X POST "$assistant/tools/recent_failures" -d '{}')
if printf '%s' "$failures" | jq -e --arg u "$dummy" '.failed | any(.name == $u)' >/dev/null; then
	pass "recent_failures lists it as failed"
else
	fail "recent_failures does not list $dummy as failed: $(printf '%s' "$failures" | jq -c .failed)"
fi
if printf '%s' "$failures" | jq -e --arg u "$dummy" \
	'.journal | any(.unit == $u and (.message | contains("database unreachable")))' >/dev/null; then
	pass "its error line comes from the journal (sd-journal, group systemd-journal)"
else
	fail "no journal line for $dummy: $(printf '%s' "$failures" | jq -c '{journal, journalUnavailable}')"
fi

answer=$(ask "restart nginx")
[ "$(printf '%s' "$answer" | jq -r .hwc_ai.intent)" = refused ] &&
	pass "\"restart nginx\" is refused" || fail "not refused: $answer"

out=$("${HWC_AI:-hwc-ai}" audit verify --db /var/lib/hwc-ai-assistant/audit.db 2>&1) &&
	pass "the audit log verifies: $out" || fail "hwc-ai audit verify: $out"
[ "$(prop "$unit" ProtectSystem)" = strict ] && [ "$(prop "$unit" StateDirectory)" = hwc-ai-assistant ] &&
	pass "it writes only its state directory (ProtectSystem=strict, StateDirectory=hwc-ai-assistant)" ||
	fail "ProtectSystem=$(prop "$unit" ProtectSystem) StateDirectory=$(prop "$unit" StateDirectory)"
score=$(systemd-analyze security --no-pager "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
info "systemd-analyze security: $score"

systemctl stop "$unit"
result=$(prop "$unit" Result)
[ "$result" = success ] && pass "systemctl stop: it exited by itself (Result=success)" || fail "Result=$result"
