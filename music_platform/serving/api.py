"""The recommendation HTTP service (FastAPI): `music-platform serve` runs it with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from music_platform.lib.recommender.service import (
    MAX_RECOMMENDATIONS,
    InvalidRequestError,
    NoModelError,
    NotFoundError,
    RecommendationService,
)
from music_platform.serving.load_shedding import ConcurrencyLimit
from music_platform.serving.request_limits import BodySizeLimit, responses, validation_error
from music_platform.settings import Settings

HEALTH_PATH = "/health"
DEFAULT_MAX_CONCURRENCY: int = Settings.model_fields["serve_max_concurrency"].default

K = Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS, description="How many answers to return.")]
Identifier = Annotated[str, PathParam(min_length=1, max_length=200)]
# Every route can be shed (503), refuse a large body (413) or fail validation (422).
LOOKUP_ERRORS = responses(400, 404, 413, 422, 503)


def create_app(models_dir: Path, *, max_concurrency: int = DEFAULT_MAX_CONCURRENCY) -> FastAPI:
    """The service over the registry in `models_dir`; past `max_concurrency` requests in
    progress, others get 503 at once (see load_shedding.py), the health check excepted."""
    service = RecommendationService(models_dir)
    app = FastAPI(
        title="Music platform recommendations",
        description=(
            "Recommendations and catalogue lookups from the promoted recommender. Every answer "
            "says why. A newly promoted model is picked up without a restart."
        ),
        version="1.0",
    )
    app.add_middleware(
        ConcurrencyLimit, limit=max_concurrency, exempt_paths=frozenset({HEALTH_PATH})
    )
    app.add_middleware(BodySizeLimit)
    app.add_exception_handler(RequestValidationError, validation_error)

    @app.exception_handler(NoModelError)
    async def _no_model(_request: Any, error: NoModelError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(error)})

    @app.exception_handler(NotFoundError)
    async def _not_found(_request: Any, error: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(error)})

    @app.exception_handler(InvalidRequestError)
    async def _bad_request(_request: Any, error: InvalidRequestError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(error)})

    @app.get(HEALTH_PATH, responses=responses(413, 503))
    def health() -> dict[str, Any]:
        try:
            card = service.current().card
        except NoModelError as error:
            raise HTTPException(status_code=503, detail=str(error)) from None
        return {"status": "ok", "model_version": card.version, "metrics": card.metrics}

    @app.get("/users/{user_id}/recommendations", responses=LOOKUP_ERRORS)
    def recommend(
        user_id: Identifier, k: K = 10, genre: Annotated[str | None, Query(max_length=200)] = None
    ) -> dict[str, Any]:
        """Tracks for a user; unknown users get a cold-start answer (popular, or by genre)."""
        return service.for_user(user_id, k=k, genre=genre)

    @app.get("/tracks/{track_id}", responses=LOOKUP_ERRORS)
    def track(track_id: Identifier) -> dict[str, Any]:
        """A track's metadata, with the source it came from."""
        return service.track(track_id)

    @app.get("/tracks/{track_id}/similar", responses=LOOKUP_ERRORS)
    def similar_tracks(track_id: Identifier, k: K = 10) -> dict[str, Any]:
        """Tracks played by the same listeners (same genre when listening is too thin)."""
        return service.similar_tracks(track_id, k=k)

    @app.get("/artists/{artist}/similar", responses=LOOKUP_ERRORS)
    def similar_artists(artist: Identifier, k: K = 10) -> dict[str, Any]:
        """Artists sharing listeners with an artist (by id or name)."""
        return service.similar_artists(artist, k=k)

    @app.get("/artists/{artist}/tracks", responses=LOOKUP_ERRORS)
    def tracks_by_artist(artist: Identifier, k: K = 10) -> dict[str, Any]:
        """An artist's tracks (by id or name), most listened first."""
        return service.tracks_by_artist(artist, k=k)

    @app.get("/genres/{genre}/top", responses=LOOKUP_ERRORS)
    def top_for_genre(genre: Identifier, k: K = 10) -> dict[str, Any]:
        """The most listened tracks of a genre."""
        return service.top_for_genre(genre, k=k)

    from music_platform.serving.ask import add_ask_route

    add_ask_route(app, models_dir)
    return app
