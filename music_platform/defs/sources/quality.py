"""What a screened file landing reports: its rejects in the staging rejects table, rejected /
deduplicated / drift in the metadata, and the quality checks, evaluated before anything is
written so that a blocked landing leaves the previous one in place.

Blocking: the file's columns (a required one missing: the missing and the unknown ones named),
the reject rate, the volume (empty, or far from the previous landing). Warnings, for catalogues:
conflicting facts for one track id, a category column that explodes, a numeric column whose
distribution moved.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.lib.quality import compare, limits
from music_platform.lib.quality.files import ScreenedFile
from music_platform.lib.schemas import rejects_columns
from music_platform.resources.staging import StagingResource
from music_platform.settings import RejectLimit

if TYPE_CHECKING:
    import polars as pl

COLUMNS_CHECK = "columns_match"
REJECTS_CHECK = "reject_rate_within_threshold"
VOLUME_CHECK = "volume_as_expected"
FACTS_CHECK = "facts_agree"
CATEGORIES_CHECK = "categories_stable"
DISTRIBUTIONS_CHECK = "distributions_stable"


@dataclass(frozen=True)
class CatalogueProfile:
    """What the warning checks of a catalogue file look at."""

    key: str
    facts: tuple[str, ...]
    category: str
    numeric: tuple[str, ...]


def check_specs(key: dg.AssetKey, *, catalogue: bool) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            COLUMNS_CHECK,
            asset=key,
            blocking=True,
            description="The file has every required column, by name; none is guessed.",
        ),
        dg.AssetCheckSpec(
            REJECTS_CHECK,
            asset=key,
            blocking=True,
            description="Rows refused by screening stay under MUSIC_PLATFORM_MAX_REJECT_RATE.",
        ),
        dg.AssetCheckSpec(
            VOLUME_CHECK,
            asset=key,
            blocking=True,
            description="Not empty, and within the tolerance of the previous landing's rows.",
        ),
    ]
    if catalogue:
        specs += [
            dg.AssetCheckSpec(FACTS_CHECK, asset=key, description="One name and duration per id."),
            dg.AssetCheckSpec(
                CATEGORIES_CHECK, asset=key, description="Genres do not explode in number."
            ),
            dg.AssetCheckSpec(
                DISTRIBUTIONS_CHECK, asset=key, description="Numeric columns keep their shape."
            ),
        ]
    return specs


@dataclass
class Screening:
    """The check results of one landing and whether it may be written."""

    checks: list[dg.AssetCheckResult] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(not c.passed and c.severity == dg.AssetCheckSeverity.ERROR for c in self.checks)


def _result(
    key: dg.AssetKey, name: str, finding: compare.Finding, *, blocking: bool
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=finding.passed,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata=dict(finding.metadata),
        description=finding.description,
    )


def wrong_columns(key: dg.AssetKey, error: Exception, *, catalogue: bool) -> Screening:
    """A file whose columns do not match: the columns check fails, the rest are not evaluated."""
    message = f"{error}"
    checks = [_result(key, COLUMNS_CHECK, compare.Finding(False, message), blocking=True)]
    for spec in check_specs(key, catalogue=catalogue)[1:]:
        checks.append(
            _result(
                key,
                spec.name,
                compare.Finding(False, "not evaluated: the file's columns are wrong"),
                blocking=False,
            )
        )
    return Screening(checks)


def rejects_place(table_name: str, partition_key: str = "") -> str:
    """Where rejected rows of a table (and partition) are kept, for messages."""
    day = f", partition_key '{partition_key}'" if partition_key else ""
    return f"the staging rejects table (staging.rejects, table_name '{table_name}'{day})"


def evaluate(
    key: dg.AssetKey,
    screened: ScreenedFile,
    landed: pl.DataFrame,
    *,
    previous: pl.DataFrame | None,
    what: str,
    reject_limit: RejectLimit,
    rejects_table: str,
    profile: CatalogueProfile | None = None,
    screened_rows: pl.DataFrame | None = None,
) -> Screening:
    """Every check of a screened landing. `landed` is what would be written, `previous` what
    was written last time (None before the first landing); `screened_rows` the file's rows
    before one-per-key, for the conflicting-facts check; `reject_limit` the share of rows
    that may be refused, whose rejects are recorded under `rejects_table`."""
    offered = screened.rows.height + screened.rejected + screened.deduplicated
    rejects = limits.reject_rate(
        screened.rejected,
        offered,
        reject_limit,
        screened.reject_reasons,
        where=rejects_place(rejects_table),
    )
    previous_rows = previous.height if previous is not None else None
    checks = [
        _result(
            key,
            COLUMNS_CHECK,
            compare.Finding(True, "every required column present"),
            blocking=True,
        ),
        _result(key, REJECTS_CHECK, rejects, blocking=True),
        _result(
            key,
            VOLUME_CHECK,
            compare.volume(landed.height, previous_rows, what=what),
            blocking=True,
        ),
    ]
    if profile is not None:
        facts = compare.conflicting_facts(
            screened_rows if screened_rows is not None else landed, profile.key, profile.facts
        )
        categories = compare.category_explosion(landed, previous, profile.category)
        shift = compare.distribution_shift(landed, previous, profile.numeric)
        checks += [
            _result(key, FACTS_CHECK, facts, blocking=False),
            _result(key, CATEGORIES_CHECK, categories, blocking=False),
            _result(key, DISTRIBUTIONS_CHECK, shift, blocking=False),
        ]
    return Screening(checks)


def record_rejects(
    staging: StagingResource, table_name: str, screened: ScreenedFile | None
) -> None:
    """Replace the file's rejects in the staging rejects table (none when it was clean)."""
    import polars as pl

    rejects = screened.rejects if screened is not None else pl.DataFrame()
    store = staging.store()
    store.ensure_tables()
    rows = (
        rejects.select(
            pl.lit(table_name).alias("table_name"),
            pl.lit("").alias("partition_key"),
            "record_key",
            "reason",
            "record",
            pl.lit(str(uuid.uuid4())).alias("batch_id"),
            pl.lit(dt.datetime.now(dt.UTC)).alias("rejected_at"),
        )
        if rejects.height
        else pl.DataFrame(schema=rejects_columns())
    )
    store.replace_rejects(table_name, "", rows.cast(rejects_columns()))


def screening_metadata(screened: ScreenedFile | None, screening: Screening) -> dict[str, object]:
    """rejected, deduplicated and drift (as the run summary reads them) and whether blocked."""
    metadata: dict[str, object] = {
        "rejected": screened.rejected if screened else 0,
        "deduplicated": screened.deduplicated if screened else 0,
        "drift": dg.MetadataValue.json(screened.drift if screened else []),
    }
    if screened is not None and screened.reject_reasons:
        metadata["reject_reasons"] = dg.MetadataValue.json(screened.reject_reasons)
    if screening.blocked:
        failed = [c.check_name for c in screening.checks if not c.passed]
        metadata["blocked"] = f"not written, the previous landing stays: {', '.join(failed)}"
    return metadata
