"""The cluster schema (deploy/clickhouse-cluster/schema.sql) is generated from the migrations: the
checked-in file is the generator's output, every migration is in it, every table is replicated and
distributed, and every statement parses (ClickHouse's own parser, in chDB; no cluster runs here)."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.store.client import Store, migration_files, statements
from gateway.store.cluster import cluster_schema

SCHEMA = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse-cluster" / "schema.sql"


def test_the_checked_in_cluster_schema_is_generated_from_every_migration():
    generated = cluster_schema()
    assert SCHEMA.read_text() == generated, "stale: run python -m gateway.store.cluster > " + str(SCHEMA)
    migrations = migration_files()
    names = [name for _, name, _ in migrations]
    assert re.findall(r"^-- (\d{4}_\w+\.sql)$", generated, re.M) == names
    # recorded as applied (the platform adds nothing), under its own number: branches may leave gaps
    assert f"({migrations[-1][0]}, '{names[-1]}')" in generated


def test_every_table_is_replicated_behind_a_distributed_table_and_every_statement_parses(gw_settings):
    sql = statements(cluster_schema())
    creates = [s for s in sql if s.startswith("CREATE TABLE")]
    assert creates and all(" ON CLUSTER '{cluster}'" in s for s in sql if not s.startswith("INSERT"))
    engines = [re.search(r"ENGINE = (\w+)", s).group(1) for s in creates]
    assert set(engines) <= {"ReplicatedReplacingMergeTree", "ReplicatedMergeTree", "ReplicatedAggregatingMergeTree",
                            "Distributed"}
    assert engines.count("Distributed") * 2 == len(engines)
    views = [s for s in sql if s.startswith("CREATE MATERIALIZED VIEW")]
    assert views and all(re.search(r"TO resumeopt\.\w+_local AS", v) and "FROM resumeopt.model_calls_local" in v
                         for v in views)
    store = Store(gw_settings.resolved_store_dsn(), gw_settings.store_database)
    for statement in sql:
        assert store.command("SELECT formatQuery({q:String})", {"q": statement})
