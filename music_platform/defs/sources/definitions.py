import dagster as dg

from music_platform.defs.sources.synthetic import (
    raw_synthetic_catalogue,
    raw_synthetic_listens,
    raw_synthetic_users,
)

defs = dg.Definitions(assets=[raw_synthetic_catalogue, raw_synthetic_users, raw_synthetic_listens])
