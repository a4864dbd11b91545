"""What a partition does when its source stays down past the retry budget."""

from __future__ import annotations

import dagster as dg

from music_platform.lib.source_errors import SourceUnavailableError
from music_platform.settings import Settings


def retry_later(
    context: dg.AssetExecutionContext, settings: Settings, error: SourceUnavailableError
) -> Exception:
    """The exception that ends a partition whose source outlasted its retry budget: a Dagster
    retry while some are left, then a failure that says nothing was written."""
    window = f"{context.partition_keys[0]} .. {context.partition_keys[-1]}"
    if context.retry_number < settings.source_retries:
        context.log.warning(
            f"{error}; nothing written for {window}; retrying in "
            f"{settings.source_retry_delay_seconds:g} s "
            f"(retry {context.retry_number + 1} of {settings.source_retries})"
        )
        return dg.RetryRequested(
            max_retries=settings.source_retries,
            seconds_to_wait=settings.source_retry_delay_seconds,
        )
    return dg.Failure(
        description=(
            f"{error}. Nothing was written for {window}: the partitions stay as they were "
            "until a later run succeeds."
        ),
        allow_retries=False,
    )
