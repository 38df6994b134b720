"""`resumeopt eval arms --experiment NAME [--from D] [--to D] [--team T] [--json]`: a prompt experiment's
arms compared on live traffic (online scores and user feedback, cost per optimisation, the difference of
each arm from the baseline with a bootstrap 95 % interval), read from the platform's
`GET /api/v1/eval/experiments/{name}`: the store is the platform's.

`eval compare --experiment NAME` prints the same (offline runs and live arms are compared from one command);
`eval arms` stays as its own name.
"""

from __future__ import annotations

import argparse
import json

from optimiser.client import PlatformClient


def arms(client: PlatformClient, args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("from", args.start), ("to", args.end), ("team", args.team)) if v}
    data = client.call("GET", f"/api/v1/eval/experiments/{args.experiment}", params=params)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        _tables(data)
    return 0


def _tables(data: dict) -> None:
    from rich.table import Table

    from resumeopt.console import console

    metrics = sorted({m for a in data["arms"] for m in a["metrics"]})
    t = Table("arm", "optimisations", "cost / optimisation USD", *metrics,
              title=f"experiment {data['experiment']} (baseline {data['baseline']})")
    for a in data["arms"]:
        cells = [f"{a['metrics'][m]['mean']:g} (n={a['metrics'][m]['n']})" if m in a["metrics"] else "" for m in metrics]
        t.add_row(a["arm"], str(a["optimisations"]), a["cost_per_optimisation_usd"], *cells)
    console.print(t)
    d = Table("arm", "vs", "metric", "n", "difference", "95 % interval", title="differences from the baseline")
    for row in data["differences"]:
        ci = "" if row["ci95"] is None else f"[{row['ci95'][0]:g}, {row['ci95'][1]:g}]"
        diff = "" if row["diff"] is None else f"{row['diff']:+g}"
        d.add_row(row["arm"], row["vs"], row["metric"], f"{row['n'][0]} / {row['n'][1]}", diff, ci)
    console.print(d)


def add_parsers(sub, admin) -> None:
    """`eval arms` under the `eval` command, wherever that command is built (found by name, so this
    module needs no edit in the eval block)."""
    ev = next(a for a in sub.choices["eval"]._actions if isinstance(a, argparse._SubParsersAction))
    p = ev.add_parser("arms", help="compare a prompt experiment's arms on live traffic (online scores, cost)")
    p.add_argument("--experiment", required=True)
    p.add_argument("--from", dest="start", help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", help="last day (YYYY-MM-DD)")
    p.add_argument("--team", help="admin: one team (default: every team)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: admin(arms, args))
