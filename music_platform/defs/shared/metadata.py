"""Materialization metadata shared by every layer: row counts and a markdown preview."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

from music_platform.lib.schemas import LOAD_METADATA_TYPES

if TYPE_CHECKING:
    import polars as pl

    from music_platform.lib.schemas import TableContract

PREVIEW_ROWS = 10


def markdown_preview(frame: pl.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows as a markdown table, with long text cut so the table stays readable."""
    import polars as pl

    head = frame.head(rows).with_columns(
        pl.col(pl.String).str.slice(0, 40),
    )
    with pl.Config(
        tbl_formatting="MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=rows,
        tbl_cols=-1,
        tbl_width_chars=10_000,
        fmt_str_lengths=40,
    ):
        return dg.MetadataValue.md(str(head))


def table_metadata(
    frame: pl.DataFrame, *, rows: int | None = None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Row count (Dagster's standard key, shown in the UI; `rows` when `frame` is only the last
    part of what was written), preview and any extra figures."""
    return {
        "dagster/row_count": dg.MetadataValue.int(frame.height if rows is None else rows),
        "preview": markdown_preview(frame),
        **(extra or {}),
    }


def contract_column_schema(contract: TableContract) -> dg.TableSchema:
    """The table's columns with the types staging and the warehouse create it with (its
    contract), the primary key marked, for the UI's column list."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                column_type.value,
                constraints=dg.TableColumnConstraints(nullable=name not in contract.primary_key),
                description="primary key" if name in contract.primary_key else None,
            )
            for name, column_type in {**contract.column_types, **LOAD_METADATA_TYPES}.items()
        ]
    )
