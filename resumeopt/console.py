"""How results look in a terminal: the demo's report and the evaluator's table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

console = Console()
# Tables of metrics (eval run, compare, gate) are read in CI logs too, where Rich would assume 80 columns.
wide = Console(width=None if console.is_terminal else 160)


def print_result(result: dict[str, Any]) -> None:
    console.print(Panel(Markdown(result["tailored_resume"]), title="Tailored resume", border_style="green"))
    m = result["match"]
    console.print(f"[bold]Match score[/]: {m['before']} → {m['after']} (of 100)")
    console.print(f"  matched: {', '.join(m['matched']) or '-'}")
    console.print(f"  missing: {', '.join(m['missing']) or '-'}")
    g = result["grounding"]
    verdict = "[green]passed[/]" if g["passed"] else "[red]FAILED[/]"
    console.print(f"[bold]Grounding[/] of the shipped resume: {verdict} ({len(g['violations'])} violations)")
    if g.get("candidate_violations"):
        console.print(f"  the writer's draft was rejected: {len(g['candidate_violations'])} unsupported claims")
        for v in g["candidate_violations"][:6]:
            console.print(f"    - {v['kind']}: {v['text']}")
    if result["degraded"]:
        console.print("[bold yellow]Degraded[/]: the deterministic tailoring shipped instead of the model's text")
        for r in result["degraded_reasons"]:
            console.print(f"  - {r}")
    for s in result.get("suggestions", [])[:5]:
        console.print(f"  suggestion: {s}")
    console.print(f"Prompt versions: {result['prompt_versions']}")


def print_usage(usage: dict[str, Any]) -> None:
    t = Table(title="Model calls (read back from ClickHouse model_calls)")
    for col in ("agent", "calls", "input tokens", "output tokens", "cost USD"):
        t.add_column(col, justify="right" if col != "agent" else "left")
    for r in usage["by_agent"]:
        t.add_row(r["agent"] or "-", str(r["calls"]), str(r["input_tokens"]), str(r["output_tokens"]), r["cost_usd"])
    t.add_row("[bold]total", str(usage["calls"]), str(usage["input_tokens"]), str(usage["output_tokens"]),
              usage["cost_usd"])
    console.print(t)


def scores_table(title: str, rows: list[tuple[str, str, float, str]]) -> Table:
    t = Table(title=title)
    for col in ("case", "score", "value", "note"):
        t.add_column(col)
    for case, name, value, note in rows:
        t.add_row(case, name, f"{value:g}", note[:60])
    return t
