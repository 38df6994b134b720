"""`resumeopt eval calibrate [--judges a,b]`: recompute evaluator/calibration.json.

Deterministic judges need nothing running. Judges that call a model (llm_rubric, embedding_relevance,
ragas_rubric) go through a platform: the running one (RESUMEOPT_PLATFORM_URL) or an embedded one started
for the command, as `eval run` does. Every judge call of one run shares the request-id prefix
`calibration-<run id>-`, so the run's calls, tokens and cost are read back and printed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

MODEL_JUDGES = {"llm_rubric", "embedding_relevance", "ragas_rubric"}


def add_parser(eval_subparsers) -> None:
    cal = eval_subparsers.add_parser("calibrate", help="agreement of each judge with the labelled pairs "
                                     "(accuracy, Cohen's kappa) -> evaluator/calibration.json")
    cal.add_argument("--judges", help="comma-separated judge names (default: every judge that can compare)")
    cal.add_argument("--pairs", type=Path, help="pairs file (default datasets/calibration/pairs.jsonl)")
    cal.add_argument("--limit", type=int, help="only the first N pairs (written, but fewer than 30 pairs "
                     "never make a judge reliable)")
    cal.add_argument("--judge-model", default="judge", help="gateway alias of the LLM judge (default: judge)")
    cal.add_argument("--embedding-model", default="local-smol", help="gateway alias for embeddings")
    cal.set_defaults(func=cmd_eval_calibrate)


def cmd_eval_calibrate(args: argparse.Namespace) -> int:
    from evaluator import calibration as cal
    from evaluator.registry import FACTORIES, JudgeContext, resolve

    names = args.judges.split(",") if args.judges else sorted(FACTORIES)
    pairs = cal.load_pairs(args.pairs or cal.PAIRS_PATH)[: args.limit]
    min_kappa = cal.CalibrationSettings().eval_min_kappa
    run_id = uuid.uuid4().hex[:8]
    with _platform(needed=bool(MODEL_JUDGES & set(names))) as (url, key, client):
        ctx = JudgeContext(gateway_url=url, api_key=key or "", judge_model=args.judge_model,
                           embedding_model=args.embedding_model)
        judges = [j for j in resolve(names, ctx) if cal.comparable(j)]
        rows = cal.calibrate(judges, pairs, min_kappa, on_pair=_progress, run_id=run_id)
        usage = _usage(client, [f"calibration-{run_id}-{p.id}" for p in pairs]) if client else None
    _print(rows, min_kappa, len(pairs), usage)
    context = {"judge_model": args.judge_model, "embedding_model": args.embedding_model}
    if usage is not None:
        context["judge_usage"] = usage
    cal.write(rows, min_kappa, context, pairs_path=args.pairs or cal.PAIRS_PATH)
    print(f"written: {cal.OUTPUT_PATH}")
    for r in rows:
        for note in r.notes:
            print(f"  {r.judge}: {note}")
    return 0


@contextlib.contextmanager
def _platform(needed: bool) -> Iterator[tuple[str, str | None, object]]:
    """(url, key, client) of the platform the judges call: the running one or one started here (its
    own store under RESUMEOPT_DATA_DIR, as for `eval run`); nothing when no judge calls a model."""
    if not needed:
        yield "", None, None
        return
    from optimiser.client import PlatformClient
    from resumeopt.cli import _data_dir
    from resumeopt.credentials import api_key

    configured = os.environ.get("RESUMEOPT_PLATFORM_URL")
    if configured:
        key = api_key(_data_dir())
        with contextlib.closing(PlatformClient(configured, key)) as client:
            yield configured, key, client
        return
    from resumeopt.platform import EmbeddedPlatform

    print("==> starting the platform (local model, gateway) for the model judges ...", file=sys.stderr)
    with EmbeddedPlatform() as platform, contextlib.closing(PlatformClient(platform.url, platform.admin_key)) as c:
        yield platform.url, platform.admin_key, c


def _usage(client, request_ids: list[str]) -> dict[str, float]:
    total = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    for rid in request_ids:
        u = client.usage(rid)
        for k in total:
            total[k] += float(u.get(k) or 0)
    return total


def _progress(judge: str, pair, winner: str) -> None:
    mark = "=" if winner == pair.label else ("~" if winner == "tie" else "x")
    print(mark, end="", file=sys.stderr, flush=True)


def _print(rows, min_kappa: float, n: int, usage: dict | None) -> None:
    print(file=sys.stderr)
    print(f"{'judge':<22}{'version':<28}{'n':>4}{'scored':>8}{'acc':>8}{'kappa':>8}{'ties':>6}  reliable")
    for r in rows:
        print(f"{r.judge:<22}{r.version:<28}{r.n:>4}{r.scored:>8}{r.accuracy:>8.3f}{r.kappa:>8.3f}{r.ties:>6}  "
              f"{'yes' if r.reliable else 'no'}")
    print(f"({n} pairs; reliable = kappa >= {min_kappa} (RESUMEOPT_EVAL_MIN_KAPPA); ties count as disagreement)")
    if usage is not None:
        print(f"judge calls: {usage['calls']:.0f}, tokens in/out {usage['input_tokens']:.0f}/"
              f"{usage['output_tokens']:.0f}, cost ${usage['cost_usd']:.6f} (x-agent: judge)")
