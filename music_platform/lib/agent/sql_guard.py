"""The SQL tool's guard: one read-only SELECT over the marts, nothing else, with a reason for
every refusal.

The statement is parsed with sqlglot and the statement that runs is regenerated from the parsed
tree (comments dropped), so what runs is exactly what was checked. The read-only DuckDB
connection with external access disabled (see `open_marts`) is the second wall behind it, and
its memory limit, its ban on spilling to disk, the statement timeout and the byte cap on results
bound what one query can cost or return.

Columns can be discovered: DESCRIBE, SHOW, `information_schema.tables/columns` and
`duckdb_tables()/duckdb_columns()` are allowed, each narrowed to the marts' tables.
"""

from __future__ import annotations

import difflib
import json
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

# One query's budget: DuckDB stops past the memory limit rather than spilling to disk (no temp
# space at all), and a result is cut at the byte cap so one wide value cannot flood the model.
MEMORY_LIMIT = "512MB"
MAX_TEMP_DIRECTORY_SIZE = "0B"
RESULT_BYTE_CAP = 64_000

# Catalogue views that describe the marts, each replaced by itself narrowed to the marts' tables.
# The value names the view's schema and table columns.
CATALOGUE_VIEWS: dict[str, tuple[str, str]] = {
    "information_schema.tables": ("table_schema", "table_name"),
    "information_schema.columns": ("table_schema", "table_name"),
    "duckdb_tables": ("schema_name", "table_name"),
    "duckdb_columns": ("schema_name", "table_name"),
}
# The lines of a DuckDB error worth keeping beside its first: its own hints.
ERROR_HINT_PREFIXES = ("Did you mean", "Candidate bindings", "Candidate tables")

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
    note: str | None = None


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
    described = _description(tree, allowed_tables)
    if described is not None:
        return described
    if not isinstance(tree, exp.Select | exp.SetOperation):
        kind = FORBIDDEN_NODES.get(type(tree), type(tree).__name__.upper())
        raise SqlRefusedError(
            f"refused: {kind} is not a SELECT; only read-only SELECTs (and DESCRIBE) are allowed"
        )
    return _guard_select(tree, allowed_tables).sql(dialect="duckdb", comments=False)


def _guard_select(tree: exp.Expression, allowed_tables: frozenset[str]) -> exp.Expression:
    """`tree` checked, with its catalogue views narrowed to the marts."""
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk(prune=lambda node: _catalogue_view(node) is not None):
        if _catalogue_view(node) is not None:
            continue
        for forbidden, label in FORBIDDEN_NODES.items():
            if isinstance(node, forbidden):
                raise SqlRefusedError(f"refused: {label} is not allowed; only read-only SELECTs")
        if isinstance(node, exp.Func):
            _check_function(node)
        if isinstance(node, exp.Table):
            _check_table(node, allowed_tables, cte_names)
    return tree.transform(lambda node: _narrowed(node, allowed_tables))


def _description(tree: exp.Expression, allowed_tables: frozenset[str]) -> str | None:
    """DESCRIBE or SHOW over the marts as the statement to run, None for other statements."""
    if isinstance(tree, exp.Describe):
        if isinstance(tree.this, exp.Table):
            _check_table(tree.this, allowed_tables, set())
            return f"DESCRIBE {tree.this.sql(dialect='duckdb')}"
        return f"DESCRIBE {_guard_select(tree.this, allowed_tables).sql(dialect='duckdb')}"
    if isinstance(tree, exp.Show) and str(tree.this).upper() == "TABLES":
        return _narrowed_view("information_schema.tables", allowed_tables).replace(
            "SELECT *", "SELECT table_name AS name", 1
        )
    if isinstance(tree, exp.Command) and str(tree.this).upper() in {"SHOW", "DESCRIBE"}:
        # `SHOW dim_track` is DESCRIBE in DuckDB; sqlglot leaves it unparsed.
        return guard_sql(f"DESCRIBE {tree.expression}", allowed_tables)
    return None


def _catalogue_view(node: exp.Expression) -> str | None:
    if not isinstance(node, exp.Table):
        return None
    if isinstance(node.this, exp.Anonymous) and not node.this.expressions:
        name = str(node.this.name).lower()
    elif isinstance(node.this, exp.Identifier) and not node.catalog:
        name = f"{node.db}.{node.name}".lower()
    else:
        return None
    return name if name in CATALOGUE_VIEWS else None


def _narrowed_view(view: str, allowed_tables: frozenset[str]) -> str:
    schema_column, table_column = CATALOGUE_VIEWS[view]
    source = f"{view}()" if "." not in view else view
    tables = ", ".join(f"'{table}'" for table in sorted(allowed_tables))
    return (
        f"SELECT * FROM {source} WHERE {schema_column} = '{MARTS_SCHEMA}' "
        f"AND {table_column} IN ({tables})"
    )


def _narrowed(node: exp.Expression, allowed_tables: frozenset[str]) -> exp.Expression:
    view = _catalogue_view(node)
    if view is None:
        return node
    assert isinstance(node, exp.Table)
    alias = node.alias or view.split(".")[-1]
    subquery = sqlglot.parse_one(_narrowed_view(view, allowed_tables), read="duckdb")
    return subquery.subquery(alias)


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
        close = difflib.get_close_matches(name, sorted(allowed), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SqlRefusedError(
            f"refused: {name!r} is not one of the marts' tables.{hint} "
            f"Allowed tables: {', '.join(sorted(allowed))}; their columns: DESCRIBE <table>"
        )


def open_marts(warehouse_path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that cannot read files or reach out, searching the marts first,
    within a memory limit and without temp space (a query that does not fit fails)."""
    if not warehouse_path.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse_path}: run `music-platform run` first")
    connection = duckdb.connect(
        str(warehouse_path),
        read_only=True,
        config={
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "memory_limit": MEMORY_LIMIT,
            "max_temp_directory_size": MAX_TEMP_DIRECTORY_SIZE,
        },
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
    byte_cap: int = RESULT_BYTE_CAP,
) -> QueryResult:
    """Guard, then run with the tool's own row limit, statement timeout and byte cap."""
    statement = guard_sql(sql, allowed_tables)
    limited = f"SELECT * FROM ({statement}) AS guarded_query LIMIT {int(row_limit) + 1}"
    timer = threading.Timer(timeout_seconds, connection.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        cursor = connection.execute(limited)
        columns = [column[0] for column in cursor.description or []]
        rows, truncated, note = _fetch_within(cursor, columns, row_limit, byte_cap)
    except duckdb.InterruptException:
        raise SqlRefusedError(
            f"refused: the query ran past the {timeout_seconds:g} s statement timeout; "
            "narrow it (filter, aggregate, or select fewer columns)"
        ) from None
    except duckdb.OutOfMemoryException:
        raise SqlRefusedError(
            f"refused: the query needs more than the tool's {MEMORY_LIMIT} of memory (it may "
            "not spill to disk); narrow it (filter, aggregate, or select fewer columns)"
        ) from None
    except duckdb.Error as error:
        raise SqlRefusedError(f"refused by the warehouse: {warehouse_error(error)}") from None
    finally:
        timer.cancel()
    return QueryResult(
        columns=columns,
        rows=rows,
        truncated=truncated,
        sql=statement,
        duration_ms=(time.perf_counter() - started) * 1000,
        note=note,
    )


def _fetch_within(
    cursor: duckdb.DuckDBPyConnection, columns: list[str], row_limit: int, byte_cap: int
) -> tuple[list[dict[str, Any]], bool, str | None]:
    """Rows up to the row limit and the byte cap (as JSON); the note says where and why it
    stopped. A first row past the cap alone comes back with its long values cut."""
    rows: list[dict[str, Any]] = []
    used = 0
    while (fetched := cursor.fetchone()) is not None:
        if len(rows) == row_limit:
            return rows, True, f"cut at the row limit of {row_limit}; aggregate or filter"
        row = dict(zip(columns, fetched, strict=True))
        size = len(json.dumps(row, default=str))
        if used + size > byte_cap:
            if not rows:
                rows.append(_clipped(row, byte_cap // max(len(columns), 1)))
            return (
                rows,
                True,
                f"cut at the byte cap of {byte_cap} bytes after {len(rows)} row(s) (the next "
                f"row alone was {size} bytes); select fewer or shorter columns, or aggregate",
            )
        rows.append(row)
        used += size
    return rows, False, None


def _clipped(row: dict[str, Any], value_budget: int) -> dict[str, Any]:
    clipped = {}
    for column, value in row.items():
        text = value if isinstance(value, str) else None
        if text is not None and len(text) > value_budget:
            value = f"{text[: max(value_budget - 40, 0)]}... [cut: {len(text)} characters]"
        clipped[column] = value
    return clipped


def warehouse_error(error: duckdb.Error) -> str:
    """A DuckDB error's first line and its own hints ("Did you mean ..."), without the echo of
    the statement."""
    lines = str(error).splitlines()
    hints = [line.strip() for line in lines[1:] if line.strip().startswith(ERROR_HINT_PREFIXES)]
    return " ".join([lines[0] if lines else type(error).__name__, *hints])
