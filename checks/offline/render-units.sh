#!/usr/bin/env bash
# Renders the hwc-ai systemd units (hwc-ai-prober.service, ...) from the pure
# Nix functions the NixOS module uses, for hosts without NixOS. For each
# stdio server the MCP gateway's config reaches through a socket, a socket
# unit and a wrapper's service too (hwc-ai-mcp-server-<name>.socket and
# .service, config <config-dir>/hwc-ai-mcp-server-<name>.json); their
# SocketGroup= (hwc-ai-mcp) must exist on the host.
#
#   render-units.sh --bin-dir DIR --config-dir DIR --out DIR [--credential NAME=PATH]...
#
#   --bin-dir DIR       where the hwc-ai-* binaries are on the target host
#   --config-dir DIR    where their configs are on the target host:
#                       ExecStart=... --config DIR/<daemon>.json
#   --out DIR           where to write the .service files (created)
#   --credential N=P    LoadCredential=N:P (repeat for more); the daemon reads
#                       it as $CREDENTIALS_DIRECTORY/N, its config says
#                       {"credential": "N"}. Each unit loads the credentials
#                       its config names (all of them when it has no config)
#   --config-source DIR read the configs from DIR instead of --config-dir (when
#                       they are written elsewhere before being installed):
#                       the unit's IP filter is derived from their targets
#                       and backends
#
# Needs only nix-instantiate (no nixpkgs). Prints the paths it wrote.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin_dir= config_dir= out= config_source=
credentials='{}'

usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
        --bin-dir) bin_dir=${2:?}; shift 2 ;;
        --config-dir) config_dir=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --config-source) config_source=${2:?}; shift 2 ;;
        --credential)
            pair=${2:?}
            name=${pair%%=*} path=${pair#*=}
            if [ "$name" = "$pair" ] || [ -z "$name" ] || [ "${path#/}" = "$path" ]; then
                echo "render-units.sh: --credential wants NAME=/absolute/path, got '$pair'" >&2
                exit 2
            fi
            credentials=$(jq -c --arg n "$name" --arg p "$path" '. + {($n): $p}' <<<"$credentials")
            shift 2
            ;;
        -h | --help) usage ;;
        *) echo "render-units.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[ -n "$bin_dir" ] && [ -n "$config_dir" ] && [ -n "$out" ] || usage

for dir in bin_dir config_dir; do
    case ${!dir} in
        /*) ;;
        *) echo "render-units.sh: --${dir//_/-} must be an absolute path, got '${!dir}'" >&2; exit 2 ;;
    esac
done

# The configs decide each unit's IP filter and the credentials it loads, as
# in the NixOS module.
configs='{}'
source_dir=${config_source:-$config_dir}
# every daemon of modules/lib/daemons.nix
daemons=$(nix-instantiate --eval --strict --json "$here/../../modules/lib/daemons.nix" -A units 2>/dev/null | jq -r '.[]')
[ -n "$daemons" ] || { echo "render-units.sh: cannot read the daemons of modules/lib/daemons.nix" >&2; exit 1; }
for daemon in $daemons; do
    if [ -f "$source_dir/$daemon.json" ]; then
        configs=$(jq -c --arg d "$daemon" --slurpfile c "$source_dir/$daemon.json" '. + {($d): $c[0]}' <<<"$configs")
    else
        echo "render-units.sh: no $source_dir/$daemon.json; assuming its peers are all on loopback and it loads every --credential" >&2
    fi
done
# the wrappers' configs: the credentials each loads (secretEnv)
for config in "$source_dir"/hwc-ai-mcp-server-*.json; do
    [ -f "$config" ] || continue
    configs=$(jq -c --arg d "$(basename "$config" .json)" --slurpfile c "$config" '. + {($d): $c[0]}' <<<"$configs")
done

mkdir -p "$out"
nix-instantiate --eval --strict --json "$here/units.nix" \
    --argstr binDir "$bin_dir" \
    --argstr configDir "$config_dir" \
    --argstr credentialsJson "$credentials" \
    --argstr configsJson "$configs" >"$out/.units.json"
for unit in $(jq -r 'keys[]' "$out/.units.json"); do
    jq -r --arg u "$unit" '.[$u]' "$out/.units.json" >"$out/$unit"
    echo "$out/$unit"
done
rm -f "$out/.units.json"
