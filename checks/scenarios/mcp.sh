# mcp: hwc-ai-mcp, the MCP gateway, in front of one stdio server wrapped
# in a unit of its own (`hwc-ai-mcp wrap` running guest/mcp-echo-server.py
# as hwc-ai-mcp-server-echo.service) behind a socket unit, as the NixOS
# module renders them. The socket is root's and the hwc-ai-mcp-sockets
# group's, which only the gateway joins; the server starts on the
# gateway's first connection, is active only after READY=1, answers a tool
# call through the gateway, has no network, gets its secret as an
# environment variable; a killed server process is started again by the
# wrapper, not by systemd; SIGTERM stops the wrapper and the gateway
# cleanly, and the next connection starts the wrapper again. MCP itself
# (initialize, tools/call) passes through the gateway's /mcp/echo; the
# prober sees the gateway.

gateway=hwc-ai-mcp.service
server=hwc-ai-mcp-server-echo.service
socket=hwc-ai-mcp-server-echo.socket
sock=$(jq -r '.servers[] | select(.name == "echo") | .socket' "$(config_of hwc-ai-mcp)")
mcp=$(listen_of hwc-ai-mcp)
# the secret the server's secretEnvironment names, as the host keeps it
token=$(cat "$CREDENTIAL_DIR/ECHO_TOKEN")
[ -n "$token" ] || abort "no test token in $CREDENTIAL_DIR/ECHO_TOKEN"
on_exit systemctl start "$socket" "$gateway"

# the wrapper's own /status, over its socket
status() { curl -fsS --max-time 5 --unix-socket "$sock" http://localhost/status; }
status_is() { status | jq -e "$1"; }
# the gateway's view of the server
entry() { http_get "$mcp/servers/echo"; }
entry_is() { entry | jq -e "$1"; }
call_echo() {
	jq -cn --arg t "$1" '{text: $t}' |
		curl -fsS --max-time 10 -H 'content-type: application/json' --data-binary @- "$mcp/openapi/echo/echo"
}
# `rpc SESSION MESSAGE`: one JSON-RPC message to /mcp/echo (streamable
# HTTP), the response's head and body
rpc() {
	local headers=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream')
	[ -z "$1" ] || headers+=(-H "mcp-session-id: $1" -H 'mcp-protocol-version: 2025-06-18')
	curl -sS -i --max-time 10 "${headers[@]}" --data-binary "$2" "$mcp/mcp/echo" | tr -d '\r'
}
# the session id in a response's head
session_of() { sed -n '/^$/q; s/^mcp-session-id: *//Ip'; }
# the JSON-RPC answer in a response: the last `data:` of an SSE body, or a
# JSON body
answer_of() {
	awk 'body { if (sub(/^data: ?/, "")) { if ($0 != "") data = $0 } else if ($0 !~ /^(event|id):/) plain = plain $0; next }
		/^$/ { body = 1 } END { print (data != "" ? data : plain) }'
}

# --- the gateway's unit --------------------------------------------------------

type=$(prop "$gateway" Type)
groups=$(prop "$gateway" SupplementaryGroups)
deny=$(prop "$gateway" IPAddressDeny)
if [ "$type" = notify ] && [ "$groups" = hwc-ai-mcp-sockets ] && [ "${deny#*0.0.0.0/0}" != "$deny" ]; then
	pass "$gateway: Type=notify, SupplementaryGroups=$groups, IPAddressDeny=$deny"
else
	fail "$gateway: Type=$type SupplementaryGroups=$groups IPAddressDeny=$deny, expected notify, hwc-ai-mcp-sockets, 0.0.0.0/0"
fi

# --- the socket, started by systemd, open to the group only -------------------

# listening while its service is down, running while it is up
state=$(prop "$socket" ActiveState)/$(prop "$socket" SubState)
case $state in
active/listening | active/running) pass "$socket: $state at $sock" ;;
*) fail "$socket: $state, expected active/listening or active/running" ;;
esac
mode=$(stat -c '%A %U %G' "$sock" 2>&1)
[ "$mode" = "srw-rw---- root hwc-ai-mcp-sockets" ] && pass "the socket is root's and the hwc-ai-mcp-sockets group's, mode 0660: $mode" ||
	fail "the socket is '$mode', expected 'srw-rw---- root hwc-ai-mcp-sockets'"
gid=$(getent group hwc-ai-mcp-sockets | cut -d: -f3)
[ -n "$gid" ] || abort "no group hwc-ai-mcp-sockets"
if setpriv --reuid=nobody --regid=nogroup --clear-groups \
	curl -sS --max-time 5 -o /dev/null --unix-socket "$sock" http://localhost/status 2>/dev/null; then
	fail "a process outside the group connected to $sock"
else
	pass "a process outside the group cannot connect (curl exit $?)"
fi
if setpriv --reuid=nobody --regid=nogroup --groups="$gid" \
	curl -fsS --max-time 5 -o /dev/null --unix-socket "$sock" http://localhost/status; then
	pass "the same process in the group connects"
else
	fail "a process in the group hwc-ai-mcp-sockets cannot connect to $sock"
fi
gpid=$(prop "$gateway" MainPID)
groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$gpid/status")
case " $groups " in
*" $gid "*) pass "the gateway (PID $gpid) is in the group (gid $gid): Groups:$groups" ;;
*) fail "the gateway's groups are '$groups', without hwc-ai-mcp-sockets' gid $gid" ;;
esac

# --- the server: started by its socket, READY=1 -------------------------------

triggered=$(prop "$server" TriggeredBy)
enabled=$(systemctl is-enabled "$server" 2>&1)
if [ "$triggered" = "$socket" ] && [ "$enabled" = static ] && is_running "$server"; then
	pass "$server runs, started by its socket (TriggeredBy=$triggered, not enabled: $enabled)"
else
	fail "$server: TriggeredBy=$triggered, is-enabled=$enabled, $(prop "$server" ActiveState)/$(prop "$server" SubState)"
fi
type=$(prop "$server" Type)
[ "$type" = notify ] && pass "$server: Type=notify" || fail "$server: Type=$type, expected notify"
systemd_debug
cursor=$(journal_cursor)
started=$(now)
systemctl restart "$server" || abort "systemctl restart $server failed"
if status >/dev/null; then
	pass "READY=1 means serving: /status answered on the socket the moment systemctl restart returned ($(elapsed "$started")s)"
else
	fail "/status did not answer right after systemctl restart returned"
fi
systemd-analyze log-level info
line=$(journal_since "$cursor" -u "$server" -o cat | grep -m1 -F 'READY=1')
[ -n "$line" ] && pass "PID 1 got READY=1 from the wrapper ($(printf '%s' "$line" | sed 's/.*(\(.*\))$/\1/'))" ||
	fail "PID 1 logged no READY=1 from $server"
if wait_for 20 status_is '.state == "up" and .pid != null'; then
	pass "the wrapper runs the server: $(status)"
else
	fail "the server is not up in the wrapper: $(status)"
fi

# --- through the gateway ------------------------------------------------------

if wait_for 30 entry_is '.state == "up" and ([.tools[].name] == ["echo"])'; then
	pass "the gateway sees echo up, with its tool: $(entry | jq -c '{state, transport, tools: [.tools[].name], restarts}')"
else
	fail "the gateway does not see echo up: $(http_body "$mcp/servers/echo")"
fi
answer=$(call_echo "hello through the socket")
[ "$answer" = '"hello through the socket"' ] && pass "a tool call through the gateway and the socket: $answer" ||
	fail "POST /openapi/echo/echo answered: $answer"
init=$(jq -cn '{jsonrpc: "2.0", id: 1, method: "initialize",
	params: {protocolVersion: "2025-06-18", capabilities: {}, clientInfo: {name: "hwc-check", version: "1"}}}')
out=$(rpc "" "$init")
session=$(printf '%s\n' "$out" | session_of)
name=$(printf '%s\n' "$out" | answer_of | jq -r '.result.serverInfo.name' 2>/dev/null)
if [ -n "$session" ] && [ "$name" = hwc-check-echo ]; then
	pass "MCP through /mcp/echo: initialize answered by $name, with a session id"
else
	fail "initialize through /mcp/echo: session '$session', server '$name': $(printf '%s' "$out" | tail -c 300)"
fi
rpc "$session" '{"jsonrpc": "2.0", "method": "notifications/initialized"}' >/dev/null
call=$(jq -cn '{jsonrpc: "2.0", id: 2, method: "tools/call",
	params: {name: "echo", arguments: {text: "through /mcp/echo"}}}')
out=$(rpc "$session" "$call")
content=$(printf '%s\n' "$out" | answer_of | jq -c '.result.content' 2>/dev/null)
if [ "$content" = '[{"type":"text","text":"through /mcp/echo"}]' ]; then
	pass "tools/call through /mcp/echo in that session: $content"
else
	fail "tools/call through /mcp/echo answered: $(printf '%s' "$out" | tail -c 300)"
fi

# --- the server's sandbox -----------------------------------------------------

wpid=$(prop "$server" MainPID)
child=$(status | jq -r .pid)
private=$(prop "$server" PrivateNetwork)
host_net=$(readlink /proc/1/ns/net)
child_net=$(readlink "/proc/$child/ns/net")
interfaces=$(awk 'NR > 2 { sub(":", "", $1); print $1 }' "/proc/$child/net/dev" | tr '\n' ' ')
if [ "$private" = yes ] && [ "$child_net" != "$host_net" ] && [ "$interfaces" = "lo " ]; then
	pass "PrivateNetwork=yes: the server (PID $child) has a network namespace of its own ($child_net, not $host_net) with lo only"
else
	fail "PrivateNetwork=$private, server in $child_net (host $host_net), interfaces: $interfaces"
fi
[ "$(readlink "/proc/$gpid/ns/net")" = "$host_net" ] && pass "the gateway stays in the host's network" ||
	fail "the gateway is not in the host's network namespace"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$child/status")
[ "$uid" != 0 ] && pass "the server runs as the unit's dynamic user (uid $uid), under the wrapper (PID $wpid)" ||
	fail "the server runs as root"
home=$(tr '\0' '\n' <"/proc/$child/environ" | sed -n 's/^HOME=//p')
if [ "$home" = /var/cache/hwc-ai-mcp-server-echo ] && [ "$(stat -L -c %u "$home")" = "$uid" ]; then
	pass "the server's HOME is the unit's cache directory, its own: $home"
else
	fail "the server's HOME is '$home' (owner $(stat -L -c %u "$home" 2>&1)), expected /var/cache/hwc-ai-mcp-server-echo owned by uid $uid"
fi
nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$child/status")
seccomp=$(awk '/^Seccomp:/ { print $2 }' "/proc/$child/status")
caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$child/status")
if [ "$nnp" = 1 ] && [ "$seccomp" = 2 ] && [ "$caps" = 0000000000000000 ]; then
	pass "the server too: NoNewPrivs=1, seccomp filter on, no effective capabilities"
else
	fail "the server: NoNewPrivs=$nnp Seccomp=$seccomp CapEff=$caps, expected 1, 2, 0"
fi
score=$(systemd-analyze security --no-pager "$server" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }'; then
	pass "$server: exposure $score (threshold 1.5)"
else
	fail "$server: exposure ${score:-unknown}, above 1.5"
fi
said=$(journal_since "" -u "$server" -o cat | grep -m1 'ECHO_TOKEN is set')
if [ -n "$said" ] && printf '%s' "$said" | grep -q "(${#token} characters)"; then
	pass "the secret reached the server as ECHO_TOKEN through LoadCredential=: $said"
else
	fail "the server did not get ECHO_TOKEN (${#token} characters): ${said:-nothing logged}"
fi
wconfig=$(config_of hwc-ai-mcp-server-echo)
leaks=
journalctl -q -b -o cat | grep -qF -e "$token" && leaks+=", the journal"
{ [ -r "$wconfig" ] && ! grep -qF -e "$token" "$wconfig"; } || leaks+=", the wrapper's config (${wconfig:-none})"
http_get "$mcp/servers" | grep -qF -e "$token" && leaks+=", the gateway's /servers"
tr '\0' ' ' <"/proc/$wpid/cmdline" | grep -qF -e "$token" && leaks+=", the wrapper's command line"
if [ -z "$leaks" ]; then
	pass "the secret's value is nowhere else: not in the journal, the wrapper's config, the gateway's /servers, the wrapper's command line"
else
	fail "the secret's value is in${leaks#,}"
fi

# --- a killed server is started again by the wrapper --------------------------

restarts=$(status | jq .restarts)
seen=$(entry | jq .restarts)
nrestarts=$(prop "$server" NRestarts)
cursor=$(journal_cursor)
kill -KILL "$child"
killed=$(now)
back() { status_is ".restarts > $restarts and .state == \"up\" and .pid != $child"; }
if wait_for 30 back; then
	pass "the wrapper started the server again $(elapsed "$killed")s after SIGKILL: $(status)"
else
	fail "the server is not back 30s after SIGKILL: $(status)"
fi
if [ "$(prop "$server" MainPID)" = "$wpid" ] && [ "$(prop "$server" NRestarts)" = "$nrestarts" ]; then
	pass "the wrapper did it, not systemd: MainPID $wpid, NRestarts $nrestarts"
else
	fail "MainPID $wpid -> $(prop "$server" MainPID), NRestarts $nrestarts -> $(prop "$server" NRestarts)"
fi
# its exit status ("killed by SIGKILL") when the wrapper reaps it before
# it notices the closed pipe, "the connection closed" otherwise
why() { journal_since "$cursor" -u "$server" -o cat | grep -m1 -E 'ERROR .*(killed by SIGKILL|connection closed)'; }
if wait_for 10 why; then
	pass "the wrapper logged it: $(why)"
else
	fail "no journal line of the wrapper's says the server went away"
fi
if wait_for 20 entry_is ".restarts > $seen and .state == \"up\""; then
	pass "the gateway reports the restart: $(entry | jq -c '{state, restarts}')"
else
	fail "the gateway's entry: $(entry | jq -c '{state, restarts, lastError}')"
fi
counted() { http_get "$mcp/metrics" | awk '/^hwc_ai_mcp_server_restarts_total\{server="echo"\}/ { exit !($2 >= 1) }'; }
wait_for 10 counted && pass "/metrics: $(http_get "$mcp/metrics" | grep -m1 '^hwc_ai_mcp_server_restarts_total{server="echo"}')" ||
	fail "/metrics has no hwc_ai_mcp_server_restarts_total{server=\"echo\"} >= 1"
answer=$(call_echo "after the restart")
[ "$answer" = '"after the restart"' ] && pass "a tool call works after the restart" ||
	fail "the call after the restart answered: $answer"

if wait_for 60 target_is hwc-ai-mcp up; then
	pass "the prober sees the gateway up (/health and /metrics)"
else
	fail "the prober does not see the gateway up: $(target_state hwc-ai-mcp)"
fi

# --- SIGTERM: the gateway, then the wrapper -----------------------------------

stopped_cleanly() {
	# `stopped_cleanly UNIT PID LOG TOOK`
	local unit=$1 pid=$2 log=$3 took=$4 limit
	limit=$(usec "$unit" TimeoutStopUSec)
	printf '%s\n' "$log" | grep -q -F 'STOPPING=1' && pass "$unit: sent STOPPING=1" ||
		fail "$unit: PID 1 received no STOPPING=1"
	local result code status
	result=$(prop "$unit" Result) code=$(prop "$unit" ExecMainCode) status=$(prop "$unit" ExecMainStatus)
	if [ "$result/$code/$status" = success/1/0 ]; then
		pass "$unit: exited 0 by itself"
	else
		fail "$unit: Result=$result ExecMainCode=$code ExecMainStatus=$status, expected success/1 (exited)/0"
	fi
	# nothing was in flight: the drain has nothing to wait for
	if awk -v t="$took" -v l="$limit" 'BEGIN { exit !(t * 1000000 < l / 2) }'; then
		pass "$unit: stopped in ${took}s (TimeoutStopSec=$((limit / 1000000))s)"
	else
		fail "$unit: stop took ${took}s with nothing in flight, TimeoutStopSec=$((limit / 1000000))s"
	fi
	if printf '%s\n' "$log" | grep -q -E 'SIGKILL|timed out|Killing process'; then
		fail "$unit: systemd had to kill: $(printf '%s\n' "$log" | grep -m1 -E 'SIGKILL|timed out|Killing process')"
	fi
	! kill -0 "$pid" 2>/dev/null || fail "$unit: PID $pid still alive"
}

# the gateway first: it checks the server every 2 s, and would start the
# wrapper again at once
systemd_debug
cursor=$(journal_cursor)
started=$(now)
systemctl stop "$gateway"
took=$(elapsed "$started")
systemd-analyze log-level info
stopped_cleanly "$gateway" "$gpid" "$(journal_since "$cursor" -u "$gateway" -o cat)" "$took"
is_running "$server" && pass "the server's unit does not depend on the gateway: still running" ||
	fail "$server stopped with the gateway"

wpid=$(prop "$server" MainPID)
child=$(status | jq -r .pid)
systemd_debug
cursor=$(journal_cursor)
started=$(now)
systemctl stop "$server"
took=$(elapsed "$started")
systemd-analyze log-level info
stopped_cleanly "$server" "$wpid" "$(journal_since "$cursor" -u "$server" -o cat)" "$took"
! kill -0 "$child" 2>/dev/null && pass "the server process (PID $child) went with it" ||
	fail "the server process $child outlived its wrapper"
state=$(prop "$socket" ActiveState)/$(prop "$socket" SubState)
[ "$state" = active/listening ] && pass "$socket stays, listening" || fail "$socket is $state after the server stopped"
started=$(now)
if status >/dev/null && is_running "$server"; then
	pass "socket activation: the next connection started the wrapper again ($(elapsed "$started")s), PID $(prop "$server" MainPID)"
else
	fail "a connection to $sock did not start $server again: $(prop "$server" ActiveState)"
fi

systemctl start "$gateway"
if wait_for 30 entry_is '.state == "up"'; then
	pass "the gateway, started again, sees echo up"
else
	fail "the gateway, started again: $(http_body "$mcp/servers/echo")"
fi

[ "$FAILED" = 0 ] || excerpt "$cursor" -u "$server" -u "$gateway" -p info
