import dagster as dg

from music_platform.defs.streaming.assets import late_and_duplicate_events, stream_listen_events
from music_platform.defs.streaming.sensor import streamed_days_sensor

defs = dg.Definitions(
    assets=[stream_listen_events],
    asset_checks=[late_and_duplicate_events],
    sensors=[streamed_days_sensor],
)
