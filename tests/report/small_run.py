"""The small real run the page and browser tests share (fixture ``small_results``): two patterns,
SLOs, a decision, a fault, and a decision question full of markup that must reach the page
as text."""

from __future__ import annotations

TRICKY = '<b>bold</b> & "quoted" <script>alert(1)</script>'

SMALL = f"""
name: small
seed: 5
warmup: 2s
drain: 10s
replications: 3
services:
  users: {{instances: 1, concurrency: 8, service_time: 2ms}}
  orders: {{instances: 1, concurrency: 8, service_time: 2ms}}
  billing: {{instances: 1, concurrency: 8, service_time: 2ms}}
databases:
  default: {{pool: 8}}
data: {{owner: users, replicas: [orders, billing], keys: 200}}
workload:
  phases: [{{duration: 20s, rate: 40/s}}]
  mix: {{write: 0.4, read: 0.6}}
slo:
  - p99(latency) < 50ms
  - p99(staleness) < 100ms
patterns:
  - kind: sync_http
  - kind: cdc
faults:
  - {{kind: crash, target: service:billing, start: 8s, duration: 3s}}
decision:
  question: '{TRICKY}'
  criteria:
    - {{metric: p99(latency), weight: 1}}
    - {{metric: p99(staleness), weight: 1}}
"""
