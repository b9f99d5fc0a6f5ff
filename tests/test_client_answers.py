"""The client's answers: an answer nothing acts on at the client is recorded with the time it
arrives, without an event for its last hop, and the figures are those of delivering it.

An answer still on its way when the run ends is not an answer (a timeout cut at the end, as a
request never answered); one that arrives after the client's timeout is a timeout."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.infra.network import Network
from sim.kernel.codes import OK, TIMEOUT
from sim.metrics.requests import RequestLog


class _Drawn:
    """Requests drawn up front, all reads of key i at the given times."""

    def __init__(self, starts: list[float]) -> None:
        count = len(starts)
        self.times = np.array(starts)
        self.ops = np.zeros(count, np.int8)
        self.keys = np.arange(count, dtype=np.int64)
        self.targets = np.zeros(count, np.int64)

    def __len__(self) -> int:
        return len(self.times)


def _log(starts: list[float], timeout: float) -> RequestLog:
    return RequestLog(_Drawn(starts), timeout, ["users"])


def test_an_answer_still_travelling_at_the_end_is_a_timeout_cut_at_the_end() -> None:
    log = _log([1.0, 9.2, 3.0, 9.5], timeout=1.0)
    log.finish(0, 1.4, OK, 7)  # arrived during the run
    log.finish(1, 10.0, OK, 8)  # arrives at the run's end: an event there comes after it
    log.finish(2, 12.0, OK, 9)  # the client gave up at 4.0, before the end
    log.finish(3, 10.2, OK, 3)  # still waited for at the end, arrives after it
    log.close(10.0)
    ends, outcomes, versions = list(log.ends), list(log.outcomes), list(log.versions)
    assert outcomes == [OK, TIMEOUT, TIMEOUT, TIMEOUT]
    assert ends == [1.4, 10.0, 4.0, 10.0]  # at the timeout, or at the end if still waiting
    assert versions == [7, -1, -1, -1]
    assert log.answered == 2  # the two still travelling were taken back


def _in_flight_run(scenario_factory, faults: list[dict]) -> api.Results:
    scenario = scenario_factory(
        drain=0,  # the run ends mid-load: answers are on their way
        network={"latency": {"dist": "exponential", "mean": "20ms"}},
        workload={"phases": [{"duration": 6, "rate": 60}], "timeout": "60ms"},
        patterns=[{"kind": "sync_http", "timeout": "200ms"}, {"kind": "cdc"}],
        faults=faults,
    )
    return api.run(scenario, workers=1)


FAULTS = {
    "none": [],
    "answers cut for a while": [
        {"kind": "partition", "target": "link:users->client", "start": 2, "duration": 1}
    ],
    "slow answers": [
        {
            "kind": "latency",
            "target": "link:users->client",
            "start": 1,
            "duration": 2,
            "delay": "30ms",
        }
    ],
    "answers through a narrow link": [
        {
            "kind": "bandwidth",
            "target": "link:users->client",
            "start": 2,
            "duration": 2,
            "rate": "40/s",
        }
    ],
    "lost answers": [
        {
            "kind": "loss",
            "target": "link:users->client",
            "start": 1,
            "duration": 3,
            "probability": 0.3,
        }
    ],
}


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
def test_recording_an_answer_ahead_gives_the_figures_of_delivering_it(
    scenario_factory, monkeypatch, faults
) -> None:
    ahead = _in_flight_run(scenario_factory, faults)
    monkeypatch.setattr(Network, "arrival", lambda self, source, destination: None)
    delivered = _in_flight_run(scenario_factory, faults)
    for pattern in ("sync_http", "cdc"):
        mine = next(r for r in ahead.runs if r.pattern == pattern).requests
        theirs = next(r for r in delivered.runs if r.pattern == pattern).requests
        pd.testing.assert_frame_equal(mine, theirs)
        assert (mine["outcome"] == "timeout").any() and (mine["outcome"] == "ok").any()
    pd.testing.assert_frame_equal(ahead.summary, delivered.summary)
    assert not math.isnan(ahead.metric("cdc", "latency_p99"))
