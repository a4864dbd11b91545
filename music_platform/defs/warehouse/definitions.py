import dagster as dg

from music_platform.defs.warehouse.dbt import dbt_catalogue_models, dbt_daily_models
from music_platform.defs.warehouse.landing import landing_assets

defs = dg.Definitions(assets=[*landing_assets, dbt_catalogue_models, dbt_daily_models])
