"""Prometheus metrics: approval latency, outcomes, timeouts, escalations, pending, runs."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """One registry per runtime, so tests and several apps in a process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.approval_latency = Histogram(
            "hitl_approval_latency_seconds",
            "Time from an approval being requested to its decision.",
            ["outcome"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600),
            registry=self.registry,
        )
        self.decisions = Counter(
            "hitl_decisions_total", "Decisions by outcome.", ["outcome"], registry=self.registry
        )
        self.timeouts = Counter(
            "hitl_timeouts_total", "Requests resolved by their deadline.", registry=self.registry
        )
        self.escalations = Counter("hitl_escalations_total", "Requests escalated.", registry=self.registry)
        self.pending = Gauge("hitl_pending_approvals", "Approval requests waiting.", registry=self.registry)
        self.run_duration = Histogram(
            "hitl_run_duration_seconds", "Duration of graph runs.", ["status"], registry=self.registry
        )
        self.runs = Counter(
            "hitl_runs_total", "Finished graph runs by status.", ["status"], registry=self.registry
        )
