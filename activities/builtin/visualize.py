"""`visualize`: a chart from rows of data, as a Vega-Lite spec plus an SVG or PNG image.

The image is rendered with matplotlib's object API (no pyplot state, safe in worker
threads) and returned inline: SVG as text or PNG as base64. Both stay well under the
1 MB activity output cap: inputs are bounded and an image over `MAX_IMAGE_CHARS`
fails with a clear message instead of being cut.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, model_validator

from activities.errors import NonRetryableToolError
from activities.sdk import ToolContext, tool

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_ROWS = 5000
MAX_IMAGE_CHARS = 600_000
VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


class VisualizeInput(BaseModel):
    kind: Literal["bar", "histogram", "scatter", "line"]
    data: list[dict[str, Any]] = Field(
        max_length=MAX_ROWS,
        description="Rows (e.g. aggregate's `rows`, or query objects; their `properties` "
        "are flattened).",
    )
    x: str = Field(description="Field on the x axis (histogram: the field to bin).")
    y: str | None = Field(default=None, description="Field on the y axis (not for histograms).")
    title: str = ""
    format: Literal["svg", "png"] = "svg"
    bins: int = Field(default=10, ge=2, le=100)
    width: int = Field(default=640, ge=200, le=1600, description="Pixels.")
    height: int = Field(default=400, ge=150, le=1200, description="Pixels.")

    @model_validator(mode="after")
    def _axes(self) -> VisualizeInput:
        if self.kind != "histogram" and self.y is None:
            raise ValueError(f"a {self.kind} chart needs `y`")
        return self


class VisualizeOutput(BaseModel):
    kind: str
    title: str
    spec: dict[str, Any] = Field(description="Vega-Lite v5 specification with inline data.")
    media_type: Literal["image/svg+xml", "image/png"]
    image: str = Field(description="SVG text, or PNG as base64.")
    points: int


def flatten(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with query objects' `properties` lifted to the top level."""
    flat = []
    for row in rows:
        item = {k: v for k, v in row.items() if k != "properties"}
        properties = row.get("properties")
        if isinstance(properties, Mapping):
            item.update(properties)
        flat.append(item)
    return flat


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _field_type(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(_number(v) is not None for v in present):
        return "quantitative"
    if present and all(isinstance(v, str) and _is_date(v) for v in present):
        return "temporal"
    return "nominal"


def _is_date(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return len(text) >= 10


def vega_lite(args: VisualizeInput, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The Vega-Lite spec of the chart."""
    x_type = _field_type([r.get(args.x) for r in rows])
    spec: dict[str, Any] = {
        "$schema": VEGA_LITE_SCHEMA,
        "title": args.title,
        "width": args.width,
        "height": args.height,
        "data": {"values": [{k: r.get(k) for k in (args.x, args.y) if k} for r in rows]},
    }
    if args.kind == "histogram":
        spec["mark"] = "bar"
        spec["encoding"] = {
            "x": {"field": args.x, "bin": {"maxbins": args.bins}, "type": "quantitative"},
            "y": {"aggregate": "count", "type": "quantitative"},
        }
        return spec
    assert args.y is not None
    y_type = _field_type([r.get(args.y) for r in rows])
    mark = {"bar": "bar", "scatter": "point", "line": "line"}[args.kind]
    spec["mark"] = {"type": mark, "tooltip": True}
    spec["encoding"] = {
        "x": {"field": args.x, "type": "nominal" if args.kind == "bar" else x_type, "sort": None},
        "y": {"field": args.y, "type": y_type},
    }
    return spec


def render(args: VisualizeInput, rows: list[dict[str, Any]]) -> str:
    """Draw the chart with matplotlib; SVG text or base64 PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(args.width / dpi, args.height / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if args.kind == "histogram":
        _draw_histogram(axes, args, rows)
    else:
        _draw_pairs(axes, args, rows)
    axes.set_xlabel(args.x)
    if args.title:
        axes.set_title(args.title)
    figure.tight_layout()
    return _encoded(figure, args.format)


def _draw_histogram(axes: Axes, args: VisualizeInput, rows: list[dict[str, Any]]) -> None:
    values = [n for n in (_number(r.get(args.x)) for r in rows) if n is not None]
    if not values:
        raise NonRetryableToolError(f"visualize: field {args.x!r} has no numeric values")
    axes.hist(values, bins=args.bins, color="#4c78a8")
    axes.set_ylabel("count")


def _draw_pairs(axes: Axes, args: VisualizeInput, rows: list[dict[str, Any]]) -> None:
    """Bar, line or scatter: one mark per row with an x and a numeric y."""
    assert args.y is not None
    pairs = [(r.get(args.x), _number(r.get(args.y))) for r in rows]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    if not pairs:
        raise NonRetryableToolError(
            f"visualize: no row has both {args.x!r} and a numeric {args.y!r}"
        )
    ys: list[float] = [float(y) for _, y in pairs if y is not None]
    if args.kind == "bar":
        axes.bar([str(x) for x, _ in pairs], ys, color="#4c78a8")
        axes.tick_params(axis="x", labelrotation=30)
    elif args.kind == "line":
        axes.plot(_x_positions(pairs), ys, marker="o", color="#4c78a8")
    else:
        axes.scatter(_x_positions(pairs), ys, s=12, color="#4c78a8")
    axes.set_ylabel(args.y)


def _x_positions(pairs: list[tuple[Any, float | None]]) -> list[Any]:
    """Numbers when every x is numeric, else the x values as category labels."""
    numeric = [_number(x) for x, _ in pairs]
    if all(n is not None for n in numeric):
        return [float(n) for n in numeric if n is not None]
    return [str(x) for x, _ in pairs]


def _encoded(figure: Figure, image_format: str) -> str:
    buffer = io.BytesIO()
    if image_format == "svg":
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        return buffer.getvalue().decode()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode()


@tool(name="visualize", version="1.0.0", timeout=timedelta(seconds=60), tags=("analysis",))
async def visualize(args: VisualizeInput, ctx: ToolContext) -> VisualizeOutput:
    """Draw a bar chart, histogram, scatter or line chart from rows of data (for example
    aggregate's rows) and return it as a Vega-Lite spec and an image. Use it when the
    user asks for a chart, a plot, a distribution or a trend."""
    rows = flatten(args.data)
    if not rows:
        raise NonRetryableToolError("visualize: `data` is empty; nothing to draw")
    missing = [f for f in (args.x, args.y) if f and all(f not in r for r in rows)]
    if missing:
        fields = sorted({k for r in rows for k in r})
        raise NonRetryableToolError(
            f"visualize: no row has field {missing[0]!r}; fields: {', '.join(fields)}",
            details={"field": missing[0], "valid": fields},
        )
    image = await asyncio.to_thread(render, args, rows)
    if len(image) > MAX_IMAGE_CHARS:
        raise NonRetryableToolError(
            f"visualize: the {args.format} image is {len(image)} characters, above "
            f"{MAX_IMAGE_CHARS}; use fewer rows, a smaller size or format 'png'"
        )
    return VisualizeOutput(
        kind=args.kind,
        title=args.title,
        spec=vega_lite(args, rows),
        media_type="image/svg+xml" if args.format == "svg" else "image/png",
        image=image,
        points=len(rows),
    )
