"""The governed metrics (the dbt semantic layer, MetricFlow) as the agent's tools: list them, and
compile a query of them into SQL that the SQL guard then runs on the read-only marts.

MetricFlow only compiles here, from the semantic manifest `dbt parse` writes; the warehouse is
read through the toolbox's guarded connection like any other SQL, so a metric query gets the
same limits as the sql tool. MetricFlow is imported on first use: it costs about a second.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

# Where `dbt parse` (and the platform's manifest preparation) leaves it.
DEFAULT_SEMANTIC_MANIFEST = (
    Path(__file__).resolve().parents[3] / "dbt_project" / "target" / "semantic_manifest.json"
)


class MetricsUnavailableError(RuntimeError):
    """The semantic manifest is missing or a metric query cannot be compiled."""


class _CompileOnly:
    """A MetricFlow SQL client that renders DuckDB SQL and runs nothing."""

    def __init__(self) -> None:
        from metricflow.protocols.sql_client import SqlEngine
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer

        self.sql_engine_type = SqlEngine.DUCKDB
        self.sql_plan_renderer = DuckDbSqlPlanRenderer()

    def query(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("compile only")

    execute = dry_run = query

    def close(self) -> None:
        return None

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"


class MetricLayer:
    def __init__(self, manifest_path: Path = DEFAULT_SEMANTIC_MANIFEST) -> None:
        self.manifest_path = manifest_path
        self._engine: Any = None
        self._lock = threading.Lock()

    def engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                if not self.manifest_path.exists():
                    raise MetricsUnavailableError(
                        f"no semantic manifest at {self.manifest_path}: run `dbt parse` in "
                        "dbt_project (the platform's run prepares it)"
                    )
                from metricflow.engine.metricflow_engine import MetricFlowEngine
                from metricflow_semantics.model.dbt_manifest_parser import (
                    parse_manifest_from_dbt_generated_manifest,
                )
                from metricflow_semantics.model.semantic_manifest_lookup import (
                    SemanticManifestLookup,
                )

                manifest = parse_manifest_from_dbt_generated_manifest(
                    manifest_json_string=self.manifest_path.read_text()
                )
                self._engine = MetricFlowEngine(SemanticManifestLookup(manifest), _CompileOnly())
            return self._engine

    def list_metrics(self) -> list[dict[str, Any]]:
        """Every metric with its description and the dimensions it can be grouped by."""
        engine = self.engine()
        return [
            {
                "name": metric.name,
                "description": metric.description,
                "type": str(metric.type.value),
                "dimensions": sorted(
                    {dimension.dunder_name for dimension in metric.dimensions}
                    | {"metric_time__day", "metric_time__week", "metric_time__month"}
                ),
            }
            for metric in engine.list_metrics()
        ]

    def compile(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> str:
        """The SQL of a metric query, naming the marts as schema.table (any warehouse file)."""
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics),
            group_by_names=list(group_by) or None,
            where_constraints=list(where) or None,
            order_by_names=list(order_by) or None,
            limit=limit,
        )
        try:
            explained = self.engine().explain(request)
        except MetricsUnavailableError:
            raise
        except Exception as error:  # MetricFlow's errors name the unknown metric or dimension.
            reason = " ".join(str(error).split())[:400] or repr(error)
            message = f"the metric query cannot be compiled: {reason}"
            raise MetricsUnavailableError(message) from None
        tree = sqlglot.parse_one(explained.sql_statement.sql, read="duckdb")
        # The manifest names the database of the file it was parsed against: drop it.
        for table in tree.find_all(exp.Table):
            table.set("catalog", None)
        return tree.sql(dialect="duckdb")
