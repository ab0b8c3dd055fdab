"""A self-contained SVG chart of a fleet's events over simulated time, one line per kind."""

from xml.sax.saxutils import escape

WIDTH, HEIGHT = 900, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 160, 40, 50
COLOURS = {"registration": "#7f7f7f", "one_time": "#1f77b4", "event": "#d62728", "interval": "#2ca02c", "heartbeat": "#9467bd"}


def events_chart(summary):
    """Return SVG text plotting summary["timeline"]: events per bucket of simulated time, by kind."""
    timeline = summary["timeline"]
    buckets = max(1, timeline["buckets"])
    bucket_hours = timeline["bucket_seconds"] / 3600.0
    series = {kind: [counts.get(str(bucket), 0) for bucket in range(buckets)] for kind, counts in timeline["events"].items()}
    peak = _scale(series)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(bucket):
        return LEFT + plot_width * (bucket + 0.5) / buckets

    def y(count):
        return TOP + plot_height * (1 - min(count, peak) / peak)

    title = f"{summary['devices']['total']} devices, scenario {summary['scenario']}: events per {_duration(timeline['bucket_seconds'])} of simulated time"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_height}" x2="{LEFT + plot_width}" y2="{TOP + plot_height}" stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_height}" stroke="black"/>',
    ]
    for step in range(5):
        count = peak * step / 4
        parts.append(f'<text x="{LEFT - 6}" y="{y(count) + 4:.1f}" text-anchor="end">{count:,.0f}</text>')
        parts.append(f'<line x1="{LEFT}" y1="{y(count):.1f}" x2="{LEFT + plot_width}" y2="{y(count):.1f}" stroke="#ddd"/>')
    total_hours = buckets * bucket_hours
    for step in range(7):
        hours = total_hours * step / 6
        position = LEFT + plot_width * step / 6
        parts.append(f'<text x="{position:.1f}" y="{TOP + plot_height + 18}" text-anchor="middle">{hours:g} h</text>')
    parts.append(f'<text x="{LEFT + plot_width / 2}" y="{HEIGHT - 10}" text-anchor="middle">simulated time since start</text>')
    for row, (kind, values) in enumerate(sorted(series.items())):
        colour = COLOURS.get(kind, "#000000")
        points = " ".join(f"{x(bucket):.1f},{y(count):.1f}" for bucket, count in enumerate(values))
        if values[0] > peak:
            parts.append(f'<text x="{x(0) + 4:.1f}" y="{TOP + 12 + row * 14}" fill="{colour}">{values[0]:,} at start</text>')
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"><title>{escape(kind)}</title></polyline>')
        legend_y = TOP + 10 + row * 18
        parts.append(f'<rect x="{WIDTH - RIGHT + 15}" y="{legend_y - 9}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{WIDTH - RIGHT + 32}" y="{legend_y + 1}">{escape(kind)} ({sum(values):,})</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _scale(series):
    """Return the top of the y axis.

    Every device registers and captures all its monitors at the start, so
    the first bucket can dwarf the rest of the day. When it is over three
    times the highest later bucket, the axis fits the later buckets and the
    first one is labelled with its count.
    """
    later = max([1] + [max(values[1:], default=0) for values in series.values()])
    first = max([0] + [values[0] for values in series.values()])
    return later if first > 3 * later else max(first, later)


def _duration(seconds):
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
