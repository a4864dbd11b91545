"""The marts' read-only snapshot: what the service, the agent, the MCP server and analysts read,
so none of them ever holds the warehouse file the pipeline writes.

DuckDB lets one process write a file and no other process open it meanwhile, not even to read.
So the pipeline copies the marts (`analytics`) and the catalogue index (`rag`) into a new
DuckDB file once a run's marts are built, and publishes it by swapping a symlink:

    <home>/marts.duckdb -> snapshots/<version>/marts.duckdb

A version is written into a hidden draft folder and renamed into place before the link moves
(the link is replaced by a rename), so a reader sees the previous version or the new one, never
half of one. A published file is never written again: readers open it read-only, and when the
link points elsewhere they reopen (`MartsReader`), as the model registry reloads models. Every
version file is named `marts.duckdb`, so its DuckDB catalogue is `marts` whichever it is.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from music_platform.lib.processes import process_exists
from music_platform.lib.sql import quote_identifier

# The marts dbt builds and the catalogue index beside them: everything readers query.
SNAPSHOT_SCHEMAS = ("analytics", "rag")
SNAPSHOTS_DIR = "snapshots"
SNAPSHOT_FILE = "marts.duckdb"
DRAFT_SUFFIX = ".draft"
# Versions kept besides the current one: a reader that resolved the link just before a swap
# still finds its file. An open file survives its removal anyway (POSIX).
KEEP_PREVIOUS_VERSIONS = 2


class NoSnapshotError(FileNotFoundError):
    """No snapshot has been published yet."""


@dataclass(frozen=True)
class PublishedSnapshot:
    version: str
    path: Path
    # Rows per copied relation, as `schema.name`.
    tables: dict[str, int]
    bytes: int


def snapshot_link(home: Path) -> Path:
    """The stable path of the current snapshot (a symlink): what readers and analysts open."""
    return home / SNAPSHOT_FILE


def current_snapshot(link: Path) -> Path:
    """The published file the link points at now."""
    try:
        return link.resolve(strict=True)
    except FileNotFoundError:
        raise NoSnapshotError(
            f"no marts snapshot at {link}: `music-platform run` publishes one once the marts "
            "are built"
        ) from None


def publish_snapshot(warehouse: Path, home: Path) -> PublishedSnapshot:
    """Copy the warehouse's marts into a new version and point the link at it.

    Reads the warehouse through a read-only attachment, so it must run when no writer holds it
    (the pipeline runs it after the marts, in the warehouse's pool).
    """
    versions = home / SNAPSHOTS_DIR
    versions.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_drafts(versions)
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    draft = versions / f".{version}.{os.getpid()}{DRAFT_SUFFIX}"
    draft.mkdir()
    try:
        tables = _copy_marts(warehouse, draft / SNAPSHOT_FILE)
        _fsync(draft / SNAPSHOT_FILE)
        published = draft.rename(versions / version)
        _fsync(versions)
    except BaseException:
        shutil.rmtree(draft, ignore_errors=True)
        raise
    link = snapshot_link(home)
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(Path(SNAPSHOTS_DIR) / version / SNAPSHOT_FILE)
    temporary.replace(link)
    _fsync(home)
    _remove_old_versions(versions, keep=version)
    file = published / SNAPSHOT_FILE
    return PublishedSnapshot(version, file, tables, file.stat().st_size)


def _copy_marts(warehouse: Path, target: Path) -> dict[str, int]:
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: nothing to snapshot")
    tables: dict[str, int] = {}
    with duckdb.connect(str(target)) as connection:
        connection.execute("ATTACH ? AS source (READ_ONLY)", [str(warehouse)])
        relations = connection.execute(
            """
            SELECT schema_name, table_name FROM duckdb_tables()
            WHERE database_name = 'source' AND schema_name IN (SELECT UNNEST(?))
            UNION ALL
            SELECT schema_name, view_name FROM duckdb_views()
            WHERE database_name = 'source' AND NOT internal AND schema_name IN (SELECT UNNEST(?))
            ORDER BY 1, 2
            """,
            [list(SNAPSHOT_SCHEMAS), list(SNAPSHOT_SCHEMAS)],
        ).fetchall()
        connection.execute("BEGIN")
        for schema in sorted({schema for schema, _ in relations}):
            connection.execute(f"CREATE SCHEMA {quote_identifier(schema)}")
        # Views become tables: the snapshot holds no schema that a view could read from.
        for schema, name in relations:
            relation = quote_identifier(schema, name)
            connection.execute(f"CREATE TABLE {relation} AS SELECT * FROM source.{relation}")
            (rows,) = connection.execute(f"SELECT COUNT(*) FROM {relation}").fetchone() or (0,)
            tables[f"{schema}.{name}"] = int(rows)
        connection.execute("COMMIT")
        connection.execute("DETACH source")
        connection.execute("CHECKPOINT")
    return tables


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_abandoned_drafts(versions: Path) -> None:
    for draft in versions.glob(f".*{DRAFT_SUFFIX}"):
        pid = int(draft.name.removesuffix(DRAFT_SUFFIX).rsplit(".", 1)[1])
        if not process_exists(pid):
            shutil.rmtree(draft, ignore_errors=True)


def _remove_old_versions(versions: Path, *, keep: str) -> None:
    published = sorted(
        path.name for path in versions.iterdir() if path.is_dir() and not path.name.startswith(".")
    )
    older = [name for name in published if name < keep]
    for name in older[: max(len(older) - KEEP_PREVIOUS_VERSIONS, 0)]:
        shutil.rmtree(versions / name, ignore_errors=True)


class MartsReader:
    """One read-only connection to the current snapshot, reopened when a new one is published.

    Not thread-safe: its owner serialises calls (the agent's toolbox holds a lock around them).
    """

    def __init__(self, link: Path, opener: Callable[[Path], duckdb.DuckDBPyConnection]) -> None:
        self.link = link
        self.opener = opener
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._path: Path | None = None

    def version(self) -> Path:
        """The file readers should be on now (changes when a snapshot is published)."""
        return current_snapshot(self.link)

    def connection(self) -> duckdb.DuckDBPyConnection:
        path = self.version()
        if self._connection is None or path != self._path:
            self.close()
            self._connection = self.opener(path)
            self._path = path
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None
        self._path = None
