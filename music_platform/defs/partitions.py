"""What every area shares: the daily partitions, the freshness policies and asset kinds."""

from datetime import timedelta

import dagster as dg

from music_platform.settings import get_settings

# Every time-based asset shares this one definition so that partitions line up across layers.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=get_settings().partitions_start, timezone="UTC"
)

# dbt and the loaders handle a whole range in one go, so a month's backfill is one run.
single_run_backfill = dg.BackfillPolicy.single_run()

# Daily data should land every day; warn a couple of hours late, fail after a missed day.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=48), warn_window=timedelta(hours=26)
)
# Catalogues (tracks, artists, users) change slowly and are refreshed with the daily run.
CATALOGUE_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=8), warn_window=timedelta(days=2)
)
# The recommender retrains daily after the warehouse; a week without retraining is a failure.
MODEL_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=7), warn_window=timedelta(days=2)
)

# Steps that open the DuckDB warehouse share this pool; dagster.yaml lets one run at a time,
# since DuckDB allows a single writer process (and no reader beside it).
WAREHOUSE_POOL = "warehouse"
