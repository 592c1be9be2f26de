#!/usr/bin/env python3
"""Checks Grafana dashboards against Grafana's rules and a live Prometheus.

    dashboards.py --prometheus URL [--structure-only] [--rules] DASHBOARD.json...

1. Structure: what Grafana needs to provision and render a dashboard (uid,
   title, schemaVersion, panels with unique ids, a gridPos inside the 24
   columns, targets with a unique refId and an expr), every panel and target
   on the `${datasource}` variable, and every template variable well formed.
2. Against Prometheus (skipped with --structure-only): each query variable
   (`label_values(metric, label)`) must have values; then every target of
   every panel, with the variables expanded to all their values and
   Grafana's `$__rate_interval`, `$__interval` and `$__range` replaced, is
   sent to /api/v1/query and must parse and return at least one series; and
   every metric it names must exist, so `... or vector(0)` cannot hide a
   renamed metric. With --rules, every metric the alert rules Prometheus
   has loaded name must exist too.

Standard library only. Exits 1 naming every problem found.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {
    "stat", "gauge", "bargauge", "timeseries", "state-timeline", "table", "text",
    "row", "status-history", "piechart",
}
# Grafana's own variables, replaced by windows that fit a short scrape.
BUILTINS = {"__rate_interval": "10s", "__interval": "2s", "__range": "1m"}
METRIC = re.compile(r"\b(hwc_ai_[a-z0-9_]+|process_start_time_seconds)\b")
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
LABEL_VALUES = re.compile(r"^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*(\w+)\s*\)$")


def structure(path, board):
    problems = []

    def bad(where, what):
        problems.append(f"{path}: {where}: {what}")

    for key, kind in [("uid", str), ("title", str), ("schemaVersion", int),
                      ("panels", list), ("templating", dict), ("time", dict)]:
        if not isinstance(board.get(key), kind):
            bad(key, f"missing or not a {kind.__name__}")
    if problems:
        return problems
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"]):
        bad("uid", f"`{board['uid']}`: Grafana takes at most 40 of [a-zA-Z0-9_-]")
    if board["schemaVersion"] < 36:
        bad("schemaVersion", "below 36: datasource references by uid need 36 or later")
    if "id" in board and board["id"] is not None:
        bad("id", "a provisioned dashboard must not carry a database id")

    variables = board["templating"].get("list")
    if not isinstance(variables, list):
        bad("templating.list", "missing")
        variables = []
    names = set()
    for i, var in enumerate(variables):
        where = f"templating.list[{i}]"
        name = var.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"\w+", name):
            bad(where, "no usable name")
            continue
        if name in names:
            bad(where, f"variable `{name}` twice")
        names.add(name)
        if var.get("type") == "datasource":
            if var.get("query") != "prometheus":
                bad(where, "a datasource variable must select prometheus")
        elif var.get("type") == "query":
            if var.get("datasource") != DATASOURCE:
                bad(where, "a query variable must use ${datasource}")
            query = var.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            if not isinstance(query, str) or not LABEL_VALUES.match(query):
                bad(where, f"query `{query}` is not label_values(metric, label)")
        else:
            bad(where, f"type `{var.get('type')}` is not datasource or query")
    if "datasource" not in names:
        bad("templating", "no `datasource` variable")

    ids = set()
    for i, panel in enumerate(board["panels"]):
        where = f"panels[{i}] ({panel.get('title')!r})"
        pid = panel.get("id")
        if not isinstance(pid, int):
            bad(where, "no integer id")
        elif pid in ids:
            bad(where, f"id {pid} used twice")
        ids.add(pid)
        if panel.get("type") not in PANEL_TYPES:
            bad(where, f"unknown panel type `{panel.get('type')}`")
        if not isinstance(panel.get("title"), str) or not panel["title"]:
            bad(where, "no title")
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in "xywh"):
            bad(where, "gridPos needs integer x, y, w, h")
        elif grid["x"] < 0 or grid["w"] < 1 or grid["x"] + grid["w"] > 24 or grid["h"] < 1:
            bad(where, f"gridPos {grid} is outside Grafana's 24 columns")
        if panel.get("type") in ("row", "text"):
            continue
        if panel.get("datasource") != DATASOURCE:
            bad(where, "datasource is not ${datasource}")
        targets = panel.get("targets")
        if not isinstance(targets, list) or not targets:
            bad(where, "no targets")
            continue
        refs = set()
        for j, target in enumerate(targets):
            twhere = f"{where}.targets[{j}]"
            ref = target.get("refId")
            if not isinstance(ref, str) or not ref or ref in refs:
                bad(twhere, "refId missing or repeated")
            refs.add(ref)
            if not isinstance(target.get("expr"), str) or not target["expr"].strip():
                bad(twhere, "no expr")
            if target.get("datasource") != DATASOURCE:
                bad(twhere, "datasource is not ${datasource}")
            for m in VARIABLE.finditer(target.get("expr", "")):
                var = m.group(1) or m.group(2)
                if var not in names and var not in BUILTINS:
                    bad(twhere, f"uses ${var}, which is not a variable of the dashboard")
    return problems


def promql_regex(value):
    """A label value as Grafana's Prometheus data source puts it in a
    regex matcher (its `prometheusRegularEscape`): regex metacharacters
    escaped, with the backslashes doubled because the regex is inside a
    PromQL string."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value)


class Prometheus:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def get(self, path, params):
        url = f"{self.url}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        if body.get("status") != "success":
            raise ValueError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]


def live(path, board, prom, names):
    problems = []
    values = dict(BUILTINS)
    for var in board["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        metric, label = LABEL_VALUES.match(query).groups()
        found = prom.get(f"/api/v1/label/{label}/values", {"match[]": metric})
        if not found:
            problems.append(f"{path}: variable ${var['name']}: `{query}` has no values")
            found = ["none"]
        # What Grafana sends for "All" of a multi-value variable: each value
        # escaped for a regex, then for a PromQL string (`ollama/\\*`).
        values[var["name"]] = "(" + "|".join(promql_regex(v) for v in found) + ")"

    queries = 0
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), target["expr"])
            where = f"{path}: {panel['title']!r} {target['refId']}"
            queries += 1
            try:
                result = prom.get("/api/v1/query", {"query": expr})["result"]
            except ValueError as e:
                problems.append(f"{where}: `{expr}`: {e}")
                continue
            if not result:
                problems.append(f"{where}: `{expr}` returned no series")
            for metric in sorted(set(METRIC.findall(expr))):
                # Histograms are queried by their series' names.
                if metric not in names:
                    problems.append(f"{where}: metric {metric} is not exported")
    if not problems:
        print(f"{path}: {queries} queries, each with a series")
    return problems


def rules(prom, names):
    """Every metric the loaded alert rules name must be exported: their
    promtool tests feed them made-up series, so only this catches a metric
    renamed in a crate."""
    problems = []
    loaded = [r for g in prom.get("/api/v1/rules", {})["groups"] for r in g["rules"]]
    for rule in loaded:
        for metric in sorted(set(METRIC.findall(rule["query"]))):
            if metric not in names:
                problems.append(f"alert {rule['name']}: metric {metric} is not exported")
    if not loaded:
        problems.append("Prometheus has loaded no rules")
    elif not problems:
        print(f"{len(loaded)} alert rules, every metric they name exported")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus")
    parser.add_argument("--structure-only", action="store_true")
    parser.add_argument("--rules", action="store_true", help="also check the loaded alert rules' metrics")
    parser.add_argument("dashboards", nargs="+")
    args = parser.parse_args()
    problems = []
    boards = {}
    uids = {}
    for path in args.dashboards:
        try:
            with open(path) as f:
                board = json.load(f)
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {e}")
            continue
        found = structure(path, board)
        problems += found
        if not found:
            boards[path] = board
            if board["uid"] in uids:
                problems.append(f"{path}: uid {board['uid']} is also {uids[board['uid']]}'s")
            uids[board["uid"]] = path
    if not args.structure_only and not problems:
        prom = Prometheus(args.prometheus)
        names = set(prom.get("/api/v1/label/__name__/values", {}))
        for path, board in boards.items():
            problems += live(path, board, prom, names)
        if args.rules:
            problems += rules(prom, names)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
