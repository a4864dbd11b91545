"""The recommender's metrics as a bar chart, embedded in its materialization's markdown."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import dagster as dg

BAR_WIDTH = 0.27


def metrics_chart(series: Mapping[str, Mapping[str, float]], title: str) -> dg.MetadataValue:
    """Grouped bars: one group per metric, one bar per series (the model, its baselines).

    Every series is drawn over the first series' metrics; a metric it lacks is left out.
    """
    # The Figure API without pyplot: no global state and no GUI backend in a step's process.
    # Imported here because matplotlib takes a second to import and only this step draws.
    import numpy as np
    from matplotlib.figure import Figure

    metrics = list(next(iter(series.values())))
    positions = np.arange(len(metrics))
    figure = Figure(figsize=(7, 3.2), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    offset = -(len(series) - 1) / 2 * BAR_WIDTH
    for index, (name, values) in enumerate(series.items()):
        shown = [i for i, metric in enumerate(metrics) if metric in values]
        axes.bar(
            positions[shown] + offset + index * BAR_WIDTH,
            [values[metrics[i]] for i in shown],
            BAR_WIDTH,
            label=name,
        )
    axes.set_xticks(positions, metrics)
    axes.set_ylabel("on held-out listening")
    axes.set_title(title)
    axes.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    axes.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")
