import dagster as dg

from music_platform.defs.recommender.assets import recommender_model

defs = dg.Definitions(assets=[recommender_model])
