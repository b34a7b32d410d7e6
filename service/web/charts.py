"""A small inline SVG chart (no JavaScript, no assets): matched entries per day as bars, new
developments per day as dots, and markers at the biggest developments. Pure."""

from __future__ import annotations

from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr


def volume_chart(*, start: date, days: int, entries: dict[str, int], stories: dict[str, int],
                 markers: list[tuple[date, str]], label: str, width: int = 600, height: int = 120) -> str:
    top = max([1, *entries.values(), *stories.values()])
    step = width / days
    bars, dots, marks = [], [], []
    for i in range(days):
        day = (start + timedelta(days=i)).isoformat()
        n = entries.get(day, 0)
        if n:
            h = max(1.0, (height - 20) * n / top)
            bars.append(f'<rect x="{i * step:.1f}" y="{height - h:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
                        f'fill="#9bb8d9"><title>{day}: {n} matched entr{"y" if n == 1 else "ies"}</title></rect>')
        s = stories.get(day, 0)
        if s:
            y = height - (height - 20) * s / top
            dots.append(f'<circle cx="{i * step + step / 2:.1f}" cy="{y:.1f}" r="2.5" fill="#1d4f91">'
                        f'<title>{day}: {s} new development{"" if s == 1 else "s"}</title></circle>')
    for when, title in markers:
        i = (when - start).days
        if 0 <= i < days:
            x = i * step + step / 2
            marks.append(f'<path d="M{x - 5:.1f},2 L{x + 5:.1f},2 L{x:.1f},11 Z" fill="#c0392b">'
                         f'<title>{escape(f"{when.isoformat()}: {title}")}</title></path>')
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" preserveAspectRatio="none" role="img" '
            f'aria-label={quoteattr(label)} xmlns="http://www.w3.org/2000/svg">'
            f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="#ccc"/>'
            + "".join(bars) + "".join(dots) + "".join(marks) + "</svg>")
