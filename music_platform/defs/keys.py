"""Asset keys more than one area names. An area owns the assets it defines; the others refer
to them through these keys, never by importing the area."""

import dagster as dg

# The Kafka stream, observed, not materialized: the consumer lands it (defs/streaming), and
# staging/listens adds each day's events to the day (defs/staging).
STREAM_LISTEN_EVENTS = dg.AssetKey(["stream", "listen_events"])
