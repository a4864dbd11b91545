"""Loading the warehouse from staging (ELT): each staged table lands in `landing.<table>`.

Daily tables are copied as Arrow in batches of whole days (LANDING_BATCH_ROWS), so the warehouse
grows incrementally and dbt's `landing` source always mirrors what staging accepted.
"""

from collections.abc import Iterator, Mapping

import dagster as dg

from music_platform.defs.shared.checks import refuse_checks_alone, selected_checks
from music_platform.defs.shared.keys import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    WAREHOUSE_POOL,
    daily_partitions,
    single_run_backfill,
    staging_key,
)
from music_platform.defs.shared.keys import landing_key as _landing_key
from music_platform.defs.shared.metadata import contract_column_schema, markdown_preview
from music_platform.lib import schemas
from music_platform.resources.staging import StagingResource
from music_platform.resources.warehouse import WarehouseResource


def landing_key(contract: schemas.TableContract) -> dg.AssetKey:
    return _landing_key(contract.name)


def _reconciles_spec(contract: schemas.TableContract) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "reconciles_with_staging",
        asset=landing_key(contract),
        blocking=True,
        description="The warehouse holds exactly the rows staging accepted.",
    )


def _reconciliation(
    contract: schemas.TableContract, staged: int, landed: int, unequal_days: list[str]
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=landing_key(contract),
        check_name="reconciles_with_staging",
        passed=staged == landed and not unequal_days,
        metadata={
            "staged_rows": staged,
            "landed_rows": landed,
            "unequal_partitions": ", ".join(unequal_days) or "none",
        },
        description=f"staging has {staged} rows, the warehouse {landed}"
        + (f"; partitions that differ: {', '.join(unequal_days)}" if unequal_days else ""),
    )


# A window's days land in batches of about this many rows, each batch replaced in one
# transaction: a month's backfill never holds the whole window in memory, few enough round trips
# stay for Snowflake, and a failure leaves every day whole, as it was or wholly new.
LANDING_BATCH_ROWS = 1_000_000


def day_batches(rows_by_day: Mapping[str, int], limit: int) -> list[list[str]]:
    """Consecutive days grouped so each group holds at most `limit` rows (a bigger day alone)."""
    batches: list[list[str]] = []
    rows = 0
    for day, count in rows_by_day.items():
        if batches and rows + count <= limit:
            batches[-1].append(day)
            rows += count
        else:
            batches.append([day])
            rows = count
    return batches


def _landing_asset(contract: schemas.TableContract) -> dg.AssetsDefinition:
    partitioned = contract.partition_column is not None

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                landing_key(contract),
                deps=[staging_key(contract.name)],
                description=(
                    f"Staged {contract.name} copied into the warehouse for dbt's `landing` source."
                ),
                metadata={"dagster/column_schema": contract_column_schema(contract)},
                group_name="warehouse",
                kinds={"python"},
                freshness_policy=DAILY_FRESHNESS if partitioned else CATALOGUE_FRESHNESS,
            )
        ],
        name=landing_key(contract).to_python_identifier(),
        partitions_def=daily_partitions if partitioned else None,
        backfill_policy=single_run_backfill if partitioned else None,
        check_specs=[_reconciles_spec(contract)],
        can_subset=True,  # see staging.assets.selected_checks
        pool=WAREHOUSE_POOL,
    )
    def _asset(
        context: dg.AssetExecutionContext,
        staging: dg.ResourceParam[StagingResource],
        warehouse: dg.ResourceParam[WarehouseResource],
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        import polars as pl

        refuse_checks_alone(context)
        store = staging.store()
        client = warehouse.client()
        if partitioned:
            keys = context.partition_keys
            staged_by_day = {key: store.count(contract, key) for key in keys}
            written = 0
            for batch in day_batches(staged_by_day, LANDING_BATCH_ROWS):
                data = store.read(contract, batch)
                written += client.replace_partitions(
                    contract.name,
                    data,
                    partition_column=contract.partition_column,
                    partition_keys=batch,
                )
            landed_by_day = {
                key: client.count(
                    contract.name, partition_column=contract.partition_column, partition_keys=[key]
                )
                for key in keys
            }
            # Each day's materialization carries that day's own count.
            for key, rows in landed_by_day.items():
                context.add_asset_metadata(
                    {
                        "dagster/row_count": dg.MetadataValue.int(rows),
                        "staged_rows": staged_by_day[key],
                    },
                    partition_key=key,
                )
            landed = sum(landed_by_day.values())
            staged = sum(staged_by_day.values())
            unequal = [key for key in keys if staged_by_day[key] != landed_by_day[key]]
        else:
            data = store.read(contract)
            written = client.replace_table(contract.name, data)
            landed = client.count(contract.name)
            staged = store.count(contract)
            unequal = []
        context.log.info(f"landed {written} {contract.name} rows in the warehouse")
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(written),
                "engine": warehouse.engine,
                "preview": markdown_preview(pl.from_arrow(data.slice(0, 10))),
            }
        )
        yield from selected_checks(context, [_reconciliation(contract, staged, landed, unequal)])

    return _asset


landing_assets = [_landing_asset(contract) for contract in schemas.ALL_TABLES]
