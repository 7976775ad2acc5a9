#!/usr/bin/env python3
"""Latency (p50, p99) against achieved call rate, from `hookflash bench e2e` JSON lines, as SVG.

    plot-latency-vs-rate.py SWEEP.jsonl OUT.svg [TITLE]

Only the standard library: the SVG is written by hand. The x axis is the offered call rate,
each point labelled with the achieved rate; the y axis is latency in ms on a log scale; the
5 ms target is drawn as a dashed line. The input lines are kept in the SVG's <desc>.
"""
import html
import json
import math
import sys

W, H = 720, 440
L, R, T, B = 70, 20, 50, 60  # margins


def main():
    src, dst = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else (
        "hookflash bench e2e: latency against call rate (2 cores, simulator included)")
    rows = [json.loads(l) for l in open(src) if l.strip()]
    rows.sort(key=lambda r: r["offered_calls_per_sec"])
    if not rows:
        sys.exit("no data")
    xs = [r["offered_calls_per_sec"] for r in rows]
    series = {
        "p50": [r["latency_ms"]["p50"] for r in rows],
        "p99": [r["latency_ms"]["p99"] for r in rows],
    }
    x_max = max(xs) * 1.08
    lat = [v for s in series.values() for v in s if v > 0] + [5.0]
    y_lo = 10 ** math.floor(math.log10(max(min(lat), 0.01)))
    y_hi = 10 ** math.ceil(math.log10(max(lat) * 1.01))

    def px(x):
        return L + (W - L - R) * x / x_max

    def py(y):
        y = max(y, y_lo)
        f = (math.log10(y) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo))
        return H - B - (H - T - B) * f

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           "<desc>" + html.escape("\n".join(json.dumps(r) for r in rows)) + "</desc>",
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="14">{html.escape(title)}</text>']
    # Axes and grid.
    out.append(f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>')
    out.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>')
    step = 500 if x_max > 1500 else 250
    x = 0
    while x <= x_max:
        out.append(f'<line x1="{px(x)}" y1="{T}" x2="{px(x)}" y2="{H - B}" stroke="#ddd"/>')
        out.append(f'<text x="{px(x)}" y="{H - B + 16}" text-anchor="middle">{x}</text>')
        x += step
    d = y_lo
    while d <= y_hi * 1.0001:
        out.append(f'<line x1="{L}" y1="{py(d)}" x2="{W - R}" y2="{py(d)}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{py(d) + 4}" text-anchor="end">{d:g}</text>')
        d *= 10
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 18}" text-anchor="middle">'
               'offered calls per second (achieved rate at each point)</text>')
    out.append(f'<text x="18" y="{(T + H - B) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {(T + H - B) / 2})">latency, ms (log scale)</text>')
    # The target.
    out.append(f'<line x1="{L}" y1="{py(5)}" x2="{W - R}" y2="{py(5)}" stroke="#c00" '
               'stroke-dasharray="6 4"/>')
    out.append(f'<text x="{W - R - 4}" y="{py(5) - 5}" text-anchor="end" fill="#c00">'
               'p99 target 5 ms</text>')
    colors = {"p50": "#1f77b4", "p99": "#ff7f0e"}
    for name, ys in series.items():
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colors[name]}" stroke-width="2"/>')
        for x, y in zip(xs, ys):
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colors[name]}"/>')
    for r, x, y in zip(rows, xs, series["p99"]):
        out.append(f'<text x="{px(x):.1f}" y="{py(y) - 9:.1f}" text-anchor="middle" font-size="10">'
                   f'{r["calls_per_sec"]:.0f}/s</text>')
    # Legend.
    for i, name in enumerate(series):
        y = T + 10 + 18 * i
        out.append(f'<line x1="{L + 14}" y1="{y}" x2="{L + 40}" y2="{y}" stroke="{colors[name]}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{L + 46}" y="{y + 4}">{name}</text>')
    out.append("</svg>")
    open(dst, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
