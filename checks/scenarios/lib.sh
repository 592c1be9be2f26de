# Helpers for the scenarios, sourced by run-scenario with SCENARIO set.
# The scenarios are the systemd contract written once: the Debian VM
# (checks/debian-vm/) and the NixOS VM tests (checks/nixos/) run the same
# files, and differ only in the environment file each writes
# (HWC_CHECK_ENV; run-scenario's default is `env` beside the directory of
# the scenarios):
#
#   DAEMONS            the daemons' unit names, without .service, separated
#                      by spaces: the scenarios that loop over daemons check
#                      these (run-scenario's arguments override it)
#   CHECK_DIR          where that world keeps the check's files
#   BROKEN_CONFIG_DIR  the broken configs: <daemon>.json, and <daemon>.field
#                      naming the field its error must name
#   CREDENTIAL_DIR     the files LoadCredential= reads, <name> each
#   OLLAMA_UNIT        the unit (without .service) of the Ollama on 11434
#   HWC_AI             optional: the `hwc-ai` CLI, when it is not on PATH
#   <DAEMON>_CONFIG    optional (PROBER_CONFIG, ...): a daemon's config path;
#                      without it, the one on its unit's ExecStart
#
# The Debian VM's also sets SOCKETS and the VM_* paths, which the scenarios
# only the Debian VM runs use (docs/systemd-checks.md says which).
#
# Every verdict is one line (on the Debian VM's console, which the host
# parses; in the NixOS test's log):
#   HWC-CHECK PASS <scenario>: <what holds>
#   HWC-CHECK FAIL <scenario>: <what broke, with the values seen>
#   HWC-CHECK INFO <scenario>: <a measurement or a note>
#   HWC-CHECK LOG  <scenario>: <a journal line, after a failure>
# A scenario fails when it printed any FAIL.

# shellcheck source=/dev/null
. "${HWC_CHECK_ENV:?the environment file (run-scenario sets it)}"

FAILED=0
CLEANUP=()

say() {
	local kind=$1
	shift
	printf 'HWC-CHECK %s %s: %s\n' "$kind" "$SCENARIO" "$*"
}
pass() { say PASS "$*"; }
fail() {
	say FAIL "$*"
	FAILED=1
}
info() { say INFO "$*"; }
# A failure the rest of the scenario cannot go on from.
abort() {
	fail "$*"
	exit 1
}

# `on_exit CMD...`: undo something when the scenario ends, however it ends
# (last registered runs first), so the next scenario starts from the boot
# state.
on_exit() { CLEANUP=("$(printf '%q ' "$@")" "${CLEANUP[@]}"); }
run_cleanup() {
	local rc=$? cmd reload=no
	# set -u or a failed command ended the scenario before a verdict
	[ "$rc" = 0 ] || [ "$FAILED" = 1 ] || fail "stopped by an error (exit $rc)"
	# a daemon-reload is slow under emulation: run one only before a command
	# that needs systemd to see the removals so far, and one at the end.
	# Stopping a unit, or resetting its failed state, needs none: copies are
	# stopped one after another and their files unloaded by one reload.
	for cmd in "${CLEANUP[@]}"; do
		case $cmd in
		"systemctl daemon-reload ") reload=yes ;;
		"rm "* | "systemctl stop "* | "systemctl reset-failed "*) eval "$cmd" >/dev/null 2>&1 || true ;;
		*)
			[ "$reload" = no ] || systemctl daemon-reload
			reload=no
			eval "$cmd" >/dev/null 2>&1 || true
			;;
		esac
	done
	[ "$reload" = no ] || systemctl daemon-reload
}
trap run_cleanup EXIT

# --- systemd ---------------------------------------------------------------

prop() { systemctl show -P "$2" "$1"; }

# `wait_for SECONDS CMD...`: polls CMD every 0.2 s; fails after SECONDS.
wait_for() {
	local limit=$1
	shift
	local end=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

is_running() {
	[ "$(prop "$1" ActiveState)/$(prop "$1" SubState)" = active/running ]
}

systemd_version() { systemctl --version | awk 'NR == 1 { print $2 }'; }

# `usec UNIT PROPERTY [INTERFACE]`: a time property in microseconds
# (systemctl show prints "1min 30s"; D-Bus has the number). INTERFACE is
# Service (the default) or Unit (StartLimitIntervalUSec).
usec() {
	local path
	path=$(busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
		org.freedesktop.systemd1.Manager LoadUnit s "$1" | awk '{ print $2 }' | tr -d '"')
	busctl get-property org.freedesktop.systemd1 "$path" \
		"org.freedesktop.systemd1.${3:-Service}" "$2" | awk '{ print $2 }'
}

# `dropin UNIT NAME TEXT`: a runtime drop-in, removed again on exit.
# A daemon-reload takes seconds under emulation: `dropin_file` and
# `unit_copy_file` write theirs without one, so that one
# `systemctl daemon-reload` loads several.
dropin() {
	dropin_file "$@"
	systemctl daemon-reload
}
dropin_file() {
	local dir=/run/systemd/system/$1.d
	mkdir -p "$dir"
	printf '%s\n' "$3" >"$dir/$2.conf"
	on_exit systemctl daemon-reload
	on_exit rm -f "$dir/$2.conf"
}

# `unit_copy UNIT NEW [DROPIN]`: a runtime copy of a rendered unit under a
# new name (same hardening, same ExecStart), with an optional drop-in,
# removed again on exit.
unit_copy() {
	unit_copy_file "$@"
	systemctl daemon-reload
}
unit_copy_file() {
	local fragment
	fragment=$(prop "$1" FragmentPath)
	cp "$fragment" "/run/systemd/system/$2"
	if [ -n "${3:-}" ]; then
		mkdir -p "/run/systemd/system/$2.d"
		printf '%s\n' "$3" >"/run/systemd/system/$2.d/check.conf"
	fi
	on_exit systemctl daemon-reload
	on_exit rm -rf "/run/systemd/system/$2" "/run/systemd/system/$2.d"
	on_exit systemctl reset-failed "$2"
	on_exit systemctl stop "$2"
}

# PID 1's debug log shows every sd_notify message a unit sends
# ("Got notification message from PID ... (READY=1, STATUS=...)").
systemd_debug() {
	systemd-analyze log-level debug
	on_exit systemd-analyze log-level info
}

# --- journal ---------------------------------------------------------------

journal_cursor() { journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'; }

# `journal_since CURSOR [journalctl args...]`: the entries from CURSOR on.
# --cursor, not --after-cursor: with a filter (-u, -p) journalctl 252's
# --after-cursor drops the first matching entry when the cursor's own entry
# does not match. The cursor's entry predates the mark, so including it is
# harmless.
journal_since() {
	local cursor=$1
	shift
	if [ -n "$cursor" ]; then
		journalctl -q --no-pager --cursor="$cursor" "$@"
	else
		journalctl -q --no-pager -b "$@"
	fi
}

# `excerpt CURSOR [journalctl args...]`: the last lines as LOG lines.
excerpt() {
	journal_since "$@" -o short-monotonic | tail -n 40 | while IFS= read -r line; do
		say LOG "$line"
	done
}

# --- the prober --------------------------------------------------------------


http_get() { curl -fsS --max-time 5 "$@"; }
# the body whatever the status (for failure messages)
http_body() { curl -sS --max-time 5 "$@"; }
# `http_answers URL`: any HTTP answer at all (a 503 "degraded" is an answer)
http_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1")" != 000 ]; }

# `target_up NAME`: the prober's hwc_ai_prober_target_up for that target
# (1 up, 0 down), empty when it is not exported.
target_up() {
	http_get "$PROBER/metrics" |
		awk -v t="target=\"$1\"" '/^hwc_ai_prober_target_up\{/ && index($0, t) { print $2 }'
}

# `target_state NAME`: its state in /health (up, down, unknown).
target_state() {
	http_get "$PROBER/health" | jq -r --arg n "$1" '.targets[] | select(.name == $n) | .state'
}

target_is() { [ "$(target_state "$1")" = "$2" ] && [ "$(target_up "$1")" = "$([ "$2" = up ] && echo 1 || echo 0)" ]; }

# `config_of hwc-ai-prober`: that daemon's config path, from the
# environment or else from `--config PATH` on its unit's ExecStart.
config_of() {
	local var
	var=$(printf '%s' "${1#hwc-ai-}" | tr 'a-z-' 'A-Z_')_CONFIG
	if [ -n "${!var:-}" ]; then
		printf '%s\n' "${!var}"
	else
		prop "$1.service" ExecStart | sed -n 's/.*--config[= ]\([^ ;]*\).*/\1/p'
	fi
}

# `has_daemon NAME`: NAME is one of the daemons checked ($DAEMONS).
has_daemon() { case " $DAEMONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# `is_loaded UNIT`: the unit exists on this system.
is_loaded() { [ "$(prop "$1" LoadState)" = loaded ]; }

# `listen_of hwc-ai-prober`: its base URL, from its config.
listen_of() { printf 'http://%s\n' "$(jq -r .listen "$(config_of "$1")")"; }

# `elapsed START`: seconds since START (from `now`), one decimal.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# the prober's base URL
PROBER=http://$(jq -r .listen "$(config_of hwc-ai-prober)")
