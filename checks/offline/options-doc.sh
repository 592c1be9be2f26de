#!/usr/bin/env bash
# docs/options.md, the option reference, is generated from the module
# (checks/offline/options-doc.nix). This fails when the checked-in file
# differs from what the module says, and prints the command that
# regenerates it; with --write it regenerates it.
#
#   NIXPKGS_LIB=/path/to/nixpkgs.lib/lib checks/offline/options-doc.sh [--write]
#
#   NIXPKGS_LIB   nixpkgs' `lib` directory (the one holding default.nix)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
doc=$root/docs/options.md
write=false
case ${1:-} in
    --write) write=true ;;
    "") ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "options-doc.sh: unknown argument '$1'" >&2; exit 2 ;;
esac
lib_dir=${NIXPKGS_LIB:?options-doc.sh: set NIXPKGS_LIB to nixpkgs\' lib directory}
[ -f "$lib_dir/default.nix" ] || [ ! -f "$lib_dir/lib/default.nix" ] || lib_dir=$lib_dir/lib
lib_dir=$(cd "$lib_dir" && pwd)

generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
nix-instantiate --readonly-mode --eval --strict --json "$here/options-doc.nix" \
    --arg lib "import $lib_dir" 2>/dev/null | jq -j . >"$generated" || {
    nix-instantiate --readonly-mode --eval --strict --json "$here/options-doc.nix" --arg lib "import $lib_dir" >/dev/null
    exit 1
}

if $write; then
    cp "$generated" "$doc"
    echo "options-doc.sh: wrote docs/options.md"
elif diff -u --label docs/options.md --label 'the module' "$doc" "$generated"; then
    echo "options-doc.sh: docs/options.md matches the module"
else
    echo "options-doc.sh: docs/options.md is out of date; regenerate it with" >&2
    echo "  NIXPKGS_LIB=$NIXPKGS_LIB checks/offline/options-doc.sh --write" >&2
    exit 1
fi
