"""`resumeopt`: one command for the whole platform.

    resumeopt demo                       tailor the sample resume end to end, print everything, stop
    resumeopt up                         run platform + dashboard until interrupted
    resumeopt gateway --config F ...     run the gateway alone
    resumeopt store-writer               read the replicas' telemetry stream into the store (scaled shape)
    resumeopt optimise --resume F --job F|URL [--json]   (F: .pdf, .docx, .md, .txt or .json)
    resumeopt eval run --dataset NAME [--prompt LABEL|VERSION|NAME=REF] [--repeat N] [--judges a,b]
    resumeopt eval compare RUN_A RUN_B | eval gate --thresholds F [--baseline F] (--run ID | --dataset NAME)
    resumeopt check-grounding --original F --tailored F [--approved-skills a,b] [--json]
    resumeopt ats check --file F [--json]
    resumeopt skills extract --text-file F [--json] | skills eval [--data F]
    resumeopt keys create|list|revoke|rotate ...
    resumeopt budgets list|limits|set|delete ...
    resumeopt report cost|top-spenders|anomalies|health|burndown [--from D] [--to D] [--by ...] [--format csv|json|table]
    resumeopt eval export-promptfoo [--dataset NAME] [--prompt LABEL] [--out DIR] [--gateway URL]
    resumeopt prompts list [--name N] | show NAME REF | diff NAME REF_A REF_B | promote NAME VERSION --label L [--reason R]
    resumeopt eval arms --experiment NAME [--from D] [--to D] [--team T] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from gateway.store.client import StoreOpenError
from optimiser.client import PlatformClient, PlatformError
from resumeopt import env

env.apply()

REPO = Path(__file__).resolve().parent.parent
SAMPLE_RESUME = REPO / "datasets" / "samples" / "resume.md"
SAMPLE_JOB = REPO / "datasets" / "samples" / "job.txt"
DEFAULT_PORT = 8400
DASHBOARD_PORT = 8501


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(service=args.func in (cmd_gateway, cmd_up, cmd_store_writer))
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except StoreOpenError as exc:
        print(f"error: {exc}\nIf `resumeopt up` is running, set RESUMEOPT_PLATFORM_URL=http://127.0.0.1:"
              f"{DEFAULT_PORT} to use it.", file=sys.stderr)
        return 3


@contextlib.contextmanager
def platform_client(quiet: bool = False, model: bool = True) -> Iterator[PlatformClient]:
    """A client of a running platform: the configured one (RESUMEOPT_PLATFORM_URL, with
    RESUMEOPT_API_KEY or this machine's admin key), or an embedded one for this command, started here
    and stopped on exit (`model=False`: without the local model, for commands that call none)."""
    from resumeopt.credentials import api_key

    configured = os.environ.get("RESUMEOPT_PLATFORM_URL")
    if configured:
        client = PlatformClient(configured, api_key(_data_dir()))
        try:
            yield client
        finally:
            client.close()
        return
    from resumeopt.platform import EmbeddedPlatform

    platform = EmbeddedPlatform(model=model)
    if not quiet:
        what = "local model, gateway" if model else "gateway"
        _say(f"starting the platform ({what}, store at {platform.gw.data_dir / 'store'}) ...")
    platform.start()
    client = PlatformClient(platform.url, platform.admin_key)
    try:
        yield client
    finally:
        client.close()
        platform.stop()


def cmd_demo(args: argparse.Namespace) -> int:
    from evaluator.judges import judge_all
    from evaluator.runner import score_rows
    from resumeopt import console as out

    started = time.perf_counter()
    with platform_client() as client:
        _say(f"tailoring {SAMPLE_RESUME.relative_to(REPO)} to {SAMPLE_JOB.relative_to(REPO)}")
        result = _optimise_with_progress(client, SAMPLE_RESUME.read_text(), SAMPLE_JOB.read_text())
        scores = judge_all(result, {})
        client.post_scores(score_rows(scores, result, dataset="demo"))
        usage = client.usage(result["request_id"])
        out.print_result(result)
        out.print_usage(usage)
        out.console.print(out.scores_table("Evaluator scores (stored in ClickHouse `scores`)",
                                           [("demo", s.name, s.value, s.comment) for s in scores]))
    where = ("the running platform's store" if os.environ.get("RESUMEOPT_PLATFORM_URL")
             else f"the store in {_data_dir()}, which persists")
    out.console.print(f"done in {time.perf_counter() - started:.1f}s; request id {result['request_id']}; "
                      f"calls and scores are in {where}.\n"
                      f"Run [bold]resumeopt up[/] to start the platform and the dashboard "
                      f"(http://127.0.0.1:{DASHBOARD_PORT}) and see these calls and scores.")
    return 0


def _optimise_with_progress(client, resume: str | bytes, job: str | None, resume_format: str | None = None,
                            filename: str = "resume", job_url: str | None = None) -> dict:
    from resumeopt.console import console

    with console.status("working ...") as status:
        t0 = time.perf_counter()
        stages: list[str] = []

        def progress(event: dict) -> None:
            stages.append(event.get("stage", "?"))
            status.update(f"{event.get('stage')} ({time.perf_counter() - t0:.0f}s)")
            detail = ", ".join(f"{k}={v}" for k, v in event.items() if k != "stage")
            console.print(f"[dim]{time.perf_counter() - t0:6.1f}s[/] {event.get('stage')}: {detail}")

        return client.optimise(resume, job, resume_format, progress=progress, filename=filename, job_url=job_url)


def cmd_optimise(args: argparse.Namespace) -> int:
    path = Path(args.resume)
    # A URL (any scheme: the platform refuses what it will not fetch) goes to the platform as `job_url`:
    # the server fetches it, so its SSRF rules apply, not this machine's network view.
    job_url = args.job if re.match(r"^[a-z][a-z0-9+.-]*://", args.job, re.I) else None
    job = None if job_url else Path(args.job).read_text()
    # A PDF or DOCX is uploaded as it is: the platform reads it under its own bounds (size, pages,
    # time, zip checks), the same for every client, and the CLI needs no PDF library.
    binary = path.suffix.lower() in (".pdf", ".docx")
    resume = path.read_bytes() if binary else path.read_text()
    fmt = "json" if path.suffix.lower() == ".json" else None
    with platform_client(quiet=args.json) as client:
        try:
            if args.json:
                result = client.optimise(resume, job, fmt, filename=path.name, job_url=job_url)
            else:
                result = _optimise_with_progress(client, resume, job, fmt, path.name, job_url)
        except PlatformError as exc:
            print(json.dumps({"error": {"status": exc.status, "code": exc.code, "message": exc.message}}))
            return 1
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        from resumeopt import console as out

        out.print_result(result)
        out.print_usage(result["usage"])
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app
    from gateway.config import load_config
    from gateway.local_model import LocalModelServer
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(config_path=Path(args.config))
    config = load_config(settings.config_path)
    local = None
    if config.needs_local_server():
        lm = config.local_model
        local = LocalModelServer(lm.served_name, lm.n_ctx, settings.data_dir / "logs" / "llama.log", threads=lm.threads)
        config = config.with_local_base(local.start(lm.start_timeout_s))
    try:
        # access_log off: one log line per request costs more than the gateway itself (tests/perf)
        # log_config=None: uvicorn's records go to our root handler (JSON or text, gateway/logs.py)
        uvicorn.run(create_app(settings, config), host=args.host, port=args.port, log_level="info",
                    access_log=False, log_config=None)
    finally:
        if local:
            local.stop()
    return 0


def cmd_store_writer(args: argparse.Namespace) -> int:
    """The scaled shape's store writer: reads the replicas' telemetry stream into the store until SIGTERM,
    finishing the batch in hand; what it has not read waits in the stream for the next start."""
    from gateway.app import stream_consumer
    from gateway.settings import GatewaySettings
    from gateway.store.client import Store

    settings = GatewaySettings()
    store = Store(settings.resolved_store_dsn(), settings.store_database)
    store.migrate()
    consumer = stream_consumer(settings, store)
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop_soon())
    signal.signal(signal.SIGINT, lambda *_: consumer.stop_soon())
    _say(f"store writer {consumer.name}: {consumer.key} -> {settings.resolved_store_dsn().split('@')[-1]}")
    consumer.run()
    store.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from optimiser.jobs.worker import run_worker

    return run_worker(args.threads)


def cmd_up(args: argparse.Namespace) -> int:
    from resumeopt.platform import EmbeddedPlatform

    platform = EmbeddedPlatform(port=args.port)
    _say("starting the platform ...")
    platform.start()
    dash = _start_dashboard(platform.url, args.dashboard_port, platform.admin_key)
    _say(f"platform: {platform.url}  (OpenAI-compatible gateway at {platform.url}/v1)")
    _say(f"dashboard: http://127.0.0.1:{args.dashboard_port}   — Ctrl-C to stop")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and dash.poll() is None:
            stop.wait(1)
    except KeyboardInterrupt:
        pass
    finally:
        dash.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            dash.wait(10)
        platform.stop()
    return 0


def _start_dashboard(platform: str, port: int, key: str | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"),
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
    env = {**os.environ, "RESUMEOPT_PLATFORM_URL": platform, **({"RESUMEOPT_API_KEY": key} if key else {})}
    return subprocess.Popen(cmd, env=env)


def _configure_logging(service: bool) -> None:
    """Services write JSON lines at INFO (one per model call: for a log pipeline); interactive commands
    write text at WARNING, under the progress and report they print. RESUMEOPT_LOG_FORMAT/_LEVEL override."""
    from gateway.logs import configure_logging
    from gateway.settings import GatewaySettings

    settings = GatewaySettings()
    configure_logging(settings.log_format or ("json" if service else "text"),
                      settings.log_level or ("INFO" if service else "WARNING"))


def _data_dir() -> Path:
    from gateway.settings import GatewaySettings

    return GatewaySettings().data_dir


def _say(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="resumeopt", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    sub.add_parser("demo", help="tailor the sample resume end to end").set_defaults(func=cmd_demo)
    up = sub.add_parser("up", help="run platform and dashboard until interrupted")
    up.add_argument("--port", type=int, default=DEFAULT_PORT)
    up.add_argument("--dashboard-port", type=int, default=DASHBOARD_PORT)
    up.set_defaults(func=cmd_up)
    gw = sub.add_parser("gateway", help="run the gateway alone")
    gw.add_argument("--config", required=True)
    gw.add_argument("--host", default="127.0.0.1")
    gw.add_argument("--port", type=int, default=8000)
    gw.set_defaults(func=cmd_gateway)
    sub.add_parser("store-writer", help="read the replicas' telemetry stream into the store (scaled shape)"
                   ).set_defaults(func=cmd_store_writer)
    wk = sub.add_parser("worker", help="work optimisation jobs from the Redis queue (scaled shape)")
    wk.add_argument("--threads", type=int, help="jobs at once (default RESUMEOPT_WORKER_THREADS)")
    wk.set_defaults(func=cmd_worker)
    op = sub.add_parser("optimise", help="tailor a resume to a job")
    op.add_argument("--resume", required=True, help="PDF, DOCX, Markdown, text or JSON Resume file")
    op.add_argument("--job", required=True, help="a job file, or an http(s) URL the platform fetches")
    op.add_argument("--json", action="store_true", help="print one JSON object")
    op.set_defaults(func=cmd_optimise)
    ev = sub.add_parser("eval", help="evaluation").add_subparsers(required=True, metavar="SUBCOMMAND")
    from resumeopt import eval_cli  # `eval run|compare|gate`

    eval_cli.add_parsers(ev, platform_client)
    from resumeopt import admin_cli, tools_cli

    admin_cli.add_parsers(sub, _admin)
    tools_cli.add_parsers(sub)
    from resumeopt.promptfoo_cli import add_export_parser  # `eval export-promptfoo`, in a module of its own

    add_export_parser(ev)
    from resumeopt import arms_cli, prompts_cli  # `prompts ...` and `eval arms`, each in a module of its own

    prompts_cli.add_parsers(sub)
    arms_cli.add_parsers(sub, _admin)
    from resumeopt import eval_cli_calibrate  # `eval calibrate` (judge calibration) lives in its own module

    eval_cli_calibrate.add_parser(ev)
    return p


def _admin(command, args: argparse.Namespace) -> int:
    try:
        with platform_client(quiet=True, model=False) as client:
            return command(client, args)
    except PlatformError as exc:
        print(json.dumps({"error": {"status": exc.status, "code": exc.code, "message": exc.message}}), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
