"""The table `python -m bench` prints (Markdown, so that the README can show it as it is)."""

from __future__ import annotations

from typing import Any


def _n(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def table(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        f"**{r['database']}**, {r['date']}: {m['cores']} cores ({m['cpu'] or 'unknown CPU'}), Python {m['python']}, "
        f"{m['system']}; Slack answers after L = {r['latency_ms']:g} ms; war rooms built by {r['workers']} "
        f"workers; load average {m['load_average_at_start'][0]:g} at the start, "
        f"{m.get('load_average_at_end', [float('nan')])[0]:g} at the end; "
        f"{r['seconds']:g} s in all.",
        "",
        "| Acknowledgement | bot p50 | bot p99 | bot req/s | floor p50 | floor p99 | floor req/s | p99 ÷ floor |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    rows = [*list(r["acknowledgements"].items()), (f"burst of {r['burst']['size']} declares", r["burst"])]
    for name, level in rows:
        bot, floor = level["bot"], level["floor"]
        lines.append(f"| {name} | {_n(bot['p50_ms'])} ms | {_n(bot['p99_ms'])} ms | {_n(bot['per_s'], 0)} "
                     f"| {_n(floor['p50_ms'])} ms | {_n(floor['p99_ms'])} ms | {_n(floor['per_s'], 0)} "
                     f"| {level['p99_ratio']:.2f} |")
    ready, press, burst = r["war_room_ready"], r["press_to_update"], r["burst"]
    lines += [
        "",
        "| Round trips | median | in L | floor |",
        "|---|--:|--:|--:|",
        f"| war room ready: `/breach` to the checklist posted | {_n(ready['median_ms'])} ms "
        f"| {ready['median_L']:.2f} L | 2 L |",
        f"| … of which before the bot asks Slack to create the room | {_n(ready['to_create_median_ms'])} ms | | |",
        f"| … and from the room's creation to the checklist's post | {_n(ready['create_to_post_median_ms'])} ms "
        "| | |",
        f"| war room complete (pinned, deadline card, declarer told) | {_n(ready['complete_median_ms'])} ms "
        f"| {ready['complete_median_L']:.2f} L | |",
        f"| press to its `chat.update` | {_n(press['median_ms'])} ms | {press['median_L']:.2f} L | 1 L |",
        f"| … of which before the bot sends the `chat.update` | {_n(press['to_update_median_ms'])} ms | | |",
        f"| burst: last of {burst['size']} war rooms complete (worst round) "
        f"| {burst['last_room_complete_worst_s']:g} s | | |",
    ]
    if "mail_merge" in r:
        mm = r["mail_merge"]
        lines += [
            "",
            f"| Mail merge, {mm['clients']:,} clients | letters/s | seconds | processes | CPU ms/letter |",
            "|---|--:|--:|--:|--:|",
        ]
        for key, label in (("docx", ".docx letters"), ("eml", ".eml emails"),
                           ("jinja2", "floor: bare Jinja2 render of the letter")):
            row = mm[key]
            lines.append(f"| {label} | {_n(row['per_s'], 0)} | {row['seconds']:.2f} | {row['processes']} "
                         f"| {row['cpu_ms_per_letter']:.3f} |")
    fp = r["footprint"]
    export = fp["export"]
    lines += [
        "",
        "| Footprint | |",
        "|---|--:|",
        f"| `serve` start to `/readyz`, existing database (median) | {fp['start_s']:.2f} s |",
        f"| `serve` first start, with migrations (median) | {fp['first_start_s']:.2f} s |",
        f"| resident memory after warm-up | {_n(fp['rss_warm_mb'])} MB |",
        f"| resident memory after {fp['incidents']:,} incidents | {_n(fp['rss_after_incidents_mb'])} MB |",
        (f"| `incidents export` of {export['timeline_entries_added']:,} timeline entries: json / md "
         f"| {export['json_s']:.2f} s / {export.get('md_s', float('nan')):.2f} s |") if "error" not in export
        else f"| `incidents export` | failed: {export['error'][-120:]} |",
        "",
        "| Target | bound | value | held |",
        "|---|--:|--:|:-:|",
    ]
    for t in r["targets"]:
        value = t["value"]
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        lines.append(f"| {t['target']} | {t['bound']} | {shown} {t['unit']} | {'yes' if t['held'] else '**no**'} |")
    return "\n".join(lines)
