"""A self-contained HTML report with inline SVG charts (no plotting library, nothing fetched)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["bar_chart", "line_chart", "write_report"]

_COLORS = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626"]
_W, _H, _PAD = 640, 300, 48


def _frame(title: str, body: list[str], series: Sequence[str]) -> str:
    legend = "".join(
        f'<rect x="{_PAD + i * 170}" y="8" width="12" height="12" fill="{_COLORS[i % len(_COLORS)]}"/>'
        f'<text x="{_PAD + i * 170 + 18}" y="19" font-size="12">{html.escape(name)}</text>'
        for i, name in enumerate(series)
    )
    axis = []
    for tick in range(0, 11, 2):
        y = _H - _PAD - (_H - 2 * _PAD) * tick / 10
        axis.append(f'<line x1="{_PAD}" x2="{_W - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        axis.append(f'<text x="{_PAD - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{tick / 10:.1f}</text>')
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" font-family="sans-serif">'
        + "".join(axis)
        + legend
        + "".join(body)
        + "</svg></figure>"
    )


def bar_chart(title: str, groups: Sequence[str], series: Mapping[str, Sequence[float]]) -> str:
    """Grouped bars, values in [0, 1]."""
    names = list(series)
    group_width = (_W - _PAD - 20) / max(len(groups), 1)
    bar = group_width * 0.8 / max(len(names), 1)
    body: list[str] = []
    for g, group in enumerate(groups):
        x0 = _PAD + g * group_width + group_width * 0.1
        for s, name in enumerate(names):
            value = max(0.0, min(1.0, float(series[name][g])))
            height = (_H - 2 * _PAD) * value
            x = x0 + s * bar
            body.append(
                f'<rect x="{x:.1f}" y="{_H - _PAD - height:.1f}" width="{bar - 2:.1f}" height="{height:.1f}" '
                f'fill="{_COLORS[s % len(_COLORS)]}"><title>{html.escape(name)}: {value:.3f}</title></rect>'
            )
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{_H - _PAD - height - 3:.1f}" font-size="9" '
                f'text-anchor="middle">{value:.2f}</text>'
            )
        body.append(
            f'<text x="{x0 + group_width * 0.4:.1f}" y="{_H - _PAD + 16}" font-size="12" '
            f'text-anchor="middle">{html.escape(group)}</text>'
        )
    return _frame(title, body, names)


def line_chart(title: str, xs: Sequence[int], series: Mapping[str, Sequence[float]]) -> str:
    """Lines over evenly spaced x labels, values in [0, 1]."""
    names = list(series)
    step = (_W - _PAD - 40) / max(len(xs) - 1, 1)
    body: list[str] = []
    for i, x in enumerate(xs):
        body.append(
            f'<text x="{_PAD + 10 + i * step:.1f}" y="{_H - _PAD + 16}" font-size="12" text-anchor="middle">k={x}</text>'
        )
    for s, name in enumerate(names):
        points = [
            (_PAD + 10 + i * step, _H - _PAD - (_H - 2 * _PAD) * max(0.0, min(1.0, float(v))))
            for i, v in enumerate(series[name])
        ]
        color = _COLORS[s % len(_COLORS)]
        body.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            + '"/>'
        )
        for (px, py), v in zip(points, series[name]):
            body.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"><title>{float(v):.3f}</title></circle>'
            )
    return _frame(title, body, names)


def write_report(path: str | Path, title: str, charts: Sequence[str], figures: object) -> Path:
    """Write one HTML page: the charts, then the figures as JSON."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:720px;margin:2em auto}figure{margin:1.5em 0}"
        "figcaption{font-weight:bold;margin-bottom:.4em}pre{background:#f3f4f6;padding:1em;overflow:auto}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>"
        + "".join(charts)
        + f"<h2>Figures</h2><pre>{html.escape(json.dumps(figures, indent=2), quote=False)}</pre></body></html>"
    )
    target.write_text(page, encoding="utf-8")
    return target
