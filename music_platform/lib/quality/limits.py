"""The reject-rate judgement every path shares (a screened file, a staged table or day): one
finding whose text, when it blocks, says what a user needs to act on it: the share, the limit
and the setting behind it, the commonest reasons, and where the rejected rows are."""

from __future__ import annotations

from collections.abc import Mapping

from music_platform.lib.quality.compare import Finding
from music_platform.settings import RejectLimit

TOP_REASONS = 3


def commonest_reasons(reasons: Mapping[str, int], top: int = TOP_REASONS) -> str:
    """The most frequent reject reasons with their counts, for a one-line message."""
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:top]
    return ", ".join(f"{label} ({count})" for label, count in ranked)


def reject_rate(
    rejected: int,
    offered: int,
    limit: RejectLimit,
    reasons: Mapping[str, int],
    *,
    where: str,
    what: str = "rows",
) -> Finding:
    """Passes while `rejected` of `offered` stays within `limit`; `where` names the rejected
    rows' place (for example "staging.rejects, table_name 'listens'")."""
    rate = rejected / max(offered, 1)
    passed = rate <= limit.rate
    commonest = commonest_reasons(reasons)
    parts = [
        f"{rejected} of {offered} {what} rejected ({rate:.2%}, "
        f"{'limit' if passed else 'over the limit of'} {limit.rate:.2%}, {limit.setting})"
    ]
    if commonest:
        parts.append(f"commonest: {commonest}")
    if rejected:
        parts.append(f"rejected rows in {where}")
    if not passed:
        parts.append(f"fix them at the source and load again, or {limit.how_to_change()}")
    return Finding(
        passed,
        "; ".join(parts),
        {
            "rejected": rejected,
            "rows": offered,
            "reject_rate": rate,
            "threshold": limit.rate,
            "limit_setting": limit.setting,
            "rejects_location": where,
        },
    )
