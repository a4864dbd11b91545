"""Source connector throughput against the loopback fakes, and the Kaggle CSV parse rate.

- Last.fm: one day of scrobbles landed through pylast over TLS (records/s, 200 per page).
- Spotify: tracks, artists and audio features landed in batches through spotipy (records/s),
  and search resolution (tracks/s).
- Kaggle: the project's parser (`read_tracks_csv`: types, booleans, one row per track with its
  genres) against plain `polars.read_csv` of the same file, in the same run (time ratio).
Rate limiters are off: this measures the client stack, not the APIs' allowances.

    uv run python bench/sources.py [--scrobbles N] [--tracks N] [--kaggle-rows N] [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib.sources.kaggle import read_tracks_csv
from music_platform.lib.sources.lastfm import LastfmClient, LastfmSettings
from music_platform.lib.sources.ratelimit import TokenBucket
from music_platform.lib.sources.spotify import SpotifyClient, SpotifySettings
from music_platform_tests.support import lastfm_fake, spotify_fake
from music_platform_tests.support.loopback import LoopbackServer, make_certificates
from music_platform_tests.support.paths import SHARED_DATA

DAY = date(2024, 3, 1)


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of `repeats` runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def bench_lastfm(scrobbles: int, repeats: int, work: Path) -> dict[str, float]:
    certificates = make_certificates(work)
    fake = lastfm_fake.FakeLastfm()
    midnight = int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp())
    step = 86_399 / max(scrobbles - 1, 1)
    fake.scrobbles["bench"] = [
        lastfm_fake.scrobble(f"Artist {i % 97}", f"Song {i}", midnight + int(i * step), album="LP")
        for i in range(scrobbles)
    ]
    with LoopbackServer(fake, tls=certificates.server_context) as server:
        settings = LastfmSettings(
            api_key=lastfm_fake.API_KEY,
            api_root=f"{server.url}/2.0/",
            ca_file=certificates.ca_file,
        )
        client = LastfmClient(settings, dump_dir=work, limiter=TokenBucket.unlimited())
        seconds, records = best_of(repeats, lambda: client.recent_tracks("bench", DAY))
    assert len(records) == scrobbles
    return {
        "lastfm_records": scrobbles,
        "lastfm_pages": -(-scrobbles // settings.page_size),
        "lastfm_seconds": seconds,
        "lastfm_records_per_s": scrobbles / seconds,
    }


def bench_spotify(tracks: int, resolves: int, repeats: int, work: Path) -> dict[str, float]:
    fake = spotify_fake.FakeSpotify()
    ids, heard = [], []
    for n in range(tracks):
        track_id, artist_id = f"trk{n:019d}", f"art{n // 3:019d}"
        fake.add(
            spotify_fake.track(track_id, f"Tune {n}", [(artist_id, f"Band {n // 3}")]),
            spotify_fake.artist(artist_id, f"Band {n // 3}"),
            features=spotify_fake.audio_features(track_id),
        )
        ids.append(track_id)
        heard.append((f"Band {n // 3}", f"Tune {n}"))
    with LoopbackServer(fake) as server:
        settings = SpotifySettings(
            client_id=spotify_fake.CLIENT_ID,
            client_secret=spotify_fake.CLIENT_SECRET,
            api_base=f"{server.url}/v1/",
            auth_url=f"{server.url}/api/token",
        )
        client = SpotifyClient(settings, dump_dir=work, limiter=TokenBucket.unlimited())
        artist_ids = list(dict.fromkeys(f"art{n // 3:019d}" for n in range(tracks)))

        def land() -> int:
            landed = client.tracks(ids) + client.artists(artist_ids)
            return len(landed) + len(client.audio_features(ids).records)

        seconds, landed = best_of(repeats, land)
        resolve_seconds, _ = best_of(
            1, lambda: [client.resolve(*pair) for pair in heard[:resolves]]
        )
    return {
        "spotify_records": landed,
        "spotify_seconds": seconds,
        "spotify_records_per_s": landed / seconds,
        "spotify_resolves": resolves,
        "spotify_resolves_per_s": resolves / resolve_seconds,
    }


def write_kaggle_csv(rows: int, path: Path) -> None:
    """A Kaggle-format file of `rows` rows made from the real sample: the unnamed index column,
    True/False, e-05 floats, and every tenth track listed again under a second genre."""
    with (SHARED_DATA / "spotify-tracks" / "spotify_tracks_sample_2024.csv").open() as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sample = list(reader)
    explicit, genre, track_id = header.index("explicit"), header.index("track_genre"), 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *header])
        n = 0
        while n < rows:
            row = list(sample[n % len(sample)])
            row[track_id] = f"{n:022d}"
            row[explicit] = row[explicit].capitalize()  # Kaggle's True/False
            writer.writerow([n, *row])
            n += 1
            if n % 10 == 0 and n < rows:
                row[genre] = "second-genre"
                writer.writerow([n, *row])
                n += 1


def bench_kaggle(rows: int, repeats: int, work: Path) -> dict[str, float]:
    path = work / "dataset.csv"
    write_kaggle_csv(rows, path)
    plain_seconds, plain = best_of(repeats, lambda: pl.read_csv(path))
    ours_seconds, ours = best_of(repeats, lambda: read_tracks_csv(path))
    assert plain.height == rows and ours.height < rows
    return {
        "kaggle_rows": rows,
        "kaggle_tracks": ours.height,
        "kaggle_plain_seconds": plain_seconds,
        "kaggle_parser_seconds": ours_seconds,
        "kaggle_plain_rows_per_s": rows / plain_seconds,
        "kaggle_parser_rows_per_s": rows / ours_seconds,
        "kaggle_parser_time_ratio": ours_seconds / plain_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrobbles", type=int, default=3000, help="Last.fm scrobbles in the day")
    parser.add_argument("--tracks", type=int, default=3000, help="Spotify tracks to land")
    parser.add_argument("--resolves", type=int, default=300, help="Spotify searches to time")
    parser.add_argument("--kaggle-rows", type=int, default=114_000, help="rows in the CSV")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        figures = {
            **bench_lastfm(args.scrobbles, args.repeats, work),
            **bench_spotify(args.tracks, args.resolves, args.repeats, work),
            **bench_kaggle(args.kaggle_rows, args.repeats, work),
        }

    table = Table(title="Source connectors (loopback fakes, limiters off)")
    for column in ("measure", "value"):
        table.add_column(column)
    for name, value in figures.items():
        table.add_row(name, f"{value:,.3f}" if isinstance(value, float) else f"{value:,}")
    Console().print(table)
    write_json(args.json, "sources", figures)


if __name__ == "__main__":
    main()
