"""Prometheus metrics of one server process (its own registry, so tests can run many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ledger_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "ledger_http_request_seconds", "HTTP request latency by route",
            ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.events_recorded = Counter("ledger_events_recorded",
                                       "Events recorded by this process", registry=self.registry)
        self.submissions_refused = Counter("ledger_submissions_refused",
                                           "Submissions refused, by error code", ["code"],
                                           registry=self.registry)
        self.tree_size = Gauge("ledger_tree_size", "Leaves in the log", registry=self.registry)
        self.checkpoint_size = Gauge("ledger_checkpoint_tree_size",
                                     "Tree size of the latest signed checkpoint",
                                     registry=self.registry)
        self.checkpoint_age = Gauge("ledger_checkpoint_age_seconds",
                                    "Seconds since the latest checkpoint was signed",
                                    registry=self.registry)
        self.projection_lag = Gauge("ledger_projection_lag_events",
                                    "Leaves not yet applied to the projections",
                                    registry=self.registry)
        self.group_commit_size = Histogram(
            "ledger_group_commit_submissions", "Submissions per group-commit transaction",
            registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
