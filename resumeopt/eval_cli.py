"""`resumeopt eval run|compare|gate`: offline runs on golden datasets, their comparison, and the CI gate.

    resumeopt eval run --dataset NAME [--prompt LABEL|VERSION|NAME=REF,..] [--repeat N] [--judges a,b] [--json]
    resumeopt eval compare RUN_A RUN_B [--json]
    resumeopt eval gate --thresholds F [--baseline F] (--run ID | --dataset NAME [--prompt ..] [--judges ..])
                        [--update-baseline] [--json]

Runs go through a platform (RESUMEOPT_PLATFORM_URL, else an embedded one started for the command, whose
store persists under RESUMEOPT_DATA_DIR), so runs, scores and the calls behind them land in one store and
`compare` and `gate --run` can read them later.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optimiser.client import PlatformError


def add_parsers(ev, platform_client) -> None:
    def judges_arg(p):
        p.add_argument("--judges", help="comma-separated judge names (default: the stable, deterministic judges)")
        p.add_argument("--judge-model", default="judge", help="gateway alias of the LLM judge (default: judge)")
        p.add_argument("--embedding-model", default="local-smol", help="gateway alias for embeddings")

    run = ev.add_parser("run", help="run a golden dataset through the optimiser, judge it, store it under a run id")
    run.add_argument("--dataset", required=True, help="datasets/golden/<NAME>.yaml")
    run.add_argument("--prompt", default="production",
                     help="a label or version for every prompt (default production), or NAME=REF,... per prompt")
    run.add_argument("--repeat", type=int, default=1, help="run each case N times (spread across repeats reported)")
    run.add_argument("--note", default="", help="free text kept with the run")
    run.add_argument("--json", action="store_true", help="print the run as one JSON object")
    judges_arg(run)
    run.set_defaults(func=lambda a: _with_platform(platform_client, a, _cmd_run))

    cmp_ = ev.add_parser("compare", help="per-metric differences of two runs with paired bootstrap intervals, "
                         "or of a live experiment's arms (--experiment)")
    cmp_.add_argument("run_a", nargs="?", help="the reference run (e.g. production)")
    cmp_.add_argument("run_b", nargs="?", help="the run compared with it (e.g. a candidate prompt)")
    cmp_.add_argument("--experiment", help="instead of two runs: a prompt experiment's arms on live traffic "
                      "(online scores, feedback, cost; the same as `eval arms`)")
    cmp_.add_argument("--from", dest="start", help="with --experiment: first day (YYYY-MM-DD)")
    cmp_.add_argument("--to", dest="end", help="with --experiment: last day (YYYY-MM-DD)")
    cmp_.add_argument("--team", help="with --experiment, admin: one team")
    cmp_.add_argument("--json", action="store_true")
    cmp_.set_defaults(func=lambda a: _with_platform(platform_client, a, _cmd_compare, model=False))

    gate = ev.add_parser("gate", help="exit 1 when a run falls below its thresholds or beyond its tolerance "
                         "from the baseline (2: the gate could not be evaluated)")
    gate.add_argument("--thresholds", type=Path, required=True, help="YAML: metrics: {NAME: {min,max,tolerance,"
                      "tolerance_pct}}")
    gate.add_argument("--baseline", type=Path, help="JSON written by --update-baseline")
    which = gate.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", help="gate a stored run")
    which.add_argument("--dataset", help="run this dataset now, then gate it")
    gate.add_argument("--prompt", default="production", help="with --dataset: as for eval run")
    gate.add_argument("--update-baseline", action="store_true",
                      help="when the run passes (or there is no baseline yet), write its means to --baseline")
    gate.add_argument("--json", action="store_true")
    judges_arg(gate)
    gate.set_defaults(func=lambda a: _with_platform(platform_client, a, _cmd_gate, model=a.run is None))


def _with_platform(platform_client, args, command, model: bool = True) -> int:
    from evaluator.gate import USAGE, GateError

    try:
        with platform_client(quiet=getattr(args, "json", False), model=model) as client:
            return command(client, args)
    except PlatformError as exc:
        print(json.dumps({"error": {"status": exc.status, "code": exc.code, "message": exc.message}}), file=sys.stderr)
        return USAGE if exc.status in (404, 409, 422) else 1
    except (GateError, KeyError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return USAGE


def _run(client, args):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from evaluator.datasets import load_dataset
    from evaluator.gateway import JudgeSpend
    from evaluator.registry import JudgeContext, resolve
    from rich.console import Console

    from evaluator.runs import PromptChoice, run_dataset

    ds = load_dataset(args.dataset)
    prompt = PromptChoice.parse(args.prompt)
    if args.repeat < 1:
        raise ValueError("--repeat must be at least 1")
    spend = JudgeSpend()
    ctx = JudgeContext(gateway_url=client.url, api_key=client.api_key or "", judge_model=args.judge_model,
                       embedding_model=args.embedding_model, spend=spend)
    judges = resolve(args.judges.split(",") if args.judges else None, ctx)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    quiet = getattr(args, "json", False)  # --json: stdout is the result, stderr only an error
    with Progress(*columns, console=Console(stderr=True), transient=False, disable=quiet) as bar:
        task = bar.add_task(f"{ds.name} ({ds.content_hash}) prompt {prompt}", total=len(ds.cases) * args.repeat)

        def on_case(case, done):
            state = "FAILED " + done.error if done.error else ("degraded" if done.degraded else "ok")
            if not quiet:
                bar.console.print(f"  {case.id} #{done.repeat}: {state}")
            bar.advance(task)

        report = run_dataset(client, ds, judges, prompt, args.repeat, on_case, args.note, spend)
    return client.call("GET", f"/api/v1/eval/runs/{report.run_id}", params={"scores": "false"})


def _cmd_run(client, args) -> int:
    run = _run(client, args)
    if args.json:
        print(json.dumps(run, default=str))
    else:
        _print_run(run)
    return 0


def _print_run(run: dict) -> None:
    from rich.table import Table

    from evaluator.runs import SD_SUFFIX
    from resumeopt.console import wide as console

    agg = run["aggregates"]
    judging = agg.get("judge_cost_usd", 0.0) * (run["cases"] - run["failed_cases"])  # a mean over judged cases
    console.print(f"eval run {run['run_id']}: {run['dataset']} ({run['content_hash']}), {run['cases']} case runs "
                  f"(x{run['repeats']}), {run['failed_cases']} failed, ${float(run['cost_usd']):.6f} optimising "
                  f"+ ${judging:.6f} judging, {run['duration_s']:.0f}s", soft_wrap=True)
    t = Table()
    t.add_column("metric")
    t.add_column("mean", justify="right")
    if run["repeats"] > 1:
        t.add_column("sd across repeats", justify="right")
    for name in sorted(k for k in agg if "@" not in k):
        cells = [name, f"{agg[name]:.4g}"]
        if run["repeats"] > 1:
            cells.append(f"{agg.get(name + SD_SUFFIX, 0):.4g}")
        t.add_row(*cells)
    console.print(t)
    console.print(f"prompts: {run['prompt_ref']} -> {run['prompt_version']}")
    console.print(f"judges: {', '.join(f'{k}@{v}' for k, v in sorted(run['judges'].items()))}")


def _cmd_compare(client, args) -> int:
    from evaluator.compare import compare_runs

    if args.experiment:
        if args.run_a or args.run_b:
            raise ValueError("give two run ids or --experiment, not both")
        from resumeopt.arms_cli import arms

        return arms(client, args)
    if not (args.run_a and args.run_b):
        raise ValueError("eval compare needs two run ids (RUN_A RUN_B) or --experiment NAME")

    a = client.call("GET", f"/api/v1/eval/runs/{args.run_a}")
    b = client.call("GET", f"/api/v1/eval/runs/{args.run_b}")
    rows = compare_runs(a["scores"], b["scores"])
    if args.json:
        print(json.dumps({"a": _head(a), "b": _head(b), "metrics": rows}, default=str))
        return 0
    from rich.table import Table

    from resumeopt.console import wide as console

    if a["content_hash"] != b["content_hash"]:
        console.print(f"[yellow]the runs used different data ({a['dataset']} {a['content_hash']} vs "
                      f"{b['dataset']} {b['content_hash']}): only cases both have are paired[/]")
    t = Table(title=f"B {args.run_b} ({b['prompt_version']}) vs A {args.run_a} ({a['prompt_version']})")
    for col in ("metric", "kind", "A", "B", "B - A", "95% CI", "n", "verdict", "regressed cases"):
        t.add_column(col)
    style = {"worse": "red", "better": "green"}
    for r in rows:
        ci = "-" if r["ci95"] is None else f"[{r['ci95'][0]:+.4g}, {r['ci95'][1]:+.4g}]"
        reg = ", ".join(c["case_id"] for c in r["regressed"][:3]) + (" ..." if len(r["regressed"]) > 3 else "")
        t.add_row(r["metric"], r["kind"], _g(r["mean_a"]), _g(r["mean_b"]),
                  "-" if r["diff"] is None else f"{r['diff']:+.4g}", ci, str(r["n"]),
                  f"[{style.get(r['verdict'], '')}]{r['verdict']}[/]" if r["verdict"] in style else r["verdict"], reg)
    console.print(t)
    return 0


def _head(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "scores"}


def _g(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _cmd_gate(client, args) -> int:
    from evaluator import gate as g
    from evaluator.registry import reliable

    thresholds = g.load_thresholds(args.thresholds)
    baseline = None
    if args.baseline is not None and (args.baseline.is_file() or not args.update_baseline):
        baseline = g.load_baseline(args.baseline)
    if args.update_baseline and args.baseline is None:
        raise g.GateError("--update-baseline needs --baseline FILE")
    if args.run:
        run = client.call("GET", f"/api/v1/eval/runs/{args.run}", params={"scores": "false"})
    else:
        args.repeat, args.note = 1, "eval gate"
        run = _run(client, args)
        if not args.json:
            _print_run(run)
    report = g.evaluate(run, thresholds, baseline, reliable, first_baseline=baseline is None and args.update_baseline)
    if args.json:
        print(json.dumps({"run_id": run["run_id"], "passed": report.passed,
                          "outcomes": [o.__dict__ for o in report.outcomes]}, default=str))
    else:
        _print_gate(report, baseline)
    if report.passed and args.update_baseline:
        args.baseline.write_text(g.baseline_from(run).model_dump_json(indent=2) + "\n", encoding="utf-8")
        print(f"baseline written: {args.baseline} (run {run['run_id']})", file=sys.stderr)
    return report.exit_code


def _print_gate(report, baseline) -> None:
    from rich.table import Table

    from resumeopt.console import wide as console

    t = Table(title=f"eval gate on run {report.run_id}" + (f" (baseline run {baseline.run_id})" if baseline else ""))
    for col in ("metric", "value", "baseline", "gates", "result", "why"):
        t.add_column(col)
    colour = {"pass": "green", "fail": "red", "advisory": "yellow", "ok-advisory": "dim"}
    for o in report.outcomes:
        t.add_row(o.metric, _g(o.value), _g(o.baseline), "yes" if o.gating else "no (judge not reliable)",
                  f"[{colour[o.status]}]{o.status}[/]", "; ".join(o.reasons))
    console.print(t)
    failed = [o for o in report.outcomes if o.status == "fail"]
    if failed:
        console.print(f"[bold red]GATE FAILED[/]: {len(failed)} metric(s): " +
                      "; ".join(f"{o.metric}: {', '.join(o.reasons)}" for o in failed))
    else:
        console.print("[bold green]GATE PASSED[/]")
