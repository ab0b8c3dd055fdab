"""The fleet summary as text for a terminal, and as a JSON report with a chart beside it."""

import json
from pathlib import Path

from agent.fleet.chart import events_chart


def write_report(summary, path):
    """Write the summary as JSON to path and its chart as SVG beside it; return the chart's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    chart = path.with_suffix(".svg")
    chart.write_text(events_chart(summary), encoding="utf-8")
    return chart


def format_summary(summary):
    """Return the summary as lines of plain text."""
    devices = summary["devices"]
    events = summary["events"]
    delivery = summary["delivery"]
    mix = ", ".join(f"{label} {count}" for label, count in devices["by_mix"].items())
    lines = [
        f"devices      {devices['total']} ({mix}), scenario {summary['scenario']}, seed {summary['seed']}",
        f"simulated    {summary['simulated']['duration_seconds'] / 3600:g} h in {summary['simulation_wall_seconds']:.1f} s,"
        f" delivered in {summary['wall_seconds']:.1f} s of wall time"
        + (f" ({events['per_wall_second']:,.0f} events/s)" if events["per_wall_second"] else ""),
        f"captures     {summary['captures']:,}",
        f"events       {events['total']:,}: " + ", ".join(f"{kind} {count:,}" for kind, count in events["by_kind"].items()),
        f"delivered    {delivery['delivered']:,}; retried {delivery['retried']:,} sends of {delivery['retried_events']:,} events;"
        f" dead-lettered {delivery['dead_lettered']:,}; still pending {delivery['pending']:,}",
    ]
    for clock in ("simulated_seconds", "wall_seconds"):
        values = summary["latency"][clock]
        if values:
            name = clock.split("_")[0]
            lines.append(f"latency      {name:<9} p50 {values['p50']:.3f} s, p90 {values['p90']:.3f} s, p99 {values['p99']:.3f} s, max {values['max']:.3f} s")
    lines.append(f"peak memory  {summary['peak_memory_mib']:.0f} MiB")
    lines.append("")
    lines.append(f"  {'attribute':<18} " + " ".join(f"{kind:>9}" for kind in ("one_time", "event", "interval")))
    for name, kinds in events["by_attribute"].items():
        lines.append(f"  {name:<18} " + " ".join(f"{kinds.get(kind, 0):>9,}" for kind in ("one_time", "event", "interval")))
    lines.append("")
    lines.extend(_verification_lines(summary.get("verification")))
    return "\n".join(lines)


def _verification_lines(verification):
    if verification is None:
        return ["verification skipped"]
    lines = [
        f"verification {verification['profiles_checked']:,} of {verification['devices_expected']:,} app profiles checked,"
        f" {verification['mismatches']:,} mismatches"
    ]
    for mismatch in verification["examples"]:
        where = mismatch["device_id"] + (f" {mismatch['attribute']}" if "attribute" in mismatch else "")
        detail = ""
        if "expected" in mismatch:
            detail += f"; expected {json.dumps(mismatch['expected'])}"
        if "stored" in mismatch:
            detail += f"; stored {json.dumps(mismatch['stored'])}"
        lines.append(f"  mismatch: {where}: {mismatch['problem']}{detail}")
    return lines


def failed(summary):
    """Return why a run failed, or None: a mismatch, or events the store never acknowledged."""
    verification = summary.get("verification")
    if verification and verification["mismatches"]:
        return f"{verification['mismatches']} attributes in the store differ from the devices' final state"
    delivery = summary["delivery"]
    if delivery["pending"] or delivery["dead_lettered"]:
        return f"{delivery['pending']} events not delivered and {delivery['dead_lettered']} dead-lettered"
    return None
