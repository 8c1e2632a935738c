"""Upstream engines: jobs served by another generator (docs/upstream.md).

`Poller` moves each upstream job's durable state machine (store/upstream.py); `providers/`
holds one module per upstream wire format; `mirror` brings results home; `health` keeps
per-provider metrics and the circuit breaker."""
