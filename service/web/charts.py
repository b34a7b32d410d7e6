"""A small inline SVG chart (no JavaScript, no assets): matched entries per day as bars, new
developments per day as dots, markers at the biggest developments, axes in HTML beside it (SVG text would
stretch with the plot). Pure."""

from __future__ import annotations

from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr


def volume_chart(*, start: date, days: int, entries: dict[str, int], stories: dict[str, int],
                 markers: list[tuple[date, str]], label: str, width: int = 600, height: int = 120) -> str:
    """The chart as HTML: the SVG (stretched to the page's width), a y axis with its top value and zero,
    an x axis with the first, middle and last dates, and a hover target over each whole day (its title:
    the date, matched entries and new developments), so a value shows on hover even where a bar is thin."""
    top = max([1, *entries.values(), *stories.values()])
    step = width / days
    bars, dots, marks, hits = [], [], [], []
    for i in range(days):
        day = (start + timedelta(days=i)).isoformat()
        n = entries.get(day, 0)
        if n:
            h = max(1.0, (height - 20) * n / top)
            bars.append(f'<rect x="{i * step:.1f}" y="{height - h:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
                        f'fill="#9bb8d9"></rect>')
        s = stories.get(day, 0)
        if s:
            y = height - (height - 20) * s / top
            dots.append(f'<circle cx="{i * step + step / 2:.1f}" cy="{y:.1f}" r="2.5" fill="#1d4f91"></circle>')
        text = f"{day}: {n} matched entr{'y' if n == 1 else 'ies'}, {s} new development{'' if s == 1 else 's'}"
        hits.append(f'<rect class="hit" x="{i * step:.1f}" y="0" width="{step:.1f}" height="{height}" fill="transparent">'
                    f'<title>{text}</title></rect>')
    for when, title in markers:
        i = (when - start).days
        if 0 <= i < days:
            x = i * step + step / 2
            marks.append(f'<path d="M{x - 5:.1f},2 L{x + 5:.1f},2 L{x:.1f},11 Z" fill="#c0392b">'
                         f'<title>{escape(f"{when.isoformat()}: {title}")}</title></path>')
    grid = height - (height - 20)  # the y of the top value
    svg = (f'<svg class="chart" viewBox="0 0 {width} {height}" preserveAspectRatio="none" role="img" '
           f'aria-label={quoteattr(label)} xmlns="http://www.w3.org/2000/svg">'
           f'<line x1="0" y1="{grid}" x2="{width}" y2="{grid}" stroke="#e2e2de" stroke-dasharray="4 4"/>'
           f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="#bbb"/>'
           + "".join(bars) + "".join(dots) + "".join(hits) + "".join(marks) + "</svg>")
    middle = start + timedelta(days=days // 2)
    end = start + timedelta(days=days - 1)
    return (f'<div class="chart-wrap"><div class="chart-y" aria-hidden="true"><span>{top}</span><span>0</span></div>'
            f'<div class="chart-plot">{svg}<div class="chart-x" aria-hidden="true"><span>{start:%b %d}</span>'
            f'<span>{middle:%b %d}</span><span>{end:%b %d}</span></div></div></div>')
