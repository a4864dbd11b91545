"""The marts' snapshot: published atomically, read without ever holding the warehouse, and
reopened by readers when a new version appears."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from music_platform.lib.warehouse.snapshot import (
    SNAPSHOTS_DIR,
    MartsReader,
    NoSnapshotError,
    current_snapshot,
    publish_snapshot,
    snapshot_link,
)


def build_warehouse(path: Path, listens: int) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        connection.execute("CREATE SCHEMA IF NOT EXISTS rag")
        connection.execute("CREATE SCHEMA IF NOT EXISTS landing")
        connection.execute(
            "CREATE OR REPLACE TABLE analytics.fct_listens AS SELECT range AS listen FROM range(?)",
            [listens],
        )
        connection.execute(
            "CREATE OR REPLACE VIEW analytics.listen_count AS "
            "SELECT COUNT(*) AS listens FROM analytics.fct_listens"
        )
        connection.execute("CREATE OR REPLACE TABLE rag.catalogue_documents AS SELECT 1 AS id")
        # Not a mart: the snapshot leaves it behind.
        connection.execute("CREATE OR REPLACE TABLE landing.listens AS SELECT 1 AS raw")


def listens(connection: duckdb.DuckDBPyConnection) -> int:
    (count,) = connection.execute("SELECT COUNT(*) FROM analytics.fct_listens").fetchone() or (0,)
    return int(count)


def test_publish_copies_marts_and_index_only(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(warehouse, listens=5)

    published = publish_snapshot(warehouse, tmp_path)

    assert published.tables == {
        "analytics.fct_listens": 5,
        "analytics.listen_count": 1,
        "rag.catalogue_documents": 1,
    }
    link = snapshot_link(tmp_path)
    assert link.is_symlink() and current_snapshot(link) == published.path.resolve()
    with duckdb.connect(str(link), read_only=True) as connection:
        # Every version's file is named marts.duckdb, so its catalogue is `marts` whichever it is.
        assert connection.execute("SELECT current_database()").fetchone() == ("marts",)
        assert listens(connection) == 5
        assert connection.execute("SELECT listens FROM analytics.listen_count").fetchone() == (5,)
        schemas = connection.execute("SELECT DISTINCT schema_name FROM duckdb_tables()")
        assert sorted(row[0] for row in schemas.fetchall()) == ["analytics", "rag"]


def test_a_reader_never_blocks_the_writer_and_follows_new_versions(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(warehouse, listens=5)
    publish_snapshot(warehouse, tmp_path)
    reader = MartsReader(
        snapshot_link(tmp_path), lambda path: duckdb.connect(str(path), read_only=True)
    )
    first = reader.connection()
    assert listens(first) == 5

    # Another process writes the warehouse while the reader holds its connection open: DuckDB
    # would refuse it ("Could not set lock on file") were the reader on the warehouse.
    writer = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, duckdb\n"
            "with duckdb.connect(sys.argv[1]) as c:\n"
            "    c.execute('CREATE OR REPLACE TABLE analytics.fct_listens AS "
            "SELECT range AS listen FROM range(8)')\n",
            str(warehouse),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert writer.returncode == 0, writer.stderr
    assert listens(reader.connection()) == 5  # still the published version

    publish_snapshot(warehouse, tmp_path)

    second = reader.connection()
    assert second is not first
    assert listens(second) == 8
    reader.close()


def test_old_versions_and_abandoned_drafts_are_removed(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(warehouse, listens=1)
    versions = tmp_path / SNAPSHOTS_DIR
    versions.mkdir()
    # A draft whose writer died (no process has pid 2**22 + 1 on Linux's default pid_max).
    abandoned = versions / f".20000101T000000000000Z.{2**22 + 1}.draft"
    abandoned.mkdir()

    published = [publish_snapshot(warehouse, tmp_path) for _ in range(5)]

    assert not abandoned.exists()
    kept = sorted(path.name for path in versions.iterdir())
    # The current version and the two before it, for readers that resolved the link just then.
    assert kept == [snapshot.version for snapshot in published[-3:]]


def test_no_snapshot_says_how_to_get_one(tmp_path: Path) -> None:
    reader = MartsReader(snapshot_link(tmp_path), lambda path: duckdb.connect(str(path)))
    with pytest.raises(NoSnapshotError, match="music-platform run"):
        reader.connection()


def test_a_failed_copy_leaves_the_current_snapshot(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(warehouse, listens=3)
    first = publish_snapshot(warehouse, tmp_path)
    # A writer holds the warehouse: the copy cannot attach it and fails whole.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb\n"
            "c = duckdb.connect(sys.argv[1])\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(duckdb.IOException):
            publish_snapshot(warehouse, tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert current_snapshot(snapshot_link(tmp_path)) == first.path.resolve()
    assert [path.name for path in (tmp_path / SNAPSHOTS_DIR).iterdir()] == [first.version]
