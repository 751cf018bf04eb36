"""The result codec round-trips any result, losslessly (hypothesis), and the store's part."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcheck.bandwidth.model import BandwidthOutcome
from netcheck.catalog import Evidence
from netcheck.diagnose.model import Diagnostics
from netcheck.nic.model import HostNicReport
from netcheck.plan import ProbeSpec
from netcheck.readiness.model import Finding, ReadinessResult
from netcheck.result.cells import AgentInfo, CellResult, CellStatus, Outcome, Sample
from netcheck.result.codec import dumps, loads, result_from_dict, result_to_dict
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.topology.bandwidth import BandwidthCheck
from tests.unit.report.reportkit import report_plan

PLAN = report_plan()
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
fact_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), numbers, names, st.lists(names)
)

# the value objects that validate themselves get strategies that make valid ones
st.register_type_strategy(
    BandwidthCheck,
    st.builds(
        BandwidthCheck,
        source=st.just("ps-azure"),
        dest=st.just("mt01"),
        duration_s=st.floats(0.1, 60),
        streams=st.integers(1, 8),
        reverse=st.booleans(),
        port=st.integers(0, 65535),
    ),
)
st.register_type_strategy(
    Finding,
    st.builds(Finding, check=names, subject=names, message=st.text(max_size=20)),
)
st.register_type_strategy(
    ProbeSpec,
    st.builds(
        ProbeSpec,
        cell_id=names,
        port=st.integers(1, 65535),
        documented_port=st.integers(1, 65535),
        rule_ids=st.lists(names, min_size=1, max_size=2).map(tuple),
        evidence=st.sampled_from(Evidence),
        params=st.lists(st.tuples(names, st.one_of(names, st.integers(), st.booleans()))).map(
            tuple
        ),
    ),
)
samples = st.builds(
    Sample,
    outcome=st.sampled_from(Outcome),
    rtt_us=st.none() | st.integers(0, 10**9),
    rtt_source=st.none() | names,
    errno=st.none() | st.integers(0, 200),
    detail=st.text(max_size=20),
    proven=st.booleans(),
    t=numbers,
    facts=st.none() | st.dictionaries(names, fact_values, max_size=3),
)
st.register_type_strategy(Sample, samples)


@st.composite
def cell_results(draw: st.DrawFn) -> tuple[CellResult, ...]:
    out = []
    for spec in PLAN.specs:
        status = draw(st.sampled_from(CellStatus))
        if status is CellStatus.MEASURED:
            taken = tuple(draw(st.lists(samples, min_size=1, max_size=3)))
            out.append(CellResult(spec, status, taken))
        else:
            out.append(CellResult(spec, status, reason=draw(st.text(max_size=20))))
    return tuple(out)


results = st.builds(
    SweepResult,
    sweep_id=names,
    plan=st.just(PLAN),
    results=cell_results(),
    agents=st.lists(st.from_type(AgentInfo), max_size=2).map(tuple),
    responders=st.lists(st.from_type(ResponderInfo), max_size=2).map(tuple),
    started_at=numbers,
    finished_at=numbers,
    interrupted=st.booleans(),
    phases=st.dictionaries(names, numbers, max_size=3),
    bandwidth=st.lists(st.from_type(BandwidthOutcome), max_size=2).map(tuple),
    readiness=st.none() | st.from_type(ReadinessResult),
    diagnostics=st.none() | st.from_type(Diagnostics),
    nics=st.lists(st.from_type(HostNicReport), max_size=1).map(tuple),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results)
def test_any_result_round_trips_through_json(result: SweepResult) -> None:
    text = dumps(result_to_dict(result))
    back = result_from_dict(loads(text), PLAN)
    # the canonical JSON is the same (NaN-proof: float fields may hold NaN, NaN != NaN)
    assert dumps(result_to_dict(back)) == text
    assert back == result or "NaN" in text


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results)
def test_the_stores_part_plus_its_rows_is_the_whole_result(result: SweepResult) -> None:
    part = loads(dumps(result_to_dict(result, cells=False)))
    assert not {"results", "agents", "responders"} & set(part)
    back = result_from_dict(
        part,
        PLAN,
        sweep_id=result.sweep_id,
        started_at=result.started_at,
        finished_at=result.finished_at,
        results=result.results,
        agents=result.agents,
        responders=result.responders,
    )
    assert dumps(result_to_dict(back)) == dumps(result_to_dict(result))
