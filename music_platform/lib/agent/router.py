"""Answers without a model: the understander's reading of a question (understanding.py) becomes
tool calls, and their results are rendered as text that cites every item. `plan`, a few fixed
phrasings, stands in when the warehouse the understander reads names from is unavailable."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from music_platform.lib.agent.tools import Toolbox, ToolOutcome
    from music_platform.lib.agent.understanding import Understander

# answered: a tool answered; clarify: choices offered; unanswered: nothing could answer.
Status = Literal["answered", "clarify", "unanswered"]

_END = r"\s*[?.!]*\s*$"
_FLAGS = re.IGNORECASE


def _clean(value: str) -> str:
    return value.strip().strip("\"'").strip()


def _recommend(match: re.Match[str]) -> tuple[str, dict[str, Any]]:
    arguments: dict[str, Any] = {"user_id": _clean(match["user"])}
    genre = re.search(r"\bgenre\s+([\w\-&' ]+?)" + _END, match.string, _FLAGS)
    if genre:
        arguments["genre"] = _clean(genre[1])
    return "recommend_for_user", arguments


def _similar(match: re.Match[str]) -> tuple[str, dict[str, Any]]:
    target = _clean(match["target"])
    if re.search(r"\b(track|song)s?\b", match.string, _FLAGS):
        return "similar_tracks", {"track_id": target}
    return "similar_artists", {"artist": target}


_ABOUT = r"\b(?:about|metadata (?:for|of)|info(?:rmation)? (?:on|about))\s+(?:the\s+)?"
_TOP = r"\b(?:top|best|popular|most played)\b.*?\b(?:in|for|of)\s+(?:the\s+)?(?:genre\s+)?"
RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[str, dict[str, Any]]]]] = [
    (
        re.compile(
            r"^(?:search|find)\s+(?:in\s+)?(?:the\s+catalogue\s+)?for\s+(?P<q>.+?)" + _END, _FLAGS
        ),
        lambda m: ("search_catalogue", {"query": _clean(m["q"])}),
    ),
    (
        re.compile(r"\brecommend\w*\b.*?\b(?:for|to)\s+(?:user\s+)?(?P<user>[\w.\-@]+)", _FLAGS),
        _recommend,
    ),
    (
        re.compile(
            # "the" goes only before "artist"/"track": "The Impossible Problems" keeps its name.
            r"\b(?:similar to|like)\s+(?:(?:the\s+)?(?:artist|track|song)\s+)?(?P<target>.+?)"
            + _END,
            _FLAGS,
        ),
        _similar,
    ),
    (
        re.compile(
            r"\b(?:tracks|songs|music)\s+(?:by|from|of)\s+(?:the\s+artist\s+)?(?P<a>.+?)" + _END,
            _FLAGS,
        ),
        lambda m: ("tracks_by_artist", {"artist": _clean(m["a"])}),
    ),
    (
        re.compile(_ABOUT + r"artist\s+(?P<a>.+?)" + _END, _FLAGS),
        lambda m: ("artist_metadata", {"artist": _clean(m["a"])}),
    ),
    (
        re.compile(_ABOUT + r"track\s+(?P<t>\S+?)" + _END, _FLAGS),
        lambda m: ("track_metadata", {"track_id": _clean(m["t"])}),
    ),
    (
        re.compile(_TOP + r"(?P<g>.+?)(?:\s+genre)?" + _END, _FLAGS),
        lambda m: ("top_tracks_for_genre", {"genre": _clean(m["g"])}),
    ),
    (
        re.compile(
            r"\brecommend\w*\s+(?:me\s+)?(?:a|an|some)\s+(?P<g>[\w\-&' ]+?)\s+(?:song|track)s?"
            + _END,
            _FLAGS,
        ),
        lambda m: ("top_tracks_for_genre", {"genre": _clean(m["g"])}),
    ),
]


def plan(question: str) -> tuple[str, dict[str, Any]] | None:
    """The tool call a rule maps this question to, or None when no rule fits."""
    for pattern, build in RULES:
        match = pattern.search(question.strip())
        if match:
            return build(match)
    return None


UNROUTED = "This question needs a language model: no rule routes it."


@dataclass
class Routed:
    """A question answered without a model: the tool calls made and the text shown."""

    outcomes: list[ToolOutcome]
    text: str
    status: Status


def route(
    question: str,
    toolbox: Toolbox,
    understander: Understander | None,
    asking_user: str | None = None,
) -> Routed:
    """Answer `question` with the understander's reading of it, or, when the warehouse it
    reads names from is unavailable, with the fixed phrasings of `plan`."""
    if understander is None:
        return _route_by_phrasing(question, toolbox)
    understanding = understander.understand(question, asking_user)
    outcomes = [toolbox.call(name, arguments) for name, arguments in understanding.calls]
    parts = []
    if understanding.notes:
        parts.append("(" + "; ".join(understanding.notes) + ")")
    parts.extend(render_outcome(outcome) for outcome in outcomes)
    if understanding.reply:
        parts.append(understanding.reply)
    parts.extend(f"- {choice}" for choice in understanding.choices)
    status: Status
    if any(outcome.ok for outcome in outcomes):
        status = "answered"
    elif understanding.clarifying:
        status = "clarify"
    else:
        status = "unanswered"
    return Routed(outcomes, "\n".join(parts), status)


def _route_by_phrasing(question: str, toolbox: Toolbox) -> Routed:
    planned = plan(question)
    if planned is None:
        return Routed([], UNROUTED, "unanswered")
    name, arguments = planned
    outcome = toolbox.call(name, arguments)
    # "similar to X" without saying track or artist: an unknown artist may be a track id.
    if name == "similar_artists" and not outcome.ok:
        retry = toolbox.call("similar_tracks", {"track_id": arguments["artist"]})
        if retry.ok:
            outcome = retry
    return Routed([outcome], render_outcome(outcome), "answered" if outcome.ok else "unanswered")


def _track_line(number: int, track: dict[str, Any]) -> str:
    parts = [f"{number}. {track.get('track_name') or track['track_id']}"]
    if track.get("artist_name"):
        parts.append(f"by {track['artist_name']}")
    if track.get("genre"):
        parts.append(f"({track['genre']})")
    if track.get("reason"):
        parts.append(f"- {track['reason']}")
    return " ".join(parts) + f" [track:{track['track_id']}]"


def render_outcome(outcome: ToolOutcome) -> str:
    """The result as plain text that cites each item it lists."""
    if not outcome.ok or outcome.data is None:
        return f"{outcome.tool} could not answer: {outcome.refusal}"
    data = outcome.data
    if outcome.tool in {"track_metadata", "artist_metadata"}:
        return _render_facts(outcome.tool, data)
    if isinstance(data.get("tracks"), list):
        lines = [_track_line(i, track) for i, track in enumerate(data["tracks"], start=1)]
        note = f" ({data['note']})" if data.get("note") else ""
        return f"{outcome.tool}{note}:\n" + ("\n".join(lines) or "no tracks")
    if isinstance(data.get("artists"), list):
        lines = [
            f"{i}. {artist.get('artist_name') or artist['artist_id']} - {artist['reason']} "
            f"[artist:{artist['artist_id']}]"
            for i, artist in enumerate(data["artists"], start=1)
        ]
        return f"{outcome.tool}:\n" + ("\n".join(lines) or "no artists")
    if isinstance(data.get("hits"), list):
        lines = [
            f"{i}. {hit['name']} ({hit['kind']}) [{hit['kind']}:{hit['item_id']}]"
            for i, hit in enumerate(data["hits"], start=1)
        ]
        return f"{outcome.tool}:\n" + ("\n".join(lines) or "no matches")
    if isinstance(data.get("rows"), list):
        more = " (truncated)" if data.get("truncated") else ""
        lines = [
            ", ".join(f"{key}: {value}" for key, value in row.items()) for row in data["rows"][:10]
        ]
        return f"{outcome.tool} returned {len(data['rows'])} rows{more}:\n" + "\n".join(lines)
    fields = ", ".join(f"{key}={value}" for key, value in data.items() if value is not None)
    cite = (
        f"[track:{data['track_id']}]"
        if data.get("track_id")
        else f"[artist:{data.get('artist_id')}]"
    )
    return f"{outcome.tool}: {fields} {cite}"


# What the listening figures count, said beside them so neither is taken for the other.
_FIGURE_LABELS = {"listeners": "listeners (distinct users)", "plays": "plays (listens)"}


def _render_facts(tool: str, data: dict[str, Any]) -> str:
    """A track's or an artist's facts, one per line, the top tracks cited."""
    kind = "track" if tool == "track_metadata" else "artist"
    lines = [f"{tool}: {data.get(f'{kind}_name')} [{kind}:{data[f'{kind}_id']}]"]
    for key, value in data.items():
        if value is None or key in {f"{kind}_id", f"{kind}_name", "top_tracks", "duration_ms"}:
            continue
        label = _FIGURE_LABELS.get(key, key.replace("_", " "))
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        lines.append(f"{label}: {shown}")
    for number, track in enumerate(data.get("top_tracks") or [], start=1):
        if number == 1:
            lines.append("top tracks:")
        lines.append(
            f"{number}. {track['track_name']} - {track['listeners']} listeners, "
            f"{track['plays']} plays [track:{track['track_id']}]"
        )
    return "\n".join(lines)
