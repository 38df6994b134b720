"""`resumeopt eval export-promptfoo`: write a promptfoo config for the writer prompt over a golden dataset,
with the gateway as its OpenAI-compatible provider and our judges as its asserts (evaluator/promptfoo/).

Runs in this process and calls no model: promptfoo does, through the gateway, when you run the config.
Exit codes: 0 written; 2 unknown dataset or prompt, with `{"error": {"code", "message"}}` on stderr and
nothing written.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

DEFAULT_GATEWAY = "http://127.0.0.1:8400"  # `resumeopt up`'s port (cli.DEFAULT_PORT)
EXIT_WRITTEN, EXIT_BAD_INPUT = 0, 2


def cmd_export_promptfoo(args: argparse.Namespace) -> int:
    from evaluator.promptfoo.export import PROMPTFOO_BIN, export_promptfoo, offline_env
    from optimiser.prompts import PromptNotFound

    out = Path(args.out or f"build/promptfoo/{args.dataset}")
    try:
        path = export_promptfoo(args.dataset, args.prompt or ["production"], out, args.gateway)
    except FileNotFoundError as exc:
        return _error("unknown_dataset", str(exc))
    except PromptNotFound as exc:
        return _error("unknown_prompt", str(exc))
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in offline_env(args.gateway).items())
    print(f"wrote {path}\nrun it (RESUMEOPT_API_KEY: a key of the gateway at {args.gateway}):\n"
          f"  {env} PROMPTFOO_PYTHON={shlex.quote(sys.executable)} \\\n"
          f"  {shlex.quote(os.path.relpath(PROMPTFOO_BIN))} eval -c {shlex.quote(str(path))} "
          f"-o {shlex.quote(str(path.parent / 'results.json'))} --no-cache")
    return EXIT_WRITTEN


def _error(code: str, message: str) -> int:
    print(json.dumps({"error": {"code": code, "message": message}}), file=sys.stderr)
    return EXIT_BAD_INPUT


def add_export_parser(eval_commands) -> None:
    ex = eval_commands.add_parser("export-promptfoo", help="write a promptfoo config (writer prompt x golden dataset)",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ex.add_argument("--dataset", default="smoke", help="a golden dataset: datasets/golden/NAME.yaml (default smoke)")
    ex.add_argument("--prompt", action="append", metavar="LABEL",
                    help="writer prompt label or version, repeatable to compare versions (default production)")
    ex.add_argument("--out", help="output folder (default build/promptfoo/DATASET)")
    ex.add_argument("--gateway", default=os.environ.get("RESUMEOPT_PLATFORM_URL", DEFAULT_GATEWAY),
                    help="the gateway's base URL; /v1 is appended (default RESUMEOPT_PLATFORM_URL or "
                         f"{DEFAULT_GATEWAY})")
    ex.set_defaults(func=cmd_export_promptfoo)
