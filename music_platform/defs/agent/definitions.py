import dagster as dg

from music_platform.defs.agent.assets import catalogue_embeddings

defs = dg.Definitions(assets=[catalogue_embeddings])
