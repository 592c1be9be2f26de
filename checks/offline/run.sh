#!/usr/bin/env bash
# The checks that need no nixpkgs: what CI runs.
#
#   NIXPKGS_LIB=/path/to/nixpkgs.lib/lib checks/offline/run.sh --bin-dir target/debug
#
#   --bin-dir DIR   the built hwc-ai binaries (hwc-ai-prober, ...)
#   NIXPKGS_LIB     optional: nixpkgs' `lib` directory (the one holding
#                   default.nix, e.g. a checkout of nixpkgs.lib's lib/, or
#                   <nixpkgs>/lib); a checkout's root is accepted too.
#                   Without it, the module-system evaluation is skipped and
#                   said so (a failure when CI=true); everything else runs.
#
# 1. nix-instantiate --parse on every .nix file of the repository;
# 2. the pure functions of modules/lib/ against expectations (pure.nix);
# 3. with NIXPKGS_LIB: the module through lib.evalModules against stand-ins
#    of the NixOS options it sets, one case per file in cases/ (eval.nix),
#    the stand-ins rejecting what NixOS rejects (stubs-strict.nix), the
#    flake's outputs with stand-in packages (flake-outputs.nix), and
#    docs/options.md against the module's options (options-doc.sh);
# 4. the prober, router and MCP documents (the module's, with and without
#    cloud providers or remote MCP servers, and the docs' examples) through
#    `hwc-ai-prober --check-config`, `hwc-ai-router --check-config`,
#    `hwc-ai-mcp --check-config` and `hwc-ai-mcp wrap --check-config`, and
#    the assistant's with typed workflows (case-document.nix, with
#    NIXPKGS_LIB) through `hwc-ai-assistant --check-config`, as the
#    module's build-time check does; a typo must be rejected;
# 5. the units rendered from modules/lib/ (render-units.sh) through
#    `systemd-analyze verify` and `systemd-analyze security --offline=true`:
#    an exposure above 1.5 fails. The router's unit is loopback-only without
#    a cloud provider and loads exactly its credentials with them; the MCP
#    gateway's is loopback-only without a remote server and joins the
#    wrappers' socket group; each wrapped server's unit has no network and
#    loads its own secrets only. Every unit has its resource limits
#    (MemoryMax=, TasksMax=, LimitNOFILE=, from modules/lib/daemons.nix).
#    With NIXPKGS_LIB, the typed workflows' timers and services too.
#
# Ends with "N passed, M failed[, K skipped]"; exits 1 if anything failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
max_exposure=1.5
bin_dir=

while [ $# -gt 0 ]; do
    case $1 in
        --bin-dir) bin_dir=${2:?}; shift 2 ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
if [ -z "$bin_dir" ]; then
    echo "run.sh: --bin-dir DIR is required (the built hwc-ai binaries)" >&2
    exit 2
fi
bin_dir=$(cd "$bin_dir" && pwd) || exit 2
for tool in nix-instantiate systemd-analyze jq; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 2; }
done
for bin in hwc-ai-prober hwc-ai-router hwc-ai-mcp hwc-ai-assistant; do
    [ -x "$bin_dir/$bin" ] || { echo "run.sh: $bin_dir/$bin is missing; build it first" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0 skipped=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() { skipped=$((skipped + 1)); echo "skip $*"; }

nix_eval() { nix-instantiate --readonly-mode --eval --strict --json "$@"; }

# Reads { case, what, ok, got, want } results on stdin and counts them.
report() {
    local results
    results=$(cat)
    while IFS= read -r line; do
        case $line in
            ok*) pass "${line#ok }" ;;
            *) fail "${line#FAIL }" ;;
        esac
    done < <(jq -r '.[] | if .ok then "ok \(.case): \(.what)"
        else "FAIL \(.case): \(.what)\n       got:  \(.got | tojson)\n       want: \(.want | tojson)" end' <<<"$results" |
        awk '/^(ok|FAIL) /{ if (buf != "") print buf; buf = $0; next } { buf = buf " |" $0 } END { if (buf != "") print buf }')
}

echo "== 1. parse every .nix file"
parsed=0 bad=0
while IFS= read -r -d '' file; do
    if out=$(nix-instantiate --parse "$file" 2>&1 >/dev/null); then
        parsed=$((parsed + 1))
    else
        bad=$((bad + 1))
        fail "parse ${file#"$root"/}: $out"
    fi
done < <(find "$root" \( -name .git -o -name target -o -name 'result*' -o -name '.venv*' \) -prune -o -name '*.nix' -type f -print0)
if [ "$bad" = 0 ] && [ "$parsed" -gt 0 ]; then
    pass "parse: $parsed .nix files"
fi

echo "== 2. pure functions of modules/lib/"
if results=$(nix_eval "$here/pure.nix" 2>"$work/err"); then
    report <<<"$results"
else
    fail "pure.nix does not evaluate: $(cat "$work/err")"
fi

echo "== 3. the module, through lib.evalModules"
lib_dir=${NIXPKGS_LIB:-}
if [ -n "$lib_dir" ] && [ ! -f "$lib_dir/default.nix" ] && [ -f "$lib_dir/lib/default.nix" ]; then
    lib_dir=$lib_dir/lib
fi
if [ -z "$lib_dir" ] && [ "${CI:-}" = true ]; then
    fail "module evaluation: NIXPKGS_LIB is not set; CI must evaluate the module (checks/run sets it to ../shared/vendor/nixpkgs.lib/lib when that exists)"
elif [ -z "$lib_dir" ]; then
    skip "module evaluation: NIXPKGS_LIB is not set (nixpkgs' lib is not packaged on any registry this CI reaches); the pure functions the module calls were checked above, and 'nix flake check' runs these cases as the module-eval check"
elif [ ! -f "$lib_dir/default.nix" ]; then
    fail "module evaluation: NIXPKGS_LIB=$NIXPKGS_LIB holds no default.nix"
else
    lib_dir=$(cd "$lib_dir" && pwd)
    for case_file in "$here"/cases/*.nix; do
        if results=$(nix_eval "$here/eval.nix" --arg lib "import $lib_dir" --arg case "$case_file" 2>"$work/err"); then
            report <<<"$results"
        else
            fail "$(basename "$case_file") does not evaluate: $(grep -m3 -v '^ *$' "$work/err" | tr '\n' ' ')"
        fi
    done
    if results=$(nix_eval "$here/stubs-strict.nix" --arg lib "import $lib_dir" 2>"$work/err"); then
        report <<<"$results"
    else
        fail "stubs-strict.nix does not evaluate: $(grep -m3 -v '^ *$' "$work/err" | tr '\n' ' ')"
    fi
    if results=$(nix_eval "$here/flake-outputs.nix" --arg lib "import $lib_dir" 2>"$work/err"); then
        report <<<"$results"
    else
        fail "flake-outputs.nix does not evaluate: $(grep -m3 -v '^ *$' "$work/err" | tr '\n' ' ')"
    fi
    if out=$(NIXPKGS_LIB=$lib_dir "$here/options-doc.sh" 2>&1); then
        pass "docs/options.md is the module's option reference"
    else
        fail "docs/options.md: $out"
    fi
fi

echo "== 4. configs through --check-config"
mkdir -p "$work/config" "$work/example" "$work/cloud"
nix_eval "$here/document.nix" >"$work/config/hwc-ai-prober.json"
cp "$here/prober.json" "$work/example/hwc-ai-prober.json"
nix_eval "$here/router-documents.nix" >"$work/router-documents.json"
jq .default "$work/router-documents.json" >"$work/config/hwc-ai-router.json"
jq .cloud "$work/router-documents.json" >"$work/cloud/hwc-ai-router.json"
cp "$work/config/hwc-ai-prober.json" "$work/cloud/hwc-ai-prober.json"
cp "$here/router.json" "$work/example/hwc-ai-router.json"
# the MCP gateway with one wrapped stdio server (the module's default
# shape), and with a secret, a remote server and client keys (cloud/)
nix_eval "$here/mcp-documents.nix" >"$work/mcp-documents.json"
jq .default "$work/mcp-documents.json" >"$work/config/hwc-ai-mcp.json"
jq .full "$work/mcp-documents.json" >"$work/cloud/hwc-ai-mcp.json"
for server in $(jq -r '.wrap | keys[]' "$work/mcp-documents.json"); do
    jq --arg s "$server" '.wrap[$s]' "$work/mcp-documents.json" >"$work/cloud/hwc-ai-mcp-server-$server.json"
done
cp "$work/cloud/hwc-ai-mcp-server-time.json" "$work/config/"
# `check_config "DAEMON [SUBCOMMAND]" FILE WHAT`
check_config() {
    local command=$1 doc=$2 name=$3 out words
    read -ra words <<<"$command"
    if out=$("$bin_dir/${words[0]}" "${words[@]:1}" --check-config --config "$doc" 2>&1); then
        pass "$command --check-config accepts $name"
    else
        fail "$command --check-config rejects $name: $out"
    fi
}
# reject "DAEMON [SUBCOMMAND]" FIELD FILE: it must refuse FILE and name FIELD
reject() {
    local command=$1 field=$2 doc=$3 out words
    read -ra words <<<"$command"
    if out=$("$bin_dir/${words[0]}" "${words[@]:1}" --check-config --config "$doc" 2>&1); then
        fail "$command --check-config accepts a typo ($field)"
    elif grep -qF "$field" <<<"$out"; then
        pass "$command --check-config rejects a typo and names it: $out"
    else
        fail "$command --check-config rejects a typo without naming it: $out"
    fi
}
check_config hwc-ai-prober "$work/config/hwc-ai-prober.json" "the module's default document"
check_config hwc-ai-prober "$work/example/hwc-ai-prober.json" "docs/prober.md's example"
check_config hwc-ai-router "$work/config/hwc-ai-router.json" "the module's default document"
check_config hwc-ai-router "$work/cloud/hwc-ai-router.json" "the module's document with OpenAI, Anthropic, aliases and a client key"
check_config hwc-ai-router "$work/example/hwc-ai-router.json" "docs/router.md's example"
jq '.defaults.intreval = .defaults.interval' "$work/config/hwc-ai-prober.json" >"$work/typo.json"
reject hwc-ai-prober intreval "$work/typo.json"
jq '.routes[0].targets[0].backend = "olama"' "$work/cloud/hwc-ai-router.json" >"$work/typo.json"
reject hwc-ai-router 'routes[0].targets[0].backend' "$work/typo.json"
# what the module leaves to the daemons' own checks, at build time: a
# target named twice, a model routed twice
jq '.targets += [.targets[0]]' "$work/config/hwc-ai-prober.json" >"$work/typo.json"
reject hwc-ai-prober "targets[$(jq '.targets | length' "$work/config/hwc-ai-prober.json")].name" "$work/typo.json"
jq '.routes += [.routes[0]]' "$work/cloud/hwc-ai-router.json" >"$work/typo.json"
reject hwc-ai-router 'is routed twice' "$work/typo.json"
check_config hwc-ai-mcp "$work/config/hwc-ai-mcp.json" "the module's document with one stdio server"
check_config hwc-ai-mcp "$work/cloud/hwc-ai-mcp.json" "the module's document with a remote server, tool policies and a client key"
for wrap in "$work"/cloud/hwc-ai-mcp-server-*.json; do
    check_config "hwc-ai-mcp wrap" "$wrap" "the module's wrapper document $(basename "$wrap")"
done
jq '.servers[0].tools.alow = ["x"]' "$work/cloud/hwc-ai-mcp.json" >"$work/typo.json"
reject hwc-ai-mcp alow "$work/typo.json"
jq '.secretEnv.GITHUB_PERSONAL_ACCESS_TOKEN = {"credentail": "x"}' "$work/cloud/hwc-ai-mcp-server-github.json" >"$work/typo.json"
reject "hwc-ai-mcp wrap" 'secretEnv.GITHUB_PERSONAL_ACCESS_TOKEN' "$work/typo.json"
# the typed workflows (hwc.ai.workflows) as the assistant's document
if [ -n "$lib_dir" ] && [ -f "$lib_dir/default.nix" ]; then
    if nix_eval "$here/case-document.nix" --arg lib "import $lib_dir" --arg case "$here/cases/workflows.nix" \
        --argstr daemon assistant >"$work/assistant-workflows.json" 2>"$work/err"; then
        check_config hwc-ai-assistant "$work/assistant-workflows.json" "the module's document with typed workflows of every kind"
        # its units (the scheduled workflows' timers and services) are checked with the cloud set's
        cp "$work/assistant-workflows.json" "$work/cloud/hwc-ai-assistant.json"
        jq '.workflows["disk-report"].prompt += " {{colour}}"' "$work/assistant-workflows.json" >"$work/typo.json"
        reject hwc-ai-assistant 'workflows.disk-report.prompt' "$work/typo.json"
    else
        fail "case-document.nix does not evaluate: $(grep -m3 -v '^ *$' "$work/err" | tr '\n' ' ')"
    fi
fi

echo "== 5. units: systemd-analyze verify and security"
# systemd < 254 does not know these two keys and ignores them (the restart
# delay then stays at RestartSec); any other complaint is a failure.
known_noise="Unknown key.*'(RestartSteps|RestartMaxDelaySec)'"
check_units() {
    local label=$1 config_source=$2 out_dir=$3
    shift 3
    if ! "$here/render-units.sh" --bin-dir "$bin_dir" --config-dir "$config_source" \
        --out "$out_dir" "$@" >/dev/null 2>"$work/err"; then
        fail "$label: render-units.sh failed: $(cat "$work/err")"
        return
    fi
    local unit name verify score
    for unit in "$out_dir"/*.service "$out_dir"/*.socket "$out_dir"/*.timer; do
        [ -f "$unit" ] || continue
        name=$(basename "$unit")
        verify=$(systemd-analyze verify "$unit" 2>&1)
        local rc=$?
        verify=$(grep -Ev "$known_noise" <<<"$verify" | grep -v '^$')
        if [ "$rc" = 0 ] && [ -z "$verify" ]; then
            pass "$label: systemd-analyze verify $name"
        else
            fail "$label: systemd-analyze verify $name: $verify"
        fi
        # a socket or a timer runs nothing: the score is its service's
        [ "${name%.socket}" = "$name" ] && [ "${name%.timer}" = "$name" ] || continue
        score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
            sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
        if [ -z "$score" ]; then
            fail "$label: systemd-analyze security $name gave no score"
        elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
            pass "$label: $name exposure $score (at most $max_exposure)"
        else
            fail "$label: $name exposure $score, above $max_exposure"
            systemd-analyze security --offline=true "$unit" 2>/dev/null | grep '✗' | sed 's/^/       /'
        fi
    done
}
check_units "loopback" "$work/config" "$work/units"
check_units "with credentials and remote targets" "$work/example" "$work/units-example" \
    --credential grafana-token=/run/secrets/grafana-token --credential ntfy-url=/run/secrets/ntfy-url \
    --credential openai-key=/run/secrets/openai-key --credential router-key-open-webui=/run/secrets/router-key-open-webui
if grep -qx 'LoadCredential=grafana-token:/run/secrets/grafana-token' "$work/units-example/hwc-ai-prober.service"; then
    pass "render-units.sh: --credential becomes LoadCredential="
else
    fail "render-units.sh: --credential did not become LoadCredential="
fi
cloud_credentials=()
while IFS= read -r pair; do
    cloud_credentials+=(--credential "$pair")
done < <(jq -r '.cloudCredentials | to_entries[] | "\(.key)=\(.value)"' "$work/router-documents.json")
while IFS= read -r pair; do
    cloud_credentials+=(--credential "$pair")
done < <(jq -r '.credentials[] | to_entries[] | "\(.key)=\(.value)"' "$work/mcp-documents.json")
check_units "cloud providers enabled" "$work/cloud" "$work/units-cloud" "${cloud_credentials[@]}"

# egress (IPAddressDeny/Allow) and credentials of the router's unit
router_unit() { grep -E "^$2=" "$1/hwc-ai-router.service" | sort | tr '\n' ' ' | sed 's/ $//'; }
got=$(router_unit "$work/units" 'IPAddress(Deny|Allow)')
if [ "$got" = "IPAddressAllow=localhost IPAddressDeny=any" ]; then
    pass "hwc-ai-router without a cloud provider: loopback only ($got)"
else
    fail "hwc-ai-router without a cloud provider: want IPAddressAllow=localhost IPAddressDeny=any, got '$got'"
fi
got=$(router_unit "$work/units-cloud" 'IPAddress(Deny|Allow)')
if [ -z "$got" ]; then
    pass "hwc-ai-router with cloud providers: no IP filter (their addresses are known only at run time)"
else
    fail "hwc-ai-router with cloud providers: want no IP filter, got '$got'"
fi
got=$(router_unit "$work/units-cloud" LoadCredential)
want=$(jq -r '.cloudCredentials | to_entries | map("LoadCredential=\(.key):\(.value)") | sort | join(" ")' "$work/router-documents.json")
if [ "$got" = "$want" ]; then
    pass "hwc-ai-router with cloud providers loads its API and client keys: $got"
else
    fail "hwc-ai-router with cloud providers: want '$want', got '$got'"
fi
if ! grep -q '^LoadCredential=' "$work/units-cloud/hwc-ai-prober.service"; then
    pass "render-units.sh: the prober does not load the router's credentials"
else
    fail "render-units.sh: the prober loads credentials its config does not name"
fi

# resource limits: every daemon of the table renders its defaults
while IFS=$'\t' read -r unit want; do
    got=$(grep -E '^(MemoryMax|MemoryHigh|TasksMax|LimitNOFILE)=' "$work/units/$unit.service" | sort | tr '\n' ' ' | sed 's/ $//')
    if [ "$got" = "$want" ]; then
        pass "$unit.service has its resource limits: $got"
    else
        fail "$unit.service resource limits: want '$want', got '$got'"
    fi
done < <(nix_eval "$root/modules/lib/daemons.nix" -A all |
    jq -r '.[] | [.unit, "LimitNOFILE=\(.limits.openFiles) MemoryMax=\(.limits.memoryMax) TasksMax=\(.limits.tasksMax)"] | @tsv')

# the MCP gateway and its wrapped servers: `expect_unit DIR UNIT KEY-REGEX WANT WHAT`
expect_unit() {
    local got
    got=$(grep -E "^($3)=" "$1/$2" | sort | tr '\n' ' ' | sed 's/ $//')
    if [ "$got" = "$4" ]; then
        pass "$2 $5: ${got:-nothing}"
    else
        fail "$2 $5: want '$4', got '$got'"
    fi
}
expect_unit "$work/units" hwc-ai-mcp.service 'IPAddress(Deny|Allow)' \
    "IPAddressAllow=localhost IPAddressDeny=any" "without a remote server: loopback only"
expect_unit "$work/units" hwc-ai-mcp.service 'SupplementaryGroups|After|Wants' \
    "After=network-online.target hwc-ai-mcp-server-time.socket SupplementaryGroups=hwc-ai-mcp-sockets Wants=network-online.target hwc-ai-mcp-server-time.socket" \
    "joins the sockets' group, after the sockets"
expect_unit "$work/units" hwc-ai-mcp-server-time.socket 'ListenStream|SocketMode|SocketGroup' \
    "ListenStream=/run/hwc-ai-mcp/time.sock SocketGroup=hwc-ai-mcp-sockets SocketMode=0660" "is open to its group only"
expect_unit "$work/units" hwc-ai-mcp-server-time.service 'PrivateNetwork|ExecStart|WantedBy|Type' \
    "ExecStart=$bin_dir/hwc-ai-mcp wrap --config $work/config/hwc-ai-mcp-server-time.json PrivateNetwork=true Type=notify" \
    "runs the wrapper, without the network, started by its socket only"
expect_unit "$work/units-cloud" hwc-ai-mcp.service 'IPAddress(Deny|Allow)|LoadCredential' \
    "LoadCredential=mcp-key-open-webui:/run/secrets/mcp-key-open-webui LoadCredential=mcp-token-docs:/run/secrets/mcp-docs-token" \
    "with a remote server by host name: no IP filter, its token and the client key loaded"
expect_unit "$work/units-cloud" hwc-ai-mcp-server-github.service 'LoadCredential' \
    "LoadCredential=GITHUB_PERSONAL_ACCESS_TOKEN:/run/secrets/github-token" "loads its own secret only"
expect_unit "$work/units-cloud" hwc-ai-mcp-server-time.service 'LoadCredential' "" "loads no secret"
expect_unit "$work/units" hwc-ai-mcp-server-time.service 'MemoryMax|TasksMax|LimitNOFILE|CPUQuota' \
    "CPUQuota=100% LimitNOFILE=4096 MemoryMax=512M TasksMax=256" "has its sandbox's resource limits"

echo
if [ "$skipped" -gt 0 ]; then
    echo "offline: $passed passed, $failed failed, $skipped skipped"
else
    echo "offline: $passed passed, $failed failed"
fi
[ "$failed" = 0 ]
