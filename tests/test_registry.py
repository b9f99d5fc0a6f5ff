"""Adding a pattern or a fault kind: one class and one registry call, from outside the package.

The pattern and the fault kind below live entirely in this test module. Registering them makes
the scenario accept them, the run simulate them, the summary, the SLO grammar and
``summary.json`` carry the pattern's declared metric; forgetting the registry call or the
metric declaration is a clear error, never a silent drop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import pytest

from sim import api
from sim.config.model import PatternSettings
from sim.faults import LastingFault, register_fault
from sim.faults.components import Crashable, Undo
from sim.faults.fault import FaultRun
from sim.faults.targets import ServiceTarget, Targets
from sim.infra.service import Job
from sim.kernel.codes import OK
from sim.kernel.registry import FAULTS, PATTERNS
from sim.metrics.catalog import Metric
from sim.metrics.slo import SloError, parse_slo
from sim.patterns import BUILTIN, PatternModel, register_pattern
from sim.scenario import ScenarioError

ECHOES = Metric("echoes", "count", "writes the echo pattern answered without a database", "cost")


class EchoSettings(PatternSettings):
    """Writes are answered at once by the owner; reads read the owner's database."""

    kind: Literal["echo"]
    label_of_echo: str = "echo"


class EchoModel(PatternModel):
    settings = EchoSettings
    metrics: ClassVar[tuple[Metric, ...]] = (ECHOES,)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.echoed = 0

    def write(self, index: int, key: int) -> None:
        def work(job: Job) -> None:
            self.echoed += 1
            job.finish(OK, 0)

        self.request(index, self.owner, work)

    def gauges(self) -> dict[str, float]:
        return {"echoes": float(self.echoed)}


class ForgetfulSettings(PatternSettings):
    kind: Literal["forgetful"]


class ForgetfulModel(PatternModel):
    """Reports a gauge it never declared."""

    settings = ForgetfulSettings

    def write(self, index: int, key: int) -> None:
        self.request(index, self.owner, lambda job: job.finish(OK, 0))

    def gauges(self) -> dict[str, float]:
        return {"surprise": 1.0}


class LeakySettings(PatternSettings):
    kind: Literal["leaky"]


class LeakyModel(PatternModel):
    """Forgets to finish the job of a write whose key is odd."""

    settings = LeakySettings

    def write(self, index: int, key: int) -> None:
        def work(job: Job) -> None:
            if key % 2 == 0:
                job.finish(OK, 0)

        self.request(index, self.owner, work)


class BlackoutFault(LastingFault):
    """Every instance of a service is down for the window (a fault kind from outside)."""

    kind: Literal["blackout"]
    target: Annotated[ServiceTarget, Targets(ServiceTarget)]
    needs: ClassVar[tuple[type, ...]] = (Crashable,)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        return run.crash(parts)


@pytest.fixture
def registered() -> Iterator[None]:
    register_pattern(EchoModel)
    register_pattern(ForgetfulModel)
    register_pattern(LeakyModel)
    register_fault(BlackoutFault)
    try:
        yield
    finally:
        for kind in ("echo", "forgetful", "leaky"):
            PATTERNS.unregister(kind)
        FAULTS.unregister("blackout")


def _scenario(scenario_factory: Any, **changes: Any) -> api.Scenario:
    return scenario_factory(replications=2, **changes)


def test_a_pattern_from_outside_runs_with_its_declared_metric(
    registered: None, scenario_factory: Any, tmp_path: Path
) -> None:
    scenario = _scenario(
        scenario_factory,
        patterns=[{"kind": "shared_db"}, {"kind": "echo", "label_of_echo": "x"}],
        slo=["echoes > 10", "error_rate < 1%"],
    )
    results = api.run(scenario, workers=1)
    assert results.metric("echo", "echoes") > 10  # half the requests are writes
    assert "echoes" in set(results.summary["metric"])
    assert results.metric("echo", "error_rate") == 0
    verdicts = results.verdicts
    assert verdicts[verdicts["pattern"] == "echo"]["passed"].all()
    # shared_db does not declare the metric: it cannot pass an SLO on it
    echo_slo = verdicts[(verdicts["pattern"] == "shared_db") & (verdicts["metric"] == "echoes")]
    assert not echo_slo["passed"].any()
    api.write(results, tmp_path)
    document = json.loads((tmp_path / "summary.json").read_text())
    assert document["units"]["echoes"] == "count"
    assert document["meanings"]["echoes"] == ECHOES.meaning
    assert document["patterns"]["echo"]["echoes"]["mean"] > 10
    assert '"const": "echo"' in json.dumps(api.schema())


def test_a_fault_kind_from_outside_is_applied(registered: None, scenario_factory: Any) -> None:
    blackout = [{"kind": "blackout", "target": "service:users", "start": 5, "duration": 5}]
    quiet = api.run(_scenario(scenario_factory), workers=1)
    dark = api.run(_scenario(scenario_factory, faults=blackout), workers=1)
    for pattern in ("shared_db", "sync_http"):
        assert quiet.metric(pattern, "error_rate") == 0
        assert dark.metric(pattern, "error_rate") > 0.05
    windows = dark.fault_windows
    assert list(windows["kind"]) == ["blackout"] and list(windows["end"]) == [10.0]


def test_a_registered_fault_checks_its_target(registered: None, scenario_factory: Any) -> None:
    with pytest.raises(ScenarioError, match="expected service:X"):
        _scenario(
            scenario_factory,
            faults=[{"kind": "blackout", "target": "db:users", "start": 1, "duration": 1}],
        )


def test_a_pattern_never_registered_is_an_unknown_kind(scenario_factory: Any) -> None:
    with pytest.raises(ScenarioError, match="unknown 'kind'") as caught:
        _scenario(scenario_factory, patterns=[{"kind": "echo"}])
    assert "shared_db" in str(caught.value)  # the message lists the known kinds


def test_a_metric_never_declared_is_unknown_to_the_slo_grammar() -> None:
    with pytest.raises(SloError, match="unknown metric 'echoes'"):
        parse_slo("echoes > 10")


def test_a_gauge_not_declared_is_an_error_not_a_silent_drop(
    registered: None, scenario_factory: Any
) -> None:
    scenario = _scenario(scenario_factory, patterns=[{"kind": "forgetful"}])
    with pytest.raises(api.ModelError, match="reports surprise without declaring it"):
        api.run(scenario, workers=1)


def test_a_leaked_slot_is_reported_at_the_end_of_the_run(
    registered: None, scenario_factory: Any
) -> None:
    scenario = _scenario(scenario_factory, patterns=[{"kind": "leaky"}])
    with pytest.raises(api.ModelError, match=r"slots leaked: users/0 at t=") as caught:
        api.run(scenario, workers=1)
    assert "job.finish" in str(caught.value)  # and it says what to do


def test_every_kind_in_the_schema_has_a_model_and_every_module_is_registered() -> None:
    schema = api.schema()
    kinds = set()
    for variant in schema["$defs"].values():
        kind = variant.get("properties", {}).get("kind", {})
        if "const" in kind:
            kinds.add(kind["const"])
    assert set(PATTERNS.kinds()) <= kinds
    assert set(FAULTS.kinds()) <= kinds
    for kind in PATTERNS.kinds():
        assert issubclass(PATTERNS.get(kind), PatternModel)
    folder = Path(__file__).parent.parent / "sim" / "patterns"
    modules = {path.stem for path in folder.glob("*.py")}
    defining = {
        name
        for name in modules
        if "register_pattern\nclass" in (folder / f"{name}.py").read_text().replace("@", "")
    }
    assert defining == set(BUILTIN)
