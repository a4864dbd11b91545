"""An inactive provider's assets: materialized as skipped, with why and what to set.

Every provider's assets are in the graph whatever is configured, so lineage and history never
change with the keys or files at hand; an inactive one lands nothing and says so, and its checks
pass as "not evaluated" (nothing was landed to judge) rather than failing or going missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from music_platform.lib.sources.selection import SourceSelection


def skipped(
    context: dg.AssetExecutionContext, selection: SourceSelection, reason: str
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    context.log.info(f"skipped: {reason}")
    for key in sorted(context.selected_asset_keys, key=lambda key: key.to_user_string()):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": dg.MetadataValue.int(0),
                "source": "skipped: not configured",
                "skipped": reason,
                **selection.as_metadata(),
            },
        )
    for check in sorted(context.selected_asset_check_keys, key=lambda check: check.name):
        yield dg.AssetCheckResult(
            asset_key=check.asset_key,
            check_name=check.name,
            passed=True,
            metadata={"evaluated": False},
            description=f"not evaluated, nothing landed: {reason}",
        )
