"""`resumeopt prompts list|show|diff|promote`: the prompt registry (prompts/, RESUMEOPT_PROMPTS_DIR).

`list`, `show` and `diff` read the files here. `promote` moves a label to a version:
- with a platform configured (RESUMEOPT_PLATFORM_URL), through its admin API: the platform rewrites its
  registry's files, appends to its AUDIT.jsonl and writes the audit row to the store, under the key
  this command presents (RESUMEOPT_API_KEY or this machine's admin key), and serves the label at once;
- without one, in the files here, audited in prompts/AUDIT.jsonl under $USER: the store belongs to the
  platform process (chDB: one process per data path), so there is no store row to write.
Errors print `{"error": {"code", "message"}}` on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path


def _root() -> Path:
    from optimiser.settings import OptimiserSettings

    return OptimiserSettings().prompts_dir


def _fail(code: str, message: str) -> int:
    print(json.dumps({"error": {"code": code, "message": message}}), file=sys.stderr)
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    from optimiser.prompt_registry import list_prompts

    rows = [{"name": p.name, "version": p.version, "labels": p.labels, "changelog": p.changelog,
             "drill": p.drill, "model": p.model.model_dump()} for p in list_prompts(_root(), args.name)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    from resumeopt.console import console

    t = Table()
    for column in ("name", "version", "labels", "model"):
        t.add_column(column, no_wrap=True)
    t.add_column("changelog")  # the one that wraps on a narrow terminal
    for r in rows:
        m = r["model"]
        model = f"{m['alias'] or '-'} t={m['temperature']:g} max={m['max_tokens']}"
        version = r["version"] + (" (drill)" if r["drill"] else "")
        t.add_row(r["name"], version, ", ".join(r["labels"]), model, r["changelog"])
    console.print(t)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from optimiser.prompt_registry import prompt_path
    from optimiser.prompts import load_prompt

    if args.json:
        print(json.dumps(load_prompt(args.name, args.ref, _root()).model_dump(), indent=2))
    else:
        print(prompt_path(_root(), args.name, args.ref).read_text(encoding="utf-8"), end="")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from optimiser.prompt_registry import diff

    print(diff(_root(), args.name, args.ref_a, args.ref_b), end="")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    configured = os.environ.get("RESUMEOPT_PLATFORM_URL")
    if configured:
        done = _promote_on_platform(configured, args)
    else:
        from optimiser.prompt_registry import promote

        moved = promote(_root(), args.name, args.version, args.label, _local_user(), args.reason)
        done = {"name": moved.name, "label": moved.label, "from": moved.from_version, "to": moved.to_version,
                "who": moved.who, "at": moved.at, "audited": ["AUDIT.jsonl"]}
        print("no platform configured (RESUMEOPT_PLATFORM_URL): audited in AUDIT.jsonl, not in the store",
              file=sys.stderr)
    if args.json:
        print(json.dumps(done, indent=2))
    else:
        print(f"{done['name']}: label {done['label']} moved {done['from'] or '(none)'} -> {done['to']} "
              f"by {done['who']} (audited: {', '.join(done['audited'])})")
    return 0


def _promote_on_platform(url: str, args: argparse.Namespace) -> dict:
    from gateway.settings import GatewaySettings
    from optimiser.client import PlatformClient
    from resumeopt.credentials import api_key

    client = PlatformClient(url, api_key(GatewaySettings().data_dir), timeout=30)
    try:
        return client.call("POST", f"/admin/v1/prompts/{args.name}/promote",
                           json={"version": args.version, "label": args.label, "reason": args.reason})
    finally:
        client.close()


def _local_user() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "unknown"


def _run(command):
    def run(args: argparse.Namespace) -> int:
        from optimiser.client import PlatformError
        from optimiser.prompt_registry import PromotionError
        from optimiser.prompts import PromptNotFound

        try:
            return command(args)
        except PromptNotFound as exc:
            return _fail("prompt_not_found", str(exc))
        except PromotionError as exc:
            return _fail(exc.code, str(exc))
        except PlatformError as exc:
            return _fail(exc.code, exc.message)
    return run


def add_parsers(sub) -> None:
    pr = sub.add_parser("prompts", help="the prompt registry: list, show, diff, promote")
    cmds = pr.add_subparsers(required=True, metavar="SUBCOMMAND")
    ls = cmds.add_parser("list", help="every prompt version: labels, changelog, model parameters")
    ls.add_argument("--name", help="one prompt only")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_run(cmd_list))
    show = cmds.add_parser("show", help="a prompt version's file (REF: a version or a label)")
    show.add_argument("name")
    show.add_argument("ref")
    show.add_argument("--json", action="store_true", help="the parsed prompt as JSON")
    show.set_defaults(func=_run(cmd_show))
    df = cmds.add_parser("diff", help="unified diff of two versions' files")
    df.add_argument("name")
    df.add_argument("ref_a")
    df.add_argument("ref_b")
    df.set_defaults(func=_run(cmd_diff))
    pm = cmds.add_parser("promote", help="move a label to a version (audited)")
    pm.add_argument("name")
    pm.add_argument("version")
    pm.add_argument("--label", required=True)
    pm.add_argument("--reason", default="")
    pm.add_argument("--json", action="store_true")
    pm.set_defaults(func=_run(cmd_promote))
