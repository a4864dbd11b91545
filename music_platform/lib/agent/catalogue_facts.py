"""Facts about one track or artist, read from the marts: every descriptive column the marts
have, and the listening behind it, labelled for what it counts (listeners are distinct users,
plays are listens).

Parameterised SQL on the toolbox's read-only connection. The columns are the marts' own
(`SELECT *`), so a column the marts gain (a bio) is shown without a change here.
"""

from __future__ import annotations

from typing import Any

import duckdb

# Load bookkeeping and lookup keys: not facts about the music.
HIDDEN_COLUMNS = {"loaded_at", "artist_name_key", "track_identity_key", "batch_id"}
TOP_TRACKS = 5


class AmbiguousNameError(LookupError):
    """Several items share the name asked for; the message lists them."""


def _rows(
    connection: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, parameters)
    columns = [column[0] for column in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _one(rows: list[dict[str, Any]], what: str, asked: str, key: str) -> dict[str, Any] | None:
    if len(rows) > 1 and rows[0][key] != asked:
        choices = "; ".join(
            f"{row.get('track_name') or row.get('artist_name')} "
            f"({row.get('artist_name') if what == 'track' else row.get('country_code')}) "
            f"[{what}:{row[key]}]"
            for row in rows[:5]
        )
        raise AmbiguousNameError(f"several {what}s are called {asked!r}: {choices}")
    return {k: v for k, v in rows[0].items() if k not in HIDDEN_COLUMNS} if rows else None


def _track_listening(connection: duckdb.DuckDBPyConnection, track_id: str) -> tuple[int, int]:
    listeners, plays = connection.execute(
        "SELECT count(DISTINCT user_id), count(*) FROM analytics.fct_listens WHERE track_id = $t",
        {"t": track_id},
    ).fetchone() or (0, 0)
    return int(listeners or 0), int(plays or 0)


def track_facts(connection: duckdb.DuckDBPyConnection, track: str) -> dict[str, Any] | None:
    """A track by id (or by exact name, when only one track has it) with its listening."""
    rows = _rows(
        connection,
        "SELECT * FROM analytics.dim_track WHERE track_id = $t OR lower(track_name) = lower($t) "
        "ORDER BY track_id = $t DESC, popularity DESC NULLS LAST, track_id LIMIT 6",
        {"t": track.strip()},
    )
    facts = _one(rows, "track", track.strip(), "track_id")
    if facts is None:
        return None
    if facts.get("duration_ms") is not None:
        seconds = round(facts["duration_ms"] / 1000)
        facts["duration"] = f"{seconds // 60}:{seconds % 60:02d}"
    facts["listeners"], facts["plays"] = _track_listening(connection, facts["track_id"])
    return facts


def artist_facts(connection: duckdb.DuckDBPyConnection, artist: str) -> dict[str, Any] | None:
    """An artist by id or name, with their listening and their most listened tracks."""
    rows = _rows(
        connection,
        "SELECT * FROM analytics.dim_artist WHERE artist_id = $a OR lower(artist_name) = "
        "lower($a) ORDER BY artist_id = $a DESC, popularity DESC NULLS LAST, artist_id LIMIT 6",
        {"a": artist.strip()},
    )
    facts = _one(rows, "artist", artist.strip(), "artist_id")
    if facts is None:
        return None
    artist_id = facts["artist_id"]
    facts["listeners"], facts["plays"] = _artist_listening(connection, artist_id)
    facts["top_tracks"] = _rows(
        connection,
        "SELECT t.track_id, t.track_name, count(DISTINCT l.user_id) AS listeners, "
        "count(l.user_id) AS plays FROM analytics.dim_track AS t "
        "LEFT JOIN analytics.fct_listens AS l ON l.track_id = t.track_id "
        "WHERE t.artist_id = $a GROUP BY t.track_id, t.track_name "
        f"ORDER BY listeners DESC, plays DESC, t.track_id LIMIT {TOP_TRACKS}",
        {"a": artist_id},
    )
    return facts


def _artist_listening(connection: duckdb.DuckDBPyConnection, artist_id: str) -> tuple[int, int]:
    listeners, plays = connection.execute(
        "SELECT count(DISTINCT l.user_id), count(*) FROM analytics.fct_listens AS l "
        "JOIN analytics.dim_track AS t USING (track_id) WHERE t.artist_id = $a",
        {"a": artist_id},
    ).fetchone() or (0, 0)
    return int(listeners or 0), int(plays or 0)


def heard_tracks(connection: duckdb.DuckDBPyConnection, user_id: str) -> set[str]:
    """The tracks a user has played."""
    rows = connection.execute(
        "SELECT DISTINCT track_id FROM analytics.fct_listens WHERE user_id = $u", {"u": user_id}
    ).fetchall()
    return {str(track_id) for (track_id,) in rows}
