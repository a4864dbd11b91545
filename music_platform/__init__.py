"""The music data platform: Dagster assets from raw listening to served recommendations."""

import warnings

from dagster import BetaWarning

# Single-run backfill policies are how a month's backfill becomes one dbt invocation; we use
# this beta parameter on purpose, so its warning at every import is noise.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
