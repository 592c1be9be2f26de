# Addresses and URLs, as pure functions (no `pkgs`, no `lib`).
let
  matches = regex: s: builtins.match regex s != null;

  # "http://[::1]:8080/x" -> "::1", "grafana.lan:443" -> "grafana.lan";
  # anything else -> null ("could be anywhere").
  hostOf =
    endpoint:
    let
      schemeless =
        let
          m = builtins.match "[a-zA-Z][a-zA-Z0-9+.-]*://(.*)" endpoint;
        in
        if m == null then endpoint else builtins.head m;
      # drop "user:password@"
      hostFirst =
        let
          m = builtins.match "[^/@]*@(.*)" schemeless;
        in
        if m == null then schemeless else builtins.head m;
      bracketed = builtins.match "[[]([0-9a-fA-F:.]+)[]].*" hostFirst;
      plain = builtins.match "([^:/?#]+).*" hostFirst;
    in
    if !(builtins.isString endpoint) then
      null
    else if bracketed != null then
      builtins.head bracketed
    else if plain != null then
      builtins.head plain
    else
      null;

  isLoopback =
    host:
    host != null
    && (
      host == "localhost"
      || host == "localhost."
      || host == "::1"
      || matches "127\\.[0-9]+\\.[0-9]+\\.[0-9]+" host
    );

  isIpLiteral =
    host:
    host != null
    && (matches "[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+" host || matches "[0-9a-fA-F.]*:[0-9a-fA-F:.]*" host);

  # "[::1]" -> "::1": an address as written in a URL, as a bare address.
  unbracket =
    host:
    let
      m = builtins.match "[[](.*)[]]" host;
    in
    if m == null then host else builtins.head m;

  # "host:port", IPv6 in brackets (whether or not `host` had them).
  hostPort =
    host: port:
    let
      bare = unbracket host;
    in
    if builtins.match ".*:.*" bare != null then "[${bare}]:${toString port}" else "${bare}:${toString port}";

  # The address to reach a service listening on `host` from this machine:
  # a wildcard address is reached through loopback.
  reachable =
    written:
    let
      host = unbracket written;
    in
    if host == "0.0.0.0" || host == "" then
      "127.0.0.1"
    else if host == "::" then
      "::1"
    else
      host;

  # "0.0.0.0:9431" -> { host = "0.0.0.0"; port = "9431"; }; null if unparsable.
  parseListen =
    listen:
    let
      bracketed = builtins.match "[[]([^]]*)[]]:([0-9]+)" listen;
      plain = builtins.match "([^:]*):([0-9]+)" listen;
      m = if bracketed != null then bracketed else plain;
    in
    if m == null then
      null
    else
      {
        host = builtins.elemAt m 0;
        port = builtins.elemAt m 1;
      };

  # "0.0.0.0:9431" -> "127.0.0.1:9431": where a listener is reached locally.
  localAddress =
    listen:
    let
      parsed = parseListen listen;
    in
    if parsed == null then listen else hostPort (reachable parsed.host) parsed.port;

  httpUrl = host: port: "http://${hostPort (reachable host) port}";
in
{
  inherit
    hostOf
    isLoopback
    isIpLiteral
    hostPort
    reachable
    parseListen
    localAddress
    httpUrl
    ;
}
