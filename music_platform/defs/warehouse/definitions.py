import dagster as dg

from music_platform.defs.warehouse.dbt import dbt_catalogue_models, dbt_daily_models
from music_platform.defs.warehouse.landing import landing_assets
from music_platform.defs.warehouse.snapshot import marts_snapshot

defs = dg.Definitions(
    assets=[*landing_assets, dbt_catalogue_models, dbt_daily_models, marts_snapshot]
)
