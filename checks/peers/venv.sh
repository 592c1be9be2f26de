# Pinned virtualenvs for the real-peers checks, sourced by checks/peers/run
# and checks/peers/mcp/run.
#
#   ensure_venv VENV LOG PIN...
#
# makes VENV hold exactly these pins (`name==version`, extras allowed). A
# venv is reused while the versions recorded in it (pip freeze of the pinned
# packages, in hwc-ai-pins.txt) match the pins; otherwise the pins are
# installed into it again, pip's output going to LOG. $python (default
# python3) creates new venvs.

python=${python:-${PYTHON:-python3}}

# The pinned packages' names, lower case, without extras or versions.
pin_names() {
    local pin
    for pin in "$@"; do
        pin=${pin%%==*}
        pin=${pin%%\[*}
        echo "${pin,,}"
    done
}

# What the venv has of the pinned packages, as `name==version` lines.
installed_pins() {
    local venv=$1
    shift
    local names
    names=$(pin_names "$@" | paste -sd'|')
    "$venv/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null |
        tr '[:upper:]_' '[:lower:]-' | grep -E "^($names)==" | sort
}

# The pins as the venv would record them: lower case, no extras.
wanted_pins() {
    local pin
    for pin in "$@"; do
        local name=${pin%%==*}
        name=${name%%\[*}
        echo "${name,,}==${pin##*==}" | tr '_' '-'
    done | sort
}

# Creates or updates a venv until it holds exactly these pins.
ensure_venv() {
    local venv=$1 log=$2
    shift 2
    local wanted
    wanted=$(wanted_pins "$@")
    if [ -x "$venv/bin/python" ] && [ -f "$venv/hwc-ai-pins.txt" ] &&
        [ "$(cat "$venv/hwc-ai-pins.txt")" = "$wanted" ]; then
        return 0
    fi
    if [ -x "$venv/bin/python" ] && [ "$(installed_pins "$venv" "$@")" = "$wanted" ]; then
        echo "$wanted" >"$venv/hwc-ai-pins.txt"
        return 0
    fi
    echo "checks/peers: installing $* into $venv (log: $log)"
    rm -f "$venv/hwc-ai-pins.txt"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv" >>"$log" 2>&1 || return 1
    "$venv/bin/python" -m pip install --disable-pip-version-check -q "$@" >>"$log" 2>&1 || {
        echo "checks/peers: pip install failed; the end of $log:" >&2
        tail -n 30 "$log" >&2
        return 1
    }
    local got
    got=$(installed_pins "$venv" "$@")
    if [ "$got" != "$wanted" ]; then
        printf 'checks/peers: %s holds\n%s\ninstead of\n%s\n' "$venv" "$got" "$wanted" >&2
        return 1
    fi
    echo "$wanted" >"$venv/hwc-ai-pins.txt"
}
