"""`warehouse/marts_snapshot`: the marts published as a read-only DuckDB file once they are built,
so the HTTP service, the agent, the MCP server and analysts never hold the warehouse the next
run writes (see lib/warehouse/snapshot.py)."""

import dagster as dg

from music_platform.defs.shared.keys import (
    CATALOGUE_EMBEDDINGS,
    CATALOGUE_FRESHNESS,
    WAREHOUSE_POOL,
    single_run_backfill,
)
from music_platform.defs.warehouse.dbt import dbt_catalogue_models, dbt_daily_models
from music_platform.resources.warehouse import WarehouseResource
from music_platform.settings import Settings

MARTS_SNAPSHOT = dg.AssetKey(["warehouse", "marts_snapshot"])
CHECK_NAME = "every_mart_copied"
MARTS_GROUP = "marts"
# The relations readers cannot do without: the agent's tools and the metrics read them.
REQUIRED_RELATIONS = (
    "analytics.dim_track",
    "analytics.dim_artist",
    "analytics.dim_user",
    "analytics.fct_listens",
)

MARTS = sorted(
    (
        spec.key
        for assets_def in (dbt_catalogue_models, dbt_daily_models)
        for spec in assets_def.specs
        if spec.group_name == MARTS_GROUP
    ),
    key=lambda key: key.to_user_string(),
)


@dg.asset(
    key=MARTS_SNAPSHOT,
    deps=[*MARTS, CATALOGUE_EMBEDDINGS],
    description=(
        "The marts (`analytics`) and the catalogue index (`rag`) copied into a new read-only "
        "DuckDB file and published atomically as `$MUSIC_PLATFORM_HOME/marts.duckdb` (a link "
        "to `snapshots/<version>/marts.duckdb`). The service, the agent, the MCP server and "
        "analysts read it, so none of them holds the warehouse a run writes; they switch to a "
        "new version when it is published. On Snowflake readers query the warehouse directly."
    ),
    group_name="warehouse",
    kinds={"duckdb"},
    freshness_policy=CATALOGUE_FRESHNESS,
    pool=WAREHOUSE_POOL,
    # Once per run whatever days it covers, so a backfill of the daily path can include it.
    backfill_policy=single_run_backfill,
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=MARTS_SNAPSHOT,
            description=(
                "The published snapshot holds the marts readers query "
                f"({', '.join(REQUIRED_RELATIONS)})."
            ),
        )
    ],
)
def marts_snapshot(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    warehouse: dg.ResourceParam[WarehouseResource],
) -> dg.MaterializeResult:
    if warehouse.engine != "duckdb":
        # Snowflake serves readers beside its writers: there is nothing to copy.
        reason = f"not published: readers query {warehouse.engine} directly"
        context.log.info(reason)
        return dg.MaterializeResult(
            metadata={"published": False, "reason": reason},
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_NAME,
                    passed=True,
                    metadata={"published": False},
                    description=reason,
                )
            ],
        )

    from music_platform.lib.warehouse.snapshot import publish_snapshot, snapshot_link

    published = publish_snapshot(settings.warehouse_path, settings.home_dir)
    context.log.info(
        f"published marts snapshot {published.version}: {len(published.tables)} tables, "
        f"{published.bytes} bytes"
    )
    missing = [name for name in REQUIRED_RELATIONS if name not in published.tables]
    return dg.MaterializeResult(
        metadata={
            "published": True,
            "version": published.version,
            "path": dg.MetadataValue.path(str(snapshot_link(settings.home_dir))),
            "file": dg.MetadataValue.path(str(published.path)),
            "bytes": published.bytes,
            "tables": len(published.tables),
            "rows": dg.MetadataValue.json(published.tables),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_NAME,
                passed=not missing,
                metadata={"missing": dg.MetadataValue.json(missing)},
                description=(
                    f"missing: {', '.join(missing)}"
                    if missing
                    else f"{len(published.tables)} relations copied"
                ),
            )
        ],
    )
