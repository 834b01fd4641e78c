"""The benchmark's chart: cost and detection latency against job length, the tracker beside the classic poller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display here or in CI
import matplotlib.pyplot as plt

STYLES = {
    "tracker, events delivered": {"color": "#1b7837", "marker": "o"},
    "tracker, all events lost": {"color": "#5aae61", "marker": "s", "linestyle": "--"},
    "classic poller 60 s": {"color": "#762a83", "marker": "^"},
    "classic poller 30 s": {"color": "#c2a5cf", "marker": "v", "linestyle": "--"},
}


def draw(side_by_side: dict[str, dict[str, Any]], hours: dict[str, float], path: Path) -> None:
    """One line per runner: $ per 1,000 job-days (left) and mean detection latency (right), by job length. A run
    that could not follow its jobs to the end (the poller's history reached 25,000 events) is marked with an x."""
    figure, (cost_axis, latency_axis) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    for runner, style in STYLES.items():
        points = [(hours[label], runs[runner]) for label, runs in side_by_side.items() if runner in runs]
        if not points:
            continue
        lengths = [length for length, _ in points]
        cost_axis.plot(lengths, [run["cost_usd_per_1000_job_days"] for _, run in points], label=runner, **style)
        followed = [(length, run) for length, run in points if run["lost"] == 0]
        latency_axis.plot(
            [length for length, _ in followed],
            [run["detection_latency_seconds"]["mean"] for _, run in followed],
            label=runner,
            **style,
        )
        for length, run in points:
            if run["lost"]:
                cost_axis.plot(length, run["cost_usd_per_1000_job_days"], "x", color="red", markersize=12)
    cost_axis.set(
        xscale="log",
        yscale="log",
        xlabel="job length (hours)",
        ylabel="US$ per 1,000 job-days",
        title="Cost (Step Functions, Lambda, DynamoDB, EventBridge)",
    )
    latency_axis.set(
        xscale="log",
        xlabel="job length (hours)",
        ylabel="seconds, mean",
        title="Detection latency: job end → terminal status recorded",
    )
    cost_axis.plot([], [], "x", color="red", label="jobs lost (history hit 25,000 events)")
    for axis in (cost_axis, latency_axis):
        axis.grid(True, which="both", alpha=0.3)
        axis.set_xticks(sorted(hours.values()), labels=list(hours))
    cost_axis.legend(fontsize=8)
    figure.savefig(path, dpi=110)
    plt.close(figure)
