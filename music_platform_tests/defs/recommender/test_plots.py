"""The recommender's metrics chart is a PNG the UI can show inside markdown."""

from __future__ import annotations

import base64
import io
import re

from PIL import Image

from music_platform.defs.recommender.plots import metrics_chart

MODEL = {"ndcg@10": 0.25, "recall@10": 0.31, "coverage": 0.4}
BASELINE = {"ndcg@10": 0.19, "recall@10": 0.22, "coverage": 0.02}


def _image(markdown: str) -> Image.Image:
    match = re.fullmatch(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown[:80]
    return Image.open(io.BytesIO(base64.b64decode(match.group(1))))


def test_chart_is_an_embedded_png() -> None:
    chart = metrics_chart({"model": MODEL, "popularity": BASELINE}, title="Blend")
    image = _image(chart.value)
    assert image.format == "PNG"
    assert image.size == (700, 320)


def test_a_series_missing_a_metric_still_draws() -> None:
    older = {"ndcg@10": 0.22}  # a model promoted before a metric was added
    chart = metrics_chart({"model": MODEL, "baseline": BASELINE, "before": older}, title="x")
    assert _image(chart.value).format == "PNG"
