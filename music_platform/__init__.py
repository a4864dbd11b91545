"""The music data platform: Dagster assets from raw listening to served recommendations."""

import warnings

# Single-run backfill policies are how a month's backfill becomes one dbt invocation; we use
# this beta parameter on purpose, so its warning (a dagster BetaWarning) at every import is
# noise. Matched by its message, so that importing the package (the CLI, whose `dev` command
# starts Dagster in a new process) does not import Dagster.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")
