"""The SQL tool refuses every escape with a reason, and the read-only connection holds anyway."""

from __future__ import annotations

import duckdb
import pytest

from music_platform.lib.agent.sql_guard import (
    RESULT_BYTE_CAP,
    SqlRefusedError,
    guard_sql,
    marts_tables,
    open_marts,
    run_guarded,
)
from music_platform.lib.agent.tools import Toolbox
from music_platform.lib.agent.tracing import read_trace
from music_platform_tests.support.agent.eval_set import ATTACKS
from music_platform_tests.support.agent.world import AgentWorld

MARTS = marts_tables()


def test_marts_tables_come_from_the_dbt_project() -> None:
    assert {"dim_track", "dim_artist", "fct_listens"} <= MARTS
    assert not any(name.startswith(("stg_", "int_")) for name in MARTS)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT track_name FROM dim_track WHERE genre = 'rock'",
        "WITH top AS (SELECT * FROM analytics.fct_listens) SELECT count(*) FROM top",
        "SELECT genre, count(*) FROM dim_track GROUP BY 1 UNION ALL SELECT 'x', 1",
    ],
)
def test_plain_selects_over_the_marts_pass(sql: str) -> None:
    assert guard_sql(sql, MARTS)


@pytest.mark.parametrize("attack", [args["query"] for tool, args in ATTACKS if tool == "sql"])
def test_escapes_are_refused_with_a_reason(toolbox: Toolbox, attack: str) -> None:
    outcome = toolbox.call("sql", {"query": attack})
    assert not outcome.ok
    assert outcome.refusal and "refused" in outcome.refusal
    assert any(word in outcome.refusal for word in ("SELECT", "allowed", "marts", "statement"))


def test_a_second_statement_behind_a_comment_is_not_run(toolbox: Toolbox) -> None:
    outcome = toolbox.call("sql", {"query": "SELECT 1 AS one /* ; */ -- \n; DROP TABLE dim_track"})
    assert not outcome.ok and "2 statements" in (outcome.refusal or "")
    # Comments inside a single statement are dropped before it runs.
    assert guard_sql("SELECT 1 /* note */ AS one", MARTS) == "SELECT 1 AS one"


def test_unlisted_tools_are_refused_and_traced(toolbox: Toolbox) -> None:
    outcome = toolbox.call("shell", {"command": "rm -rf /"})
    assert not outcome.ok and "not a tool" in (outcome.refusal or "")
    assert read_trace(toolbox.tracer.path)[-1]["refusal"] == outcome.refusal


def test_row_limit_and_timeout_are_enforced_by_the_tool(agent_world: AgentWorld) -> None:
    connection = open_marts(agent_world.warehouse_path)
    try:
        result = run_guarded(
            connection,
            "SELECT * FROM dim_track",
            allowed_tables=MARTS,
            row_limit=5,
            timeout_seconds=10,
        )
        assert len(result.rows) == 5 and result.truncated
        heavy = (
            "SELECT count(*) FROM fct_listens a, fct_listens b, fct_listens c, fct_listens d "
            "WHERE a.user_id || b.user_id || c.user_id || d.user_id <> ''"
        )
        with pytest.raises(SqlRefusedError, match="statement timeout"):
            run_guarded(connection, heavy, allowed_tables=MARTS, row_limit=5, timeout_seconds=0.2)
    finally:
        connection.close()


def test_the_read_only_connection_is_a_second_wall(agent_world: AgentWorld) -> None:
    connection = open_marts(agent_world.warehouse_path)
    try:
        for statement in (
            "DROP TABLE analytics.dim_track",
            "SELECT * FROM read_csv('/etc/passwd')",
            "SET enable_external_access = true",
        ):
            with pytest.raises(duckdb.Error):
                connection.execute(statement)
    finally:
        connection.close()
    with duckdb.connect(str(agent_world.warehouse_path), read_only=True) as check:
        assert check.execute("SELECT count(*) FROM analytics.dim_track").fetchone()[0] > 0


def test_two_read_only_connections_in_one_process_both_answer(agent_world: AgentWorld) -> None:
    first = open_marts(agent_world.warehouse_path)
    second = open_marts(agent_world.warehouse_path)
    try:
        for connection in (first, second):
            assert connection.execute("SELECT count(*) FROM dim_track").fetchone()[0] > 0
            with pytest.raises(duckdb.Error):
                connection.execute("SET enable_external_access = true")
    finally:
        first.close()
        second.close()


def test_a_wide_result_is_cut_at_the_byte_cap_with_a_note(toolbox: Toolbox) -> None:
    outcome = toolbox.call("sql", {"query": "SELECT repeat('x', 50000000) AS wide"})
    assert outcome.ok, outcome.refusal
    assert outcome.data is not None and outcome.data["truncated"]
    assert "byte cap" in outcome.data["note"]
    assert len(outcome.for_model()) < 2 * RESULT_BYTE_CAP
    assert outcome.data["rows"][0]["wide"].endswith("[cut: 50000000 characters]")
    many = toolbox.call("sql", {"query": "SELECT repeat('y', 1000) AS wide FROM dim_track"})
    assert many.data is not None and many.data["truncated"] and "byte cap" in many.data["note"]
    assert 0 < len(many.data["rows"]) < RESULT_BYTE_CAP // 1000


def test_the_connection_has_a_memory_limit_and_no_temp_space(
    agent_world: AgentWorld,
) -> None:
    connection = open_marts(agent_world.warehouse_path)
    try:
        limit, temp = connection.execute(
            "SELECT current_setting('memory_limit'), current_setting('max_temp_directory_size')"
        ).fetchone()
        assert limit.endswith("MiB") and float(limit.split()[0]) <= 512
        assert temp == "0 bytes"
        # Grouping far more than the limit fails instead of spilling to disk.
        huge = (
            "SELECT count(*) FROM (SELECT l.event_id || t.track_id || repeat('z', 200) AS k "
            "FROM fct_listens l, dim_track t GROUP BY k)"
        )
        with pytest.raises(SqlRefusedError, match="memory"):
            run_guarded(connection, huge, allowed_tables=MARTS, row_limit=1, timeout_seconds=60)
    finally:
        connection.close()


@pytest.mark.parametrize(
    "query",
    [
        "DESCRIBE dim_track",
        "SHOW dim_track",
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'dim_track'",
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'dim_track'",
    ],
)
def test_columns_of_the_marts_can_be_discovered(toolbox: Toolbox, query: str) -> None:
    outcome = toolbox.call("sql", {"query": query})
    assert outcome.ok, outcome.refusal
    assert outcome.data is not None
    names = {next(iter(row.values())) for row in outcome.data["rows"]}
    assert {"track_id", "track_name", "genre"} <= names


def test_the_catalogue_views_show_the_marts_only(toolbox: Toolbox) -> None:
    tables = toolbox.call("sql", {"query": "SELECT * FROM information_schema.tables"})
    shown = toolbox.call("sql", {"query": "SHOW TABLES"})
    columns = toolbox.call("sql", {"query": "SELECT DISTINCT table_name FROM duckdb_columns()"})
    for outcome in (tables, shown, columns):
        assert outcome.ok and outcome.data is not None, outcome.refusal
        listed = {row.get("table_name") or row.get("name") for row in outcome.data["rows"]}
        assert listed and listed <= MARTS, listed
    refused = toolbox.call("sql", {"query": "SELECT * FROM duckdb_settings()"})
    assert not refused.ok


def test_the_warehouse_hints_stay_in_refusals(toolbox: Toolbox) -> None:
    column = toolbox.call("sql", {"query": "SELECT trak_name FROM dim_track"})
    assert column.refusal and 'Candidate bindings: "track_name"' in column.refusal
    table = toolbox.call("sql", {"query": "SELECT * FROM dim_trak"})
    assert table.refusal and "Did you mean 'dim_track'?" in table.refusal
