"""`warden report`: one self-contained HTML page, a chart and a decisions table per position.

The page embeds plotly.js, so it opens offline and loads nothing from anywhere: no CDN, no fonts,
no MathJax. Each chart is a plotly graph in a ``div`` with the id ``chart-<position id>``; each
table has the class ``decisions`` and the position id in ``data-position``. Prices are drawn as
floats (a chart coordinate) while every hover text and table cell shows the exact decimal.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from warden.projections.chart import CLOSE, FEEDS, FILLS, PHANTOMS, REFUSED, STEPS, PositionChart, Series
from warden.projections.timeline import millis

# How each series is drawn: plotly line and marker settings by series name.
_LOOK: dict[str, dict[str, Any]] = {
    "price": {"line": {"color": "#4c78a8", "width": 1.5}},
    "entry": {"line": {"color": "#555555", "dash": "dot"}},
    "stop": {"line": {"color": "#e45756", "width": 2}, "marker": {"size": 7}},
    "stop (what-if)": {"line": {"color": "#f58518", "width": 2, "dash": "dash"}, "marker": {"size": 7}},
    "liquidation": {"line": {"color": "#9d1d1d", "dash": "dashdot"}},
    FILLS: {"marker": {"symbol": "triangle-up", "size": 12, "color": "#2ca02c"}},
    REFUSED: {"marker": {"symbol": "x", "size": 12, "color": "#d62728"}},
    PHANTOMS: {"marker": {"symbol": "diamond", "size": 12, "color": "#9467bd"}},
    FEEDS: {"marker": {"symbol": "square", "size": 9, "color": "#7f7f7f"}},
    STEPS: {"marker": {"symbol": "star", "size": 12, "color": "#ff7f0e"}},
    CLOSE: {"marker": {"symbol": "circle-x", "size": 13, "color": "#111111"}},
    "exit (what-if)": {"marker": {"symbol": "circle-x-open", "size": 14, "color": "#f58518"}},
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
section { margin-bottom: 3em; }
h2 { font-size: 1.1em; margin-bottom: 0.2em; }
p.summary { margin: 0.1em 0; color: #444; }
table.decisions { border-collapse: collapse; font-size: 0.85em; width: 100%; }
table.decisions th, table.decisions td { border-bottom: 1px solid #ddd; padding: 2px 6px; text-align: left;
  vertical-align: top; }
table.decisions td.time { white-space: nowrap; }
table.decisions td.details { font-family: ui-monospace, monospace; word-break: break-all; }
"""


def render_report(charts: Sequence[PositionChart], *, title: str, notes: Sequence[str] = ()) -> str:
    """The whole page as a string; the caller writes it."""
    from plotly.offline import get_plotlyjs

    body = [f"<h1>{html.escape(title)}</h1>"]
    body += [f"<p>{html.escape(note)}</p>" for note in notes]
    if not charts:
        body.append("<p>No position in this log.</p>")
    body += [_section(chart) for chart in charts]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n"
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _section(chart: PositionChart) -> str:
    figure = _figure(chart)
    div = figure.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                         div_id=f"chart-{chart.position_id}",
                         config={"displaylogo": False, "responsive": True})
    summary = "".join(f"<p class=\"summary\">{html.escape(line)}</p>" for line in chart.summary)
    return (f"<section id=\"position-{chart.position_id}\">\n<h2>{html.escape(chart.title)}</h2>\n"
            f"{summary}\n{div}\n{_table(chart)}\n</section>")


def _figure(chart: PositionChart) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure()
    for series in chart.series:
        figure.add_trace(_trace(go, series))
    figure.update_layout(height=480, hovermode="closest", margin={"l": 70, "r": 20, "t": 30, "b": 40},
                         legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
                         xaxis={"type": "date"}, yaxis={"title": "price", "exponentformat": "none"})
    return figure


def _trace(go: Any, series: Series) -> Any:
    look = _LOOK.get(series.name, {})
    x = [p.time.isoformat() for p in series.points]
    y = [float(p.price) for p in series.points]  # a coordinate; the hover text keeps the decimal
    text = [p.text for p in series.points]
    common = {"name": series.name, "x": x, "y": y, "hovertext": text, "hoverinfo": "text"}
    if series.style == "markers":
        return go.Scatter(mode="markers", marker=look.get("marker", {}), **common)
    mode = "lines+markers" if "marker" in look else "lines"
    return go.Scatter(mode=mode, line={**look.get("line", {}), "shape": "hv" if series.style == "step"
                                       else "linear"}, marker=look.get("marker", {"size": 3}), **common)


def _table(chart: PositionChart) -> str:
    head = "<tr><th>v</th><th>time (UTC)</th><th>event</th><th>status</th><th>details</th></tr>"
    rows = [f"<tr><td>{row.version}</td><td class=\"time\">{millis(row.time)}</td>"
            f"<td>{html.escape(row.event)}</td><td>{html.escape(row.status)}</td>"
            f"<td class=\"details\">{html.escape(row.details)}</td></tr>" for row in chart.rows]
    return (f"<table class=\"decisions\" data-position=\"{chart.position_id}\">\n<thead>{head}</thead>\n"
            f"<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>")
