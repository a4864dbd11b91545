import dagster as dg

from music_platform.defs.staging.assets import staging_assets

defs = dg.Definitions(assets=staging_assets)
