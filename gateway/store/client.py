"""One store client for both shapes: chDB in-process (`chdb:///path`) or a ClickHouse server (`http(s)://`).

clickhouse-connect serves both DSNs with the same API, so no query is written twice.
chDB allows one process per data path (FACTS.md): the platform process owns it; everyone else goes
through the platform's HTTP API.
"""

from __future__ import annotations

import re
import threading
from importlib import resources
from typing import Any

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A replayed batch must not count twice in the rollups (0011): the materialized views' targets drop a
# block whose source block was a duplicate only with this on (measured: with 0 the rollup counted a
# replayed batch twice). chDB 4.4 (engine 26.9) defaults it to 1, servers of 2024-25 to 0 (ClickHouse
# #76110), so it is sent with every insert rather than assumed.
INSERT_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1}
SCHEMA_MIGRATIONS = ("(version UInt32, name String, applied_at DateTime DEFAULT now())\n"
                     "ENGINE = MergeTree\nORDER BY version")


class StoreOpenError(RuntimeError):
    """The store could not be opened. For chDB the usual cause is another process holding the path."""


class Store:
    def __init__(self, dsn: str, database: str):
        if not _IDENT.match(database):
            raise ValueError(f"invalid database name {database!r}")
        import clickhouse_connect  # ~0.3 s; imported when a store is opened, not at module import

        self.database = database
        self.dsn = dsn
        try:
            self._client = clickhouse_connect.get_client(dsn=dsn)
        except Exception as exc:
            where = dsn.split("@")[-1]  # never echo credentials of a server DSN
            hint = (" (chDB allows one process per data path: is another resumeopt process using it?)"
                    if dsn.startswith("chdb") else "")
            raise StoreOpenError(f"cannot open the store at {where}{hint}") from exc
        self._lock = threading.Lock()

    def command(self, sql: str, parameters: dict | None = None) -> Any:
        with self._lock:
            return self._client.command(sql.replace("{db}", self.database), parameters=parameters)

    def query(self, sql: str, parameters: dict | None = None) -> list[dict]:
        with self._lock:
            result = self._client.query(sql.replace("{db}", self.database), parameters=parameters)
        names = result.column_names
        return [dict(zip(names, row)) for row in result.result_rows]

    def insert(self, table: str, rows: list[dict], dedup_token: str | None = None) -> None:
        """`dedup_token` names the batch: the same token again (a replay) is dropped by the table and by
        the rollups its materialized views feed, where the tables keep a deduplication window (model_calls
        and its rollups, migration 0011). Without a token only a byte-identical batch is recognised."""
        if not rows:
            return
        # Rows of one table may carry different columns (a producer that sets an optional one): each
        # set goes in as its own insert, the others' columns taking their defaults. One shape (the usual
        # case) is one insert, as before; a batch is never refused for a row's shape.
        shapes: dict[tuple[str, ...], list[dict]] = {}
        for r in rows:
            shapes.setdefault(tuple(r), []).append(r)
        for i, (columns, group) in enumerate(shapes.items()):
            settings = dict(INSERT_SETTINGS)
            if dedup_token:
                settings["insert_deduplication_token"] = dedup_token if len(shapes) == 1 else f"{dedup_token}:{i}"
            data = [[r[c] for c in columns] for r in group]
            with self._lock:
                self._client.insert(table, data, column_names=list(columns), database=self.database,
                                    settings=settings)

    def migrate(self) -> list[str]:
        """Apply numbered migrations not yet recorded; return the names applied now."""
        self.command("CREATE DATABASE IF NOT EXISTS {db}")
        self.command(f"CREATE TABLE IF NOT EXISTS {{db}}.schema_migrations {SCHEMA_MIGRATIONS}")
        done = {r["version"] for r in self.query("SELECT version FROM {db}.schema_migrations")}
        applied = []
        for version, name, sql in migration_files():
            if version in done:
                continue
            for statement in statements(sql):
                self.command(statement)
            self.insert("schema_migrations", [{"version": version, "name": name}])
            applied.append(name)
        return applied

    def close(self) -> None:
        with self._lock:
            self._client.close()


def statements(sql: str) -> list[str]:
    """A migration file's statements, without their comment lines: separated by a `;` that ends a line
    (the HTTP interface of a ClickHouse server takes one statement per request)."""
    out = []
    for piece in re.split(r";[ \t]*(?:\n|$)", sql):
        code = "\n".join(line for line in piece.splitlines() if not line.lstrip().startswith("--")).strip()
        if code:
            out.append(code)
    return out


def migration_files() -> list[tuple[int, str, str]]:
    files = resources.files("gateway.store") / "migrations"
    out = []
    for f in sorted(files.iterdir(), key=lambda p: p.name):
        if f.name.endswith(".sql"):
            out.append((int(f.name.split("_", 1)[0]), f.name, f.read_text(encoding="utf-8")))
    return out
