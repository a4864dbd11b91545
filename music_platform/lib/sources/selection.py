"""Which provider feeds each entity, decided at run time from the settings and the external
folder, and explained in metadata. Every provider's raw assets exist whatever is chosen: the
inactive ones materialize as skipped, saying what to set.

- listens (and the users who made them): the Last.fm API when LASTFM_API_KEY and LASTFM_USERS
  are set, else a listening-events file (LISTEN_EVENTS_FILE, or JSON lines dropped in the
  external folder), else a Last.fm 1K-format file (LASTFM_SCROBBLES_FILE), else synthetic.
- tracks and artists: synthetic listening draws from the synthetic catalogue. Real listening
  gets a catalogue reconciled from every real source: Spotify (when its keys are set) resolves
  what was heard, then Kaggle and TidyTuesday rows, then Last.fm's own track and artist info.
- raw/kaggle_tracks lands KAGGLE_TRACKS_CSV or Kaggle-format files dropped in the external
  folder in every mode (the file sensor's path), else downloads with Kaggle credentials unless a
  mode without the network is forced.

MUSIC_PLATFORM_SOURCE (or `music-platform run --source`) forces one mode for every source.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from music_platform.settings import Settings, SettingsError, SourceMode

# What the events-file provider reads from the external folder when LISTEN_EVENTS_FILE is unset.
EVENTS_FILE_PATTERN = "*.jsonl"
# What raw/kaggle_tracks reads from the external folder besides KAGGLE_TRACKS_CSV.
CATALOGUE_FILE_PATTERN = "*.csv"


class Provider(StrEnum):
    """A family of raw assets that is active, or skipped, as a whole."""

    SYNTHETIC = "synthetic"
    LASTFM = "lastfm"
    LASTFM_FILE = "lastfm_1k"
    EVENTS_FILE = "events_file"
    SPOTIFY = "spotify"
    TIDYTUESDAY = "tidytuesday"
    IDENTITY = "track_identity"
    """The cross-source identity that reconciles real listening's tracks."""


class ListensSource(StrEnum):
    SYNTHETIC = "synthetic"
    LASTFM = "lastfm"  # the Last.fm API, for LASTFM_USERS
    LASTFM_FILE = "lastfm_1k"  # a Last.fm 1K-format scrobbles file
    EVENTS_FILE = "events_file"  # JSON lines in the streaming event schema


@dataclass(frozen=True)
class SourceSelection:
    mode: SourceMode
    listens: ListensSource
    spotify: bool
    """raw/spotify/* resolve and fetch what was heard."""
    kaggle_download: bool
    """raw/kaggle_tracks may download the dataset when no local file is given."""
    tidytuesday: bool
    """raw/tidytuesday_songs lands TIDYTUESDAY_SONGS_CSV."""
    reasons: tuple[str, ...]

    @property
    def synthetic(self) -> bool:
        return self.listens is ListensSource.SYNTHETIC

    @property
    def catalogue(self) -> str:
        """Where staging's tracks and artists come from: `synthetic` or `reconciled`."""
        return "synthetic" if self.synthetic else "reconciled"

    def skip_reason(self, provider: Provider) -> str | None:
        """None when `provider` is active in this selection; otherwise why not, and what to set
        to make it so."""
        listens = self.listens.value
        if provider is Provider.SPOTIFY:
            if self.spotify:
                return None
            if self.synthetic:
                return "resolves real listening's tracks; listens come from synthetic"
            return "needs SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
        if provider is Provider.TIDYTUESDAY:
            if self.tidytuesday:
                return None
            return "needs TIDYTUESDAY_SONGS_CSV (a TidyTuesday spotify_songs.csv)"
        if provider is Provider.IDENTITY:
            if not self.synthetic:
                return None
            return "reconciles real listening's tracks; synthetic listens bring their catalogue"
        if provider.value == listens:
            return None
        wanted = {
            Provider.SYNTHETIC: "no Last.fm keys, events or scrobbles file (or "
            "MUSIC_PLATFORM_SOURCE=synthetic)",
            Provider.LASTFM: "LASTFM_API_KEY and LASTFM_USERS",
            Provider.LASTFM_FILE: "LASTFM_SCROBBLES_FILE (a Last.fm 1K-format TSV), with no "
            "Last.fm keys or events file",
            Provider.EVENTS_FILE: "LISTEN_EVENTS_FILE, or *.jsonl files in the external folder",
        }[provider]
        return f"needs {wanted}; listens come from {listens}"

    def as_metadata(self) -> dict[str, str]:
        return {
            "source_mode": self.mode.value,
            "listens_source": self.listens.value,
            "catalogue_source": self.catalogue,
            "why": "; ".join(self.reasons),
        }


def listen_events_files(settings: Settings) -> list[Path]:
    """LISTEN_EVENTS_FILE, else the JSON-lines files dropped in the external folder."""
    if settings.sources.listen_events_file is not None:
        return [settings.sources.listen_events_file]
    folder = settings.external_dir
    return sorted(folder.glob(EVENTS_FILE_PATTERN)) if folder.is_dir() else []


def kaggle_files(settings: Settings) -> list[Path]:
    """KAGGLE_TRACKS_CSV, then every CSV dropped into the external folder."""
    given = settings.sources.kaggle_tracks_csv
    folder = settings.external_dir
    dropped = sorted(folder.glob(CATALOGUE_FILE_PATTERN)) if folder.is_dir() else []
    return [*([given] if given else []), *dropped]


def _forced_live(settings: Settings) -> SourceSelection:
    sources = settings.sources
    missing = [
        name
        for name, present in (
            ("LASTFM_API_KEY", sources.has_lastfm_key),
            ("LASTFM_USERS", bool(sources.users)),
            ("SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET", sources.has_spotify_keys),
        )
        if not present
    ]
    if missing:
        raise SettingsError(
            f"MUSIC_PLATFORM_SOURCE=live needs {', '.join(missing)}; set them, or run with "
            "--source files or --source synthetic."
        )
    return SourceSelection(
        mode=SourceMode.LIVE,
        listens=ListensSource.LASTFM,
        spotify=True,
        kaggle_download=True,
        tidytuesday=sources.tidytuesday_songs_csv is not None,
        reasons=("live forced: Last.fm API listens, Spotify catalogue",),
    )


def _file_listens(settings: Settings) -> tuple[ListensSource, str, Path, str] | None:
    """The listens file to read: its source, setting, (first) path and why. An events file wins
    over a scrobbles file."""
    sources = settings.sources
    events = listen_events_files(settings)
    if events:
        named = "LISTEN_EVENTS_FILE" if sources.listen_events_file else "the external folder"
        reason = f"listens from events in {named}: {', '.join(map(str, events))}"
        if sources.lastfm_scrobbles_file is not None:
            reason += "; LASTFM_SCROBBLES_FILE is not read while an events file is given"
        return ListensSource.EVENTS_FILE, "LISTEN_EVENTS_FILE", events[0], reason
    path = sources.lastfm_scrobbles_file
    if path is not None:
        reason = f"listens from LASTFM_SCROBBLES_FILE={path}"
        return ListensSource.LASTFM_FILE, "LASTFM_SCROBBLES_FILE", path, reason
    return None


def _forced_files(settings: Settings) -> SourceSelection:
    chosen = _file_listens(settings)
    if chosen is None:
        raise SettingsError(
            "MUSIC_PLATFORM_SOURCE=files needs LASTFM_SCROBBLES_FILE (a Last.fm 1K-format "
            "scrobbles TSV) or LISTEN_EVENTS_FILE (JSON-lines listening events, or *.jsonl "
            f"files in {settings.external_dir}); tracks come from KAGGLE_TRACKS_CSV, "
            f"TIDYTUESDAY_SONGS_CSV or Kaggle-format files in {settings.external_dir}."
        )
    listens, setting, path, reason = chosen
    if not path.is_file():
        raise SettingsError(f"{setting}={path} does not exist or is not a file.")
    return SourceSelection(
        mode=SourceMode.FILES,
        listens=listens,
        spotify=False,
        kaggle_download=False,
        tidytuesday=settings.sources.tidytuesday_songs_csv is not None,
        reasons=(f"files forced: {reason}, catalogue from local files",),
    )


def _auto(settings: Settings) -> SourceSelection:
    sources = settings.sources
    reasons = []
    if sources.has_lastfm_key and sources.users:
        listens = ListensSource.LASTFM
        reasons.append(f"Last.fm API listens for {len(sources.users)} user(s)")
    else:
        if sources.has_lastfm_key:
            reasons.append("LASTFM_API_KEY is set but LASTFM_USERS is empty")
        chosen = _file_listens(settings)
        if chosen is not None:
            listens, _, _, reason = chosen
            reasons.append(reason)
        else:
            listens = ListensSource.SYNTHETIC
            reasons.append(
                "no Last.fm keys, events or scrobbles file: synthetic listens and catalogue"
            )
    spotify = sources.has_spotify_keys and listens is not ListensSource.SYNTHETIC
    if spotify:
        reasons.append("Spotify keys set: heard tracks resolved on Spotify")
    elif listens is not ListensSource.SYNTHETIC:
        reasons.append("no Spotify keys: catalogue from Kaggle, TidyTuesday and Last.fm")
    return SourceSelection(
        mode=SourceMode.AUTO,
        listens=listens,
        spotify=spotify,
        kaggle_download=True,
        tidytuesday=sources.tidytuesday_songs_csv is not None,
        reasons=tuple(reasons),
    )


def select_sources(settings: Settings) -> SourceSelection:
    """The active source of each entity; raises SettingsError when a forced mode lacks what it
    needs, naming the settings to set."""
    if settings.source is SourceMode.SYNTHETIC:
        return SourceSelection(
            mode=SourceMode.SYNTHETIC,
            listens=ListensSource.SYNTHETIC,
            spotify=False,
            kaggle_download=False,
            tidytuesday=False,
            reasons=("synthetic forced",),
        )
    if settings.source is SourceMode.LIVE:
        return _forced_live(settings)
    if settings.source is SourceMode.FILES:
        return _forced_files(settings)
    return _auto(settings)
