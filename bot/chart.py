"""A picture of the incident: key times and checklist completions on one time axis (PNG)."""

from __future__ import annotations

import io

from bot.summary import Summary


def timeline_png(summary: Summary) -> bytes:
    """Render with matplotlib's Agg backend (no display); imported here because it is slow to import."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt

    sections = [title for title, _, _ in summary.progress]
    rows = {title: n for n, title in enumerate(reversed(sections), start=1)}
    key_row = len(sections) + 1
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.55 * (len(sections) + 1)), dpi=110)
    try:
        for done in summary.done:
            ax.plot(done.at, rows.get(done.section, 0), "o", color="#2e7d32", markersize=6)
        palette = ("#6d4c41", "#c62828", "#1565c0", "#6a1b9a", "#37474f")
        for (label, at), colour in zip(summary.times, palette, strict=False):
            if at is None:
                continue
            ax.axvline(at, color=colour, linewidth=1, linestyle="--", alpha=0.7)
            ax.plot(at, key_row, "D", color=colour, markersize=7)
            ax.annotate(label, (at, key_row), textcoords="offset points", xytext=(0, 8), ha="center",
                        fontsize=7, color=colour)
        ax.set_yticks([*rows.values(), key_row], [*rows.keys(), "Key times"])
        ax.set_ylim(0.4, key_row + 0.9)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b %H:%M", tz=mdates.UTC))
        ax.set_title(f"Incident {summary.incident.id}: timeline (UTC)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
