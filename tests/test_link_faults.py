"""``loss`` and ``bandwidth`` on a link, through small runs: a lost message is retransmitted
by TCP (200 ms, then 400 ms more, ...), so loss shows as latency and as retransmissions, and
fails a request only when the caller's timeout fires first; a bandwidth limit caps the
messages a link carries per second and queues the rest in order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_scenario

from sim import api

QUIET = {
    "databases": {"default": {"read_time": 0, "write_time": 0}},
    "services": {
        "users": {"concurrency": 64, "service_time": {"dist": "constant", "value": "1ms"}}
    },
    "network": {"latency": "0.5ms"},
    "data": {"replicas": []},
    "patterns": [{"kind": "shared_db"}],
}


def _run(faults: list[dict], **changes) -> api.Results:
    return api.run(make_scenario(faults=faults, **(QUIET | changes)), workers=1)


def _within(observed: float, p: float, n: int) -> bool:
    """``observed`` is a binomial share of ``n`` trials of chance ``p``, within 4 sigma."""
    return abs(observed - p) < 4 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.1, 0.3])
def test_loss_shows_as_retransmission_latency_and_is_counted(p: float) -> None:
    loss = {"kind": "loss", "target": "link:client->users", "probability": p, "start": 0}
    workload = {"phases": [{"duration": 20, "rate": 100}]}
    results = _run([loss], workload=workload)
    requests = results.requests
    n = len(requests)
    assert (requests["outcome"] == "ok").all()
    # lost once: one RTO (200 ms) later; twice: 200 + 400 ms later
    assert _within(float((requests["latency"] >= 0.2).mean()), p, n)
    assert _within(float((requests["latency"] >= 0.6).mean()), p**2, n)
    assert float((requests["latency"].between(0.0031, 0.199)).mean()) == 0.0
    [row] = results.table("link_faults").itertuples()
    assert row.messages == n  # one request message each over client->users
    assert row.given_up == 0
    # lost transmissions per message: p + p^2 + ... = p / (1 - p)
    assert row.retransmissions / n == pytest.approx(p / (1 - p), rel=0.2)


def test_a_lost_message_fails_only_when_the_callers_timeout_fires_first() -> None:
    p = 0.3
    loss = {"kind": "loss", "target": "link:client->users", "probability": p, "start": 0}
    workload = {"phases": [{"duration": 20, "rate": 100}], "timeout": "500ms"}
    requests = _run([loss], workload=workload).requests
    outcomes = requests["outcome"]
    assert not (outcomes == "error").any()
    # lost once (200 ms late) still answers in time; lost twice (600 ms late) does not
    assert _within(float((outcomes == "timeout").mean()), p**2, len(requests))
    assert (requests[outcomes == "ok"]["latency"] < 0.5).all()


def test_without_loss_nothing_is_recorded_and_latency_stays_at_the_hops() -> None:
    results = _run([], workload={"phases": [{"duration": 5, "rate": 50}]})
    assert results.table("link_faults").empty
    assert results.requests["latency"].max() < 0.01


def test_bandwidth_caps_the_messages_a_link_carries_and_queues_the_rest() -> None:
    rate = 20.0
    limit = {"kind": "bandwidth", "target": "link:client->users", "rate": "20/s", "start": 5}
    limit["duration"] = 5
    workload = {"arrivals": "uniform", "phases": [{"duration": 20, "rate": 50}]}
    results = _run([limit], workload=workload)
    requests = results.requests.sort_values("start")
    answered = (requests["start"] + requests["latency"]).to_numpy(float)
    started = requests["start"].to_numpy(float)
    in_window = (started >= 5) & (started < 10)
    through = answered[in_window & (answered < 10)]
    for second in range(5, 10):  # exactly the rate, every second of the window
        assert np.sum((through >= second) & (through < second + 1)) == pytest.approx(rate, abs=1)
    # message i of the window leaves after (i + 1) / rate: it waited behind the i before it
    first = requests[in_window].head(40)
    waits = first["latency"].to_numpy(float) - 0.003  # four hops of 0.5 ms, 1 ms of service
    i = np.arange(len(first))
    assert waits == pytest.approx((i + 1) / rate - i / 50.0, abs=1e-6)
    # when the limit is lifted the queued messages go on at once
    late = answered[in_window & (answered >= 10)]
    assert len(late) == 250 - len(through) and late.max() < 10.01
    assert (results.requests["outcome"] == "ok").all()
    [row] = results.table("link_faults").itertuples()
    assert (row.kind, row.messages, row.start, row.end) == ("bandwidth", 250, 5.0, 10.0)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "loss", "target": "link:users->users", "probability": 0.1}, "two different ends"),
        ({"kind": "bandwidth", "target": "link:client->users", "rate": 0}, "must be positive"),
        ({"kind": "loss", "target": "service:users", "probability": 0.1}, "link:"),
    ],
)
def test_bad_link_faults_are_refused(fault: dict, message: str) -> None:
    with pytest.raises(api.ScenarioError, match=message):
        make_scenario(faults=[{"start": 1, **fault}])
