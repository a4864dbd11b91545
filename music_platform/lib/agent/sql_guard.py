"""The SQL tool's guard: one read-only SELECT over the marts, nothing else, with a reason for
every refusal.

The statement is parsed with sqlglot and the statement that runs is regenerated from the parsed
tree (comments dropped), so what runs is exactly what was checked. The read-only DuckDB
connection with external access disabled (see `open_marts`) is the second wall behind it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

MARTS_SCHEMA = "analytics"
MARTS_MODELS_DIR = Path(__file__).resolve().parents[3] / "dbt_project" / "models" / "marts"

# Statements and clauses that write, reach outside the warehouse or change the session.
FORBIDDEN_NODES: dict[type[exp.Expression], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
    exp.Drop: "DROP",
    exp.Create: "CREATE",
    exp.Alter: "ALTER",
    exp.Copy: "COPY",
    exp.Pragma: "PRAGMA",
    exp.Attach: "ATTACH",
    exp.Detach: "DETACH",
    exp.Set: "SET",
    exp.Use: "USE",
    exp.Command: "a command",
    exp.Into: "SELECT INTO",
    exp.Export: "EXPORT",
    exp.Install: "INSTALL",
}
# Functions that read files, reach the network or the environment, or query the catalogue.
FORBIDDEN_FUNCTION_PREFIXES = ("read_", "duckdb_", "pragma_", "sqlite_", "postgres_", "mysql_")
FORBIDDEN_FUNCTION_SUFFIXES = ("_scan",)
FORBIDDEN_FUNCTIONS = frozenset(
    {
        "glob",
        "getenv",
        "query",
        "query_table",
        "current_setting",
        "which_secret",
        "load_aws_credentials",
        "iceberg_metadata",
        "delta_scan",
        "httpfs",
        "system",
        "shell",
    }
)


class SqlRefusedError(ValueError):
    """The statement was refused; the message says why and what is allowed."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool
    sql: str
    duration_ms: float = field(default=0.0)


def marts_tables(models_dir: Path = MARTS_MODELS_DIR) -> frozenset[str]:
    """The marts' table names, from the dbt project itself so the list cannot drift."""
    return frozenset(path.stem for path in models_dir.rglob("*.sql"))


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _check_function(node: exp.Func) -> None:
    name = _function_name(node)
    if (
        name in FORBIDDEN_FUNCTIONS
        or name.startswith(FORBIDDEN_FUNCTION_PREFIXES)
        or name.endswith(FORBIDDEN_FUNCTION_SUFFIXES)
        or isinstance(node, exp.ReadCSV | exp.ReadParquet)
    ):
        raise SqlRefusedError(
            f"refused: the function {name}() reads files, the network or the catalogue; "
            "query the marts' tables only"
        )


def guard_sql(sql: str, allowed_tables: frozenset[str]) -> str:
    """The statement to run, regenerated from its parse; raises SqlRefusedError saying why."""
    if not sql or not sql.strip():
        raise SqlRefusedError("refused: the query is empty; send one SELECT over the marts")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as error:
        first = str(error).splitlines()[0]
        raise SqlRefusedError(
            f"refused: the query does not parse ({first}); send one SELECT"
        ) from None
    if len(statements) != 1:
        raise SqlRefusedError(
            f"refused: {len(statements)} statements; exactly one SELECT is allowed "
            "(a second statement, even behind a comment, is not run)"
        )
    (tree,) = statements
    if not isinstance(tree, exp.Select | exp.SetOperation):
        kind = FORBIDDEN_NODES.get(type(tree), type(tree).__name__.upper())
        raise SqlRefusedError(
            f"refused: {kind} is not a SELECT; only read-only SELECTs are allowed"
        )
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        for forbidden, label in FORBIDDEN_NODES.items():
            if isinstance(node, forbidden):
                raise SqlRefusedError(f"refused: {label} is not allowed; only read-only SELECTs")
        if isinstance(node, exp.Func):
            _check_function(node)
        if isinstance(node, exp.Table):
            _check_table(node, allowed_tables, cte_names)
    return tree.sql(dialect="duckdb", comments=False)


def _check_table(node: exp.Table, allowed: frozenset[str], cte_names: set[str]) -> None:
    if not isinstance(node.this, exp.Identifier):
        # A string (`FROM 'file.csv'`) or a table function is a file or catalogue read.
        raise SqlRefusedError(
            f"refused: FROM {node.this.sql(dialect='duckdb')} is not a marts table; "
            f"allowed tables: {', '.join(sorted(allowed))}"
        )
    name = node.name.lower()
    if node.catalog or (node.db and node.db.lower() != MARTS_SCHEMA):
        raise SqlRefusedError(
            f"refused: {node.sql(dialect='duckdb')} is outside the marts schema "
            f"{MARTS_SCHEMA!r}; allowed tables: {', '.join(sorted(allowed))}"
        )
    if name in cte_names and not node.db:
        return
    if name not in allowed:
        raise SqlRefusedError(
            f"refused: {name!r} is not one of the marts' tables; "
            f"allowed tables: {', '.join(sorted(allowed))}"
        )


def open_marts(warehouse_path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that cannot read files or reach out, searching the marts first."""
    if not warehouse_path.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse_path}: run `music-platform run` first")
    connection = duckdb.connect(
        str(warehouse_path),
        read_only=True,
        config={"enable_external_access": False, "autoload_known_extensions": False},
    )
    connection.execute(f"SET search_path = '{MARTS_SCHEMA}'")
    # A process's connections to one file share a DuckDB instance: a second toolbox (the HTTP
    # service's beside a test's, say) finds its configuration locked already, and may not re-lock.
    (locked,) = connection.execute("SELECT current_setting('lock_configuration')").fetchone()
    if not locked:
        connection.execute("SET lock_configuration = true")
    return connection


def run_guarded(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    allowed_tables: frozenset[str],
    row_limit: int,
    timeout_seconds: float,
) -> QueryResult:
    """Guard, then run with the tool's own row limit and statement timeout."""
    statement = guard_sql(sql, allowed_tables)
    limited = f"SELECT * FROM ({statement}) AS guarded_query LIMIT {int(row_limit) + 1}"
    timer = threading.Timer(timeout_seconds, connection.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        cursor = connection.execute(limited)
        columns = [column[0] for column in cursor.description or []]
        fetched = cursor.fetchall()
    except duckdb.InterruptException:
        raise SqlRefusedError(
            f"refused: the query ran past the {timeout_seconds:g} s statement timeout; "
            "narrow it (filter, aggregate, or select fewer columns)"
        ) from None
    except duckdb.Error as error:
        first = str(error).splitlines()[0]
        raise SqlRefusedError(f"refused by the warehouse: {first}") from None
    finally:
        timer.cancel()
    rows = [dict(zip(columns, row, strict=True)) for row in fetched[:row_limit]]
    return QueryResult(
        columns=columns,
        rows=rows,
        truncated=len(fetched) > row_limit,
        sql=statement,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
