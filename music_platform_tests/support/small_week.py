"""One week of a few hundred listens, as a new self-hosted user brings it: a Kaggle-format
catalogue (the shared sample of 2,024 real tracks, with Kaggle's own index column) and a
listening-events file over it; and the defects a real week brings (tracks the catalogue does
not know yet, a catalogue row with a bad type, exact duplicate catalogue rows)."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from music_platform.lib.sources.files import SHARED_FILES

FIRST_DAY = date(2024, 3, 4)
DAYS = 7
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
USERS = 12
LISTENS = 420


@dataclass(frozen=True)
class Week:
    catalogue: Path
    events: Path
    unknown_listens: int
    """Listens naming a track the staged catalogue lacks (never catalogued, or rejected)."""


def _catalogue_rows(shared_data: Path) -> list[list[str]]:
    with (shared_data / SHARED_FILES["kaggle_tracks"]).open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write_week(
    folder: Path,
    shared_data: Path,
    *,
    unknown_tracks: int = 0,
    bad_catalogue_row: bool = False,
    duplicate_catalogue_rows: int = 0,
    seed: int = 7,
) -> Week:
    """The catalogue and LISTENS events by USERS people over DAYS days from FIRST_DAY.

    `unknown_tracks` more track ids, never catalogued, are each heard three times;
    `bad_catalogue_row` gives one heard track's row a popularity of "high" (so the row is
    rejected and its listens name a track the staged catalogue lacks);
    `duplicate_catalogue_rows` rows appear twice, under their own index numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    header, *rows = _catalogue_rows(shared_data)
    # Listeners favour a few hundred tracks, as people do.
    heard = rng.sample(range(len(rows)), 300)
    durations = {rows[i][0]: int(rows[i][header.index("duration_ms")]) for i in heard}
    start = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC)
    picks = [rows[rng.choice(heard[: 30 + rng.randrange(270)])][0] for _ in range(LISTENS)]
    unknown_ids = [f"0UnknownTrack{n:09d}" for n in range(unknown_tracks)]
    picks[: 3 * unknown_tracks] = [track for track in unknown_ids for _ in range(3)]
    unknown_listens = 3 * unknown_tracks
    if bad_catalogue_row:
        broken = rows[heard[0]]
        broken[header.index("popularity")] = "high"
        unknown_listens += picks.count(broken[0])
    events = []
    for n, track_id in enumerate(picks):
        played_at = start + timedelta(seconds=rng.randrange(DAYS * 86_400))
        played = min(durations.get(track_id, 200_000), 30_000 + rng.randrange(200_000))
        events.append(
            {
                "event_id": f"evt-{n:05d}",
                "user_id": f"listener{n % USERS:02d}",
                "track_id": track_id,
                "played_at": played_at.isoformat(),
                "ms_played": played,
                "action": "play",
            }
        )
    events_path = folder / "week.jsonl"
    events_path.write_text("\n".join(json.dumps(event) for event in events) + "\n")
    copies = [rows[i] for i in rng.sample(range(len(rows)), duplicate_catalogue_rows)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["", *header])  # Kaggle's export numbers its rows in an unnamed column
    for number, row in enumerate([*rows, *copies]):
        writer.writerow([number, *row])
    catalogue_path = folder / "tracks.csv"
    catalogue_path.write_text(buffer.getvalue(), encoding="utf-8")
    return Week(catalogue_path, events_path, unknown_listens)


def run_arguments(summary: Path) -> list[str]:
    """`music-platform run` over the week, writing its summary."""
    return [
        "run",
        "--source",
        "files",
        "--from",
        FIRST_DAY.isoformat(),
        "--to",
        LAST_DAY.isoformat(),
        "--summary",
        str(summary),
    ]
