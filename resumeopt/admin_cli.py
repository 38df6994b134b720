"""`resumeopt keys ...` and `resumeopt budgets ...`: the admin API from a terminal. Each command talks
to the running platform (RESUMEOPT_PLATFORM_URL) or starts an embedded one without the model server;
every change is audited by the platform, under the key the command presents."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from optimiser.client import PlatformClient


def _print(data, as_json: bool, table: Callable[[object], None] | None = None) -> None:
    if as_json or table is None:
        print(json.dumps(data, indent=2, default=str))
    else:
        table(data)


def _keys_table(data) -> None:
    from rich.table import Table

    from resumeopt.console import console

    t = Table("key id", "name", "team", "user", "role", "plan", "status", "expires", "created by")
    for k in data["keys"]:
        t.add_row(k["key_id"], k["name"], k["team"], k["user_id"], k["role"], k["plan"], k["status"],
                  k["expires_at"] or "", k["created_by"])
    console.print(t)


def _budgets_table(data) -> None:
    from rich.table import Table

    from resumeopt.console import console

    t = Table("scope", "period", "mode", "limit USD", "spent USD", "resets at")
    for b in data["budgets"]:
        t.add_row(b["scope"], b["period"], b["mode"], b["limit_usd"], b["spent_usd"], b["resets_at"])
    console.print(t)


def keys(client: PlatformClient, args: argparse.Namespace) -> int:
    if args.action == "create":
        body = {"name": args.name or f"{args.team}-{args.role}", "team": args.team, "role": args.role,
                "plan": args.plan, "user_id": args.user or "", "reason": args.reason}
        if args.expires_in_days:
            body["expires_in_s"] = int(args.expires_in_days * 86_400)
        created = client.call("POST", "/admin/v1/keys", json=body)
        if args.json:
            _print(created, True)
        else:
            print(f"key {created['key_id']} for team {created['team']} ({created['role']}, {created['plan']}):")
            print(created["key"])
            print("shown once: store it now", flush=True)
    elif args.action == "list":
        _print(client.call("GET", "/admin/v1/keys", params={"team": args.team} if args.team else None),
               args.json, _keys_table)
    elif args.action == "revoke":
        _print(client.call("POST", f"/admin/v1/keys/{args.key_id}/revoke", json={"reason": args.reason}), True)
    elif args.action == "rotate":
        _print(client.call("POST", f"/admin/v1/keys/{args.key_id}/rotate",
                           json={"grace_s": args.grace_s, "reason": args.reason}), True)
    return 0


LIMIT_FLAGS = {"day": "budget_day_usd", "month": "budget_month_usd", "mode": "budget_mode",
               "max_request": "max_request_usd", "rpm": "requests_per_minute", "tpm": "tokens_per_minute",
               "logging": "prompt_logging"}


def budgets(client: PlatformClient, args: argparse.Namespace) -> int:
    if args.action == "list":
        _print(client.call("GET", "/admin/v1/budgets"), args.json, _budgets_table)
    elif args.action == "limits":
        _print(client.call("GET", "/admin/v1/limits"), True)
    elif args.action == "set":
        body = {field: getattr(args, flag) for flag, field in LIMIT_FLAGS.items() if getattr(args, flag) is not None}
        if not body:
            raise SystemExit("budgets set: give at least one of --day --month --mode --max-request --rpm --tpm --logging")
        _print(client.call("PUT", f"/admin/v1/limits/{args.scope}", json={**body, "reason": args.reason}), True)
    elif args.action == "delete":
        _print(client.call("DELETE", f"/admin/v1/limits/{args.scope}", params={"reason": args.reason}), True)
    return 0


# what -> (path, default --by, the columns of --format table)
REPORTS = {
    "cost": ("/api/v1/reports/cost", "team", ["key", "calls", "input_tokens", "output_tokens", "cost_usd", "errors",
                                               "avg_latency_ms"]),
    "top-spenders": ("/api/v1/reports/top-spenders", "team", ["key", "cost_usd", "calls"]),
    "anomalies": ("/api/v1/reports/anomalies", None, ["team", "day", "cost_usd", "trailing_mean_usd"]),
    "health": ("/api/v1/reports/health", "deployment", ["key", "minute", "calls", "rps", "p50_ms", "p95_ms", "p99_ms",
                                                         "error_rate", "cache_hit_rate", "retries", "fallbacks"]),
    "burndown": ("/api/v1/reports/budgets/burndown", None, ["scope", "period", "limit_usd", "spent_usd",
                                                             "projected_usd", "until_exhausted", "unit", "resets_at"]),
}
CSV_REPORTS = {"cost", "health", "burndown"}  # the others answer JSON only


def report(client: PlatformClient, args: argparse.Namespace) -> int:
    path, default_by, columns = REPORTS[args.what]
    names = (("from", args.start), ("to", args.end), ("team", args.team), ("by", args.by or default_by),
             ("per", args.per), ("scope", args.scope), ("window", args.window))
    params = {k: v for k, v in names if v and (k != "by" or default_by)}
    if args.format == "csv":
        if args.what not in CSV_REPORTS:
            raise SystemExit(f"report {args.what}: --format csv is offered for {', '.join(sorted(CSV_REPORTS))}")
        print(client.text("GET", path, params={**params, "format": "csv"}), end="")
        return 0
    data = client.call("GET", path, params=params)
    _print(data, args.format == "json", lambda d: _rows_table(d["rows"], columns))
    return 0


def _rows_table(rows: list[dict], columns: list[str]) -> None:
    from rich.table import Table

    from resumeopt.console import console

    shown = [c for c in columns if any(c in r for r in rows)] or columns
    t = Table(*shown)
    for r in rows:
        t.add_row(*("" if r.get(c) is None else str(r[c]) for c in shown))
    console.print(t)


def jobs(client: PlatformClient, args: argparse.Namespace) -> int:
    """`resumeopt jobs dlq list|requeue|purge`: the dead-letter queue of optimisation jobs."""
    if args.action == "list":
        data = client.call("GET", "/admin/v1/jobs/dlq")
        _print(data, args.json, _dlq_table)
    elif args.action == "requeue":
        body = {"job_ids": args.job_ids} if args.job_ids else {}
        _print(client.call("POST", "/admin/v1/jobs/dlq/requeue", json=body), True)
    else:
        _print(client.call("DELETE", "/admin/v1/jobs/dlq"), True)
    return 0


def _dlq_table(data) -> None:
    from rich.table import Table

    from resumeopt.console import console

    t = Table("job id", "request id", "team", "attempts", "error", "dead since")
    for j in data["jobs"]:
        t.add_row(j["id"], j["request_id"], j["team"], str(j["attempts"]), (j["error"] or {}).get("message", ""),
                  j["finished_at"] or "")
    console.print(t)
    console.print(f"queue: {data['queue']}")


def gdpr(client: PlatformClient, args: argparse.Namespace) -> int:
    """`resumeopt gdpr export|erase --user ID`: a data-subject request (see resumeopt/gdpr.py)."""
    data = client.call("POST", f"/admin/v1/gdpr/{args.action}", json={"user_id": args.user})
    text = json.dumps(data, indent=2, default=str)
    if args.action == "export" and args.out:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"exported {len(data['jobs'])} jobs and {len(data['model_calls'])} model calls to {args.out}")
    else:
        print(text)
    return 0


def add_parsers(sub, run: Callable) -> None:
    g = sub.add_parser("gdpr", help="data-subject requests: export or erase a user's data")
    g.add_argument("action", choices=["export", "erase"])
    g.add_argument("--user", required=True, help="the user id (as on API keys and JWT `sub`)")
    g.add_argument("--out", help="export: write the JSON here instead of stdout")
    g.set_defaults(func=lambda a: run(gdpr, a))
    j = sub.add_parser("jobs", help="async optimisation jobs").add_subparsers(required=True, metavar="SUBCOMMAND")
    dlq = j.add_parser("dlq", help="the dead-letter queue")
    dlq.add_argument("action", choices=["list", "requeue", "purge"])
    dlq.add_argument("job_ids", nargs="*", help="requeue: these jobs only (default: every dead job)")
    dlq.add_argument("--json", action="store_true")
    dlq.set_defaults(func=lambda a: run(jobs, a))

    r = sub.add_parser("report", help="cost, health and budget reports")
    r.add_argument("what", choices=list(REPORTS))
    r.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (health: a time, YYYY-MM-DDTHH:MM, UTC)")
    r.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (health: a time, excluded)")
    r.add_argument("--by", choices=["team", "user", "key", "model", "deployment", "day", "agent"],
                   help="grouping (default: team; health: deployment, or model)")
    r.add_argument("--per", choices=["minute", "total"], help="health: one row per minute, or one per key")
    r.add_argument("--scope", help="burndown: one budget scope (global, team:ID, user:ID, key:ID)")
    r.add_argument("--window", choices=["day", "month"], help="burndown: daily or monthly budgets only")
    r.add_argument("--team")
    r.add_argument("--format", choices=["json", "csv", "table"], default="json")
    r.set_defaults(func=lambda a: run(report, a))

    k = sub.add_parser("keys", help="virtual API keys").add_subparsers(dest="action", required=True, metavar="ACTION")
    create = k.add_parser("create", help="create a key (printed once)")
    create.add_argument("--team", required=True)
    create.add_argument("--role", choices=["admin", "engineer", "finance", "consumer"], default="consumer")
    create.add_argument("--plan", choices=["free", "basic", "premium"], default="free")
    create.add_argument("--name")
    create.add_argument("--user")
    create.add_argument("--expires-in-days", type=float)
    ls = k.add_parser("list", help="list keys (never their secrets)")
    ls.add_argument("--team")
    for action in ("revoke", "rotate"):
        p = k.add_parser(action, help=f"{action} a key")
        p.add_argument("key_id")
        if action == "rotate":
            p.add_argument("--grace-s", type=int, default=0, help="the old key keeps working this long")
    for p in k.choices.values():
        p.add_argument("--reason", default="")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=lambda a: run(keys, a))

    b = sub.add_parser("budgets", help="budgets and limits per key, user, team or global").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    b.add_parser("list", help="every budget with its current spend")
    b.add_parser("limits", help="limits set per scope, and the plans")
    s = b.add_parser("set", help="set limits on a scope: global, team:ID, user:ID or key:ID")
    s.add_argument("scope")
    s.add_argument("--day", help="USD per day")
    s.add_argument("--month", help="USD per month")
    s.add_argument("--mode", choices=["hard", "soft"])
    s.add_argument("--max-request", help="USD, the most one request may cost")
    s.add_argument("--rpm", type=float, help="requests per minute")
    s.add_argument("--tpm", type=float, help="tokens per minute")
    s.add_argument("--logging", choices=["off", "redacted", "full"], help="team scope: prompt logging")
    d = b.add_parser("delete", help="remove the limits of a scope")
    d.add_argument("scope")
    for p in b.choices.values():
        p.add_argument("--reason", default="")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=lambda a: run(budgets, a))
