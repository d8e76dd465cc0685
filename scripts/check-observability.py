#!/usr/bin/env python3
"""Checks the dashboards and alert rules against the metrics contract.

docs/operations/metrics.md names every metric, its type and its labels. This script reads
that contract, then every PromQL expression in

  - deploy/grafana/dashboards/*.json   (panel targets and template variable queries)
  - deploy/prometheus/alerts.yml       (alert rule expressions)

and fails when an expression names a metric the contract does not define (`up` aside;
`_bucket`, `_sum` and `_count` only on histograms), matches on a label the metric does not
carry, or compares a fixed-set label with a value outside its set. It also checks that
helm/ferrocast/files/alerts.yml is a byte-identical copy of the alert rules, that every alert
has a `severity` label and `summary`, `description` and `runbook` annotations, and that each
runbook link points at a heading of docs/operations/alerts.md.

    python3 scripts/check-observability.py        # exits 1 and lists every problem

Standard library only; PyYAML is used when installed, else a small reader of the rule file.
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs/operations/metrics.md"
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
HELM_ALERTS = ROOT / "helm/ferrocast/files/alerts.yml"
RUNBOOK = ROOT / "docs/operations/alerts.md"
RUNBOOK_PREFIX = "docs/operations/alerts.md#"

# Labels Prometheus adds to every series it scrapes; `le` comes with histogram buckets.
TARGET_LABELS = {"job", "instance"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
BUILTIN_METRICS = {"up": set()}

# PromQL words that look like identifiers but are not metric names.
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "atan2", "inf", "nan",
}


def parse_contract(text):
    """Returns {metric: {"type": str, "labels": {label: set of values or None}}}."""
    metrics = {}
    row = re.compile(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(\w+)\s*\|([^|]*)\|")
    for line in text.splitlines():
        match = row.match(line)
        if not match:
            continue
        name, kind, label_text = match.groups()
        metrics[name] = {"type": kind, "labels": parse_labels(label_text)}
    return metrics


def parse_labels(text):
    """`kind`: `a`, `b`; `status`: free text  ->  {kind: {a, b}, status: None}."""
    labels = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            name_part, values_part = part.split(":", 1)
            names = re.findall(r"`([^`]+)`", name_part)
            values = re.findall(r"`([^`]+)`", values_part)
            leftover = re.sub(r"`[^`]+`|[,\s]", "", values_part)
            fixed = set(values) if values and not leftover else None
            for name in names:
                labels[name] = fixed
        else:
            for name in re.findall(r"`([^`]+)`", part):
                labels[name] = None
    return labels


STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')


def hide_strings(expr):
    """Replaces every string literal by `"#n"`, so nothing inside one looks like a name."""
    strings = []

    def keep(match):
        strings.append(match.group(0)[1:-1])
        return f'"#{len(strings) - 1}"'

    return STRING.sub(keep, expr), strings


def selectors(expr):
    """Yields (metric, matchers) for every `metric{...}` and bare metric in `expr`."""
    expr, strings = hide_strings(expr)
    expr = re.sub(r"\$\{[^}]*\}|\$[a-zA-Z_]\w*", "1", expr)  # Grafana variables
    # label_values(metric, label): only the metric is a metric.
    expr = re.sub(r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)", r"\1", expr)
    expr = re.sub(r"label_values\(\s*(\w+)\s*\)", "", expr)
    # Label lists of by/without/on/ignoring/group_left/group_right are not metrics.
    expr = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr
    )
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range selectors, subqueries
    expr = re.sub(r"\boffset\s+\d+\w*", " ", expr)
    pattern = re.compile(r"(?<![\w.$:])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?")
    for match in pattern.finditer(expr):
        name, matchers, call = match.groups()
        if call and not matchers:
            continue  # a function or an aggregation
        if name in PROMQL_WORDS:
            continue
        found = re.findall(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"#(\d+)"', matchers or "")
        yield name, [(label, op, strings[int(index)]) for label, op, index in found]


def check_expr(expr, where, contract, problems):
    for name, matchers in selectors(expr):
        base, spec = resolve(name, contract)
        if spec is None:
            problems.append(f"{where}: unknown metric `{name}`")
            continue
        allowed = dict(spec["labels"])
        for label in TARGET_LABELS:
            allowed.setdefault(label, None)
        if name.endswith("_bucket") and base != name:
            allowed["le"] = None
        for label, op, value in matchers:
            if label == "__name__":
                continue
            if label not in allowed:
                problems.append(f"{where}: `{name}` has no label `{label}`")
                continue
            fixed = allowed[label]
            if fixed is not None and op in ("=", "!=") and value not in fixed:
                problems.append(
                    f"{where}: `{name}{{{label}=\"{value}\"}}`: not one of {sorted(fixed)}"
                )


def resolve(name, contract):
    if name in BUILTIN_METRICS:
        return name, {"type": "gauge", "labels": {}}
    if name in contract:
        return name, contract[name]
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            spec = contract.get(base)
            if spec and spec["type"] == "histogram":
                return base, spec
    return name, None


def dashboard_exprs(node, path="$"):
    """Yields (json path, PromQL) for every target expr and query variable."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "expr" and isinstance(value, str):
                yield here, value
            elif key in ("query", "definition") and isinstance(value, str) and (
                "label_values" in value or "query_result" in value
            ):
                yield here, value
            elif key == "query" and isinstance(value, dict) and isinstance(
                value.get("query"), str
            ):
                yield f"{here}.query", value["query"]
            else:
                yield from dashboard_exprs(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from dashboard_exprs(value, f"{path}[{index}]")


def load_rules(text):
    """The alert rules as dicts with alert, expr, labels, annotations."""
    try:
        import yaml  # type: ignore
    except ImportError:
        return read_rules_without_yaml(text)
    document = yaml.safe_load(text) or {}
    rules = []
    for group in document.get("groups", []):
        for rule in group.get("rules", []):
            rules.append(rule)
    return rules


def read_rules_without_yaml(text):
    """Enough YAML for a rule file: `- alert:` items with `expr`, labels and annotations."""
    rules, rule, section, block_key, block_indent = [], None, None, None, 0
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        line = raw.strip()
        if block_key is not None:
            if indent > block_indent:
                target = rule if section is None else rule[section]
                target[block_key] = (target.get(block_key, "") + " " + line).strip()
                continue
            block_key = None
        if line.startswith("- alert:") or line.startswith("- record:"):
            rule = {"labels": {}, "annotations": {}}
            rules.append(rule)
            key, _, value = line[2:].partition(":")
            rule[key.strip()] = value.strip()
            rule_indent = indent + 2
            section = None
            continue
        if rule is None:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip().strip('"').strip("'")
        if indent == rule_indent:
            section = key if key in ("labels", "annotations") else None
            if section is None:
                if value in ("|", ">", "|-", ">-"):
                    block_key, block_indent = key, indent
                else:
                    rule[key] = value
            continue
        if section is not None:
            if value in ("|", ">", "|-", ">-"):
                block_key, block_indent = key, indent
            else:
                rule[section][key] = value
    return rules


def anchors(markdown):
    """GitHub-style anchors of every heading."""
    found = set()
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if not match:
            continue
        title = match.group(1).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        found.add(slug)
    return found


def main():
    problems = []
    contract = parse_contract(CONTRACT.read_text(encoding="utf-8"))
    if not contract:
        print(f"no metrics found in {CONTRACT.relative_to(ROOT)}", file=sys.stderr)
        return 1

    checked = 0
    for dashboard in DASHBOARDS:
        relative = dashboard.relative_to(ROOT)
        try:
            document = json.loads(dashboard.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            problems.append(f"{relative}: invalid JSON: {error}")
            continue
        for path, expr in dashboard_exprs(document):
            check_expr(expr, f"{relative} {path}", contract, problems)
            checked += 1

    rules_text = ALERTS.read_text(encoding="utf-8")
    rules = load_rules(rules_text)
    runbook_anchors = anchors(RUNBOOK.read_text(encoding="utf-8")) if RUNBOOK.exists() else set()
    names = set()
    for rule in rules:
        name = rule.get("alert") or rule.get("record") or "?"
        where = f"{ALERTS.relative_to(ROOT)} {name}"
        if name in names:
            problems.append(f"{where}: duplicate alert name")
        names.add(name)
        check_expr(str(rule.get("expr", "")), where, contract, problems)
        checked += 1
        if "alert" not in rule:
            continue
        if not (rule.get("labels") or {}).get("severity"):
            problems.append(f"{where}: no severity label")
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook"):
            if not annotations.get(key):
                problems.append(f"{where}: no {key} annotation")
        runbook = str(annotations.get("runbook", ""))
        if RUNBOOK_PREFIX in runbook:
            anchor = runbook.split("#", 1)[1]
            if anchor not in runbook_anchors:
                problems.append(f"{where}: runbook anchor #{anchor} is not a heading of "
                                f"{RUNBOOK.relative_to(ROOT)}")
        elif runbook:
            problems.append(f"{where}: runbook does not point at {RUNBOOK_PREFIX}<anchor>")

    if not HELM_ALERTS.exists():
        problems.append(f"{HELM_ALERTS.relative_to(ROOT)} is missing")
    elif HELM_ALERTS.read_bytes() != ALERTS.read_bytes():
        problems.append(f"{HELM_ALERTS.relative_to(ROOT)} differs from "
                        f"{ALERTS.relative_to(ROOT)}: copy it")

    for problem in problems:
        print(problem, file=sys.stderr)
    status = "FAILED" if problems else "ok"
    print(f"check-observability: {status}: {checked} expressions in {len(DASHBOARDS)} "
          f"dashboard(s) and {len(rules)} rules against {len(contract)} contract metrics; "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
