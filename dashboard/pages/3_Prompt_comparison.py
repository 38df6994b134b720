"""Prompt comparison for ML engineers: two offline evaluation runs (`resumeopt eval run`) paired case by case,
as `resumeopt eval compare RUN_A RUN_B` prints them (evaluator/compare.py): per metric both means, B - A with
its paired bootstrap 95 % interval, the verdict, and the cases that regressed."""

import httpx
import pandas as pd
import streamlit as st

from dashboard.api import describe, get
from evaluator.compare import compare_runs

ALL = "(all datasets)"
RUN_COLUMNS = ["run_id", "ts", "status", "dataset", "content_hash", "prompt_ref", "prompt_version", "judges",
               "repeats", "cases", "failed_cases", "cost_usd", "judge_cost_usd", "duration_s"]
WORSE_ROW = "background-color: rgba(255, 43, 43, 0.18)"


def default_pair(runs: list[dict]) -> tuple[int, int]:
    """Indexes of (A, B) in `runs` (newest first): B the latest finished run that has an earlier finished run of
    the same dataset, A that earlier run; else the two latest runs, whatever their state."""
    finished = [i for i, r in enumerate(runs) if r["status"] == "finished"]
    for n, b in enumerate(finished):
        for a in finished[n + 1:]:
            if runs[a]["dataset"] == runs[b]["dataset"]:
                return a, b
    return min(1, len(runs) - 1), 0


def label(run: dict) -> str:
    return f"{run['run_id']} · {run['dataset']} · {run['ts'][:19]} · {run['prompt_ref']} · {run['status']}"


def list_runs(dataset: str | None) -> list[dict]:
    try:
        return get("/api/v1/eval/runs", dataset=dataset, limit=1000)["runs"]
    except httpx.HTTPError as exc:
        st.error(f"Evaluation runs unavailable: {describe(exc)}")
        st.stop()


st.title("Prompt comparison")
st.caption("Offline evaluation runs (`resumeopt eval run`) paired case by case, as `resumeopt eval compare A B` "
           "shows them: B - A per metric with a paired bootstrap 95 % interval.")
runs = list_runs(None)
if not runs:
    st.info("No evaluation runs yet. Run `resumeopt eval run --dataset ci`, then again with another prompt "
            "(e.g. `--prompt candidate`), to compare them here.")
    st.stop()
dataset = st.selectbox("Dataset", [ALL, *sorted({r["dataset"] for r in runs})])
if dataset != ALL:
    runs = list_runs(dataset)

table = pd.DataFrame(runs)
table["judges"] = table["judges"].map(lambda j: ", ".join(f"{k}@{v}" for k, v in sorted(j.items())))
table["cost_usd"] = table["cost_usd"].astype(float)
# what judging cost: each judged case's judge_cost_usd (a mean in the aggregates), runs before it show 0
table["judge_cost_usd"] = [float((r.get("aggregates") or {}).get("judge_cost_usd", 0.0)) * (r["cases"] - r["failed_cases"])
                           for r in runs]
st.subheader("Runs")
st.dataframe(table[RUN_COLUMNS], hide_index=True)
if len(runs) < 2:
    st.info("One run so far: run `resumeopt eval run` again (another prompt, or the same one to see the noise) "
            "to compare two.")
    st.stop()

by_id = {r["run_id"]: r for r in runs}
ids = list(by_id)
a_index, b_index = default_pair(runs)
col_a, col_b = st.columns(2)
a_id = col_a.selectbox("Run A (baseline)", ids, index=a_index, format_func=lambda i: label(by_id[i]))
b_id = col_b.selectbox("Run B (compared with A)", ids, index=b_index, format_func=lambda i: label(by_id[i]))
if a_id == b_id:
    st.info("Pick two different runs.")
    st.stop()
try:
    a, b = get(f"/api/v1/eval/runs/{a_id}"), get(f"/api/v1/eval/runs/{b_id}")
except httpx.HTTPError as exc:
    st.error(f"Evaluation run unavailable: {describe(exc)}")
    st.stop()

if a["content_hash"] != b["content_hash"]:
    st.warning(f"The runs used different data ({a['dataset']} {a['content_hash']} vs {b['dataset']} "
               f"{b['content_hash']}): only the cases both have are paired.")
for run in (a, b):
    if run["status"] != "finished":
        st.warning(f"Run {run['run_id']} is {run['status']}: its scores may be incomplete.")
col_a.caption(f"A prompts: {a['prompt_ref']} → {a['prompt_version'] or '?'}")
col_b.caption(f"B prompts: {b['prompt_ref']} → {b['prompt_version'] or '?'}")

metrics = compare_runs(a["scores"], b["scores"])
if not metrics:
    st.info("Neither run has scores to compare.")
    st.stop()
verdicts = [m["verdict"] for m in metrics]
c1, c2, c3, c4 = st.columns(4)
for col, verdict in zip((c1, c2, c3, c4), ("worse", "better", "same", "unclear")):
    col.metric(f"Metrics {verdict}", verdicts.count(verdict))

st.subheader("B vs A, per metric")
comparison = pd.DataFrame([{
    "metric": m["metric"], "kind": m["kind"], "better when": {True: "higher", False: "lower", None: "-"}[m["higher_is_better"]],
    "A": m["mean_a"], "B": m["mean_b"], "B - A": m["diff"],
    "95% CI": "-" if m["ci95"] is None else f"[{m['ci95'][0]:+.4g}, {m['ci95'][1]:+.4g}]",
    "n": m["n"], "only A": m["only_a"], "only B": m["only_b"], "verdict": m["verdict"],
    "regressed cases": len(m["regressed"])} for m in metrics])
st.dataframe(comparison.style.apply(lambda row: [WORSE_ROW if row["verdict"] == "worse" else ""] * len(row), axis=1)
             .format(precision=4, na_rep="-", subset=["A", "B", "B - A"]), hide_index=True)
st.caption("n: cases both runs scored (a case's score is the mean of its repeats). better/worse: the interval "
           "excludes 0 in the metric's direction; same: no case moved; unclear: otherwise.")

regressed = [m for m in metrics if m["regressed"]]
if not regressed:
    st.success("No case regressed on any metric.")
    st.stop()
st.subheader("Regressed cases")
names = [m["metric"] for m in regressed]
first_worse = next((i for i, m in enumerate(regressed) if m["verdict"] == "worse"), 0)
chosen = st.selectbox("Metric", names, index=first_worse)
cases = pd.DataFrame(next(m for m in regressed if m["metric"] == chosen)["regressed"])
cases["B - A"] = cases["b"] - cases["a"]
st.dataframe(cases.rename(columns={"a": "A", "b": "B"}), hide_index=True)
st.caption("Worst first.")
