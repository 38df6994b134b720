"""Retention: a TTL per table, from settings, applied at start-up only where it differs from what the
table has (so a restart with the same settings changes nothing, and the same settings on every replica
agree). Days of 0 keep rows forever: the default for raw telemetry, scores, optimisations and audit;
the per-minute rollup keeps 30 days (RESUMEOPT_RETENTION_* in gateway/settings.py, README).

ClickHouse drops expired rows when it merges parts (or on `OPTIMIZE TABLE ... FINAL`), not at the
instant they expire; a read may still see a row for a while after its TTL.
"""

from __future__ import annotations

import logging
import re

from gateway.store.client import Store

log = logging.getLogger("resumeopt.store.retention")

# table -> the DateTime (or Date) expression its TTL counts from
TTL_COLUMNS = {"model_calls": "toDateTime(ts)", "scores": "toDateTime(ts)", "optimisations": "toDateTime(ts)",
               "audit": "toDateTime(ts)", "model_calls_1m": "minute", "model_calls_1d": "day"}
_TTL = re.compile(r" TTL (.+?)(?: SETTINGS |$)")


def wanted_ttl(table: str, days: int) -> str | None:
    """The TTL clause as ClickHouse prints it back in `system.tables.engine_full`; None = keep forever."""
    return f"{TTL_COLUMNS[table]} + toIntervalDay({days})" if days > 0 else None


def current_ttl(store: Store, table: str) -> str | None:
    rows = store.query("SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
                       {"db": store.database, "t": table})
    if not rows:
        raise LookupError(f"no table {store.database}.{table}: run the migrations first")
    found = _TTL.search(rows[0]["engine_full"])
    return found.group(1) if found else None


def apply_retention(store: Store, days: dict[str, int], cluster: str = "") -> list[str]:
    """Set each table's TTL to `days[table]` where it differs; return what was changed. With `cluster`,
    the tables are the `<name>_local` tables of deploy/clickhouse-cluster, altered ON CLUSTER."""
    changed = []
    for table, n in days.items():
        local = f"{table}_local" if cluster else table
        want, have = wanted_ttl(table, n), current_ttl(store, local)
        if want == have:
            continue
        on_cluster = f" ON CLUSTER '{cluster}'" if cluster else ""
        action = f"MODIFY TTL {want}" if want else "REMOVE TTL"
        store.command(f"ALTER TABLE {{db}}.{local}{on_cluster} {action}")
        log.info("retention of %s: %s (was %s)", table, f"{n} days" if n else "forever", have or "forever")
        changed.append(table)
    return changed
