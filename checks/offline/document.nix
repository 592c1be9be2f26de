# The prober document the NixOS module renders for `hwc.ai.enable = true`
# and nothing else (see cases/defaults.nix), built from the same pure
# functions. The offline checks validate it with `hwc-ai-prober
# --check-config` and score the unit that runs it.
let
  prober = import ../../modules/lib/prober.nix;
in
prober.document {
  listen = "127.0.0.1:9430";
  targets = prober.defaultTargets {
    ollama = {
      host = "127.0.0.1";
      port = 11434;
    };
    # hwc-ai-router runs whenever hwc-ai does
    daemons.hwc-ai-router.listen = "127.0.0.1:9432";
  };
}
