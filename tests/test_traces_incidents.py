"""repro.traces.incidents: the synthetic incident corpus of brief 10 (arXiv:2404.03662) -- exact counts, a DAG of
services, causes that respect the graph, titles that name symptoms only, seeded determinism, and the same invariants
as hypothesis properties over the generator's parameters."""
import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro.traces import incidents as gen

CFG = gen.IncidentConfig()


def tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower()))


def check_invariants(corpus: gen.IncidentCorpus, cfg: gen.IncidentConfig) -> None:
    services, inc = corpus.services, corpus.incidents
    layer = dict(zip(services["service"], services["layer"]))
    assert len(services) == cfg.n_services and services["service"].is_unique
    assert len(inc) == cfg.n_incidents and inc["incident"].tolist() == list(range(cfg.n_incidents))
    assert inc["minute"].is_monotonic_increasing
    for row in services.itertuples():                       # a DAG: upstreams live in lower layers
        assert all(layer[u] < row.layer for u in row.upstreams)
        assert (len(row.upstreams) == 0) == (row.layer == 0)
    dependents = corpus.dependents()
    assert all(dependents[s] for s in services["service"][services["layer"] == 0])
    upstreams = corpus.upstreams()
    for row in inc.itertuples():
        assert row.dependency_failure == (row.cause_service != row.service)
        if row.dependency_failure:
            assert row.cause_service in upstreams[row.service]
            assert row.cause_service not in tokens(row.title), "a title names the symptom, never the failing upstream"
        assert row.fault not in row.title
        assert row.cause.startswith(f"{row.cause_service} ") and row.cause.endswith(row.fault)
        assert 1 <= row.severity <= 4 and row.region in gen.REGIONS


def test_default_corpus_has_the_briefs_counts_and_respects_the_graph():
    corpus = gen.generate_incidents(CFG, 0)
    check_invariants(corpus, CFG)
    assert corpus.services["component"].value_counts().to_dict() == gen.COMPONENT_MIX
    share = corpus.incidents["dependency_failure"].mean()
    assert 0.25 < share < 0.75


def test_same_seed_same_corpus_other_seed_other_corpus():
    a, b, c = (gen.generate_incidents(CFG, s) for s in (3, 3, 4))
    assert a.incidents.equals(b.incidents) and a.services.equals(b.services)
    assert not a.incidents["cause"].equals(c.incidents["cause"])


def test_component_counts_sum_and_keep_every_component():
    assert gen.component_counts(30) == gen.COMPONENT_MIX
    for n in (8, 13, 45, 64):
        counts = gen.component_counts(n)
        assert sum(counts.values()) == n and min(counts.values()) >= 1
    with pytest.raises(ValueError, match="n_services"):
        gen.component_counts(5)


def test_the_share_knobs_switch_upstream_failures_off_and_on():
    none = gen.generate_incidents(dataclasses.replace(CFG, upstream_share=0.0), 0).incidents
    assert not none["dependency_failure"].any()
    every = gen.generate_incidents(dataclasses.replace(CFG, upstream_share=1.0, self_report=0.0), 0).incidents
    assert every["dependency_failure"].all()


def test_full_fidelity_titles_use_the_faults_own_symptom():
    corpus = gen.generate_incidents(dataclasses.replace(CFG, symptom_fidelity=1.0), 1)
    symptom_of = {phrase: symptom for spec in gen.COMPONENTS.values() for phrase, symptom in spec[3]}
    for row in corpus.incidents.itertuples():
        templates = gen.SYMPTOMS[symptom_of[row.fault]]
        assert row.title in {t.format(endpoint=f"{row.service} endpoint") for t in templates}


def test_upstream_failures_raise_incidents_close_in_time():
    inc = gen.generate_incidents(dataclasses.replace(CFG, propagation=1.0), 2).incidents
    spans = inc.groupby("event")["minute"].agg(lambda m: m.max() - m.min())
    assert spans.max() <= CFG.jitter_minutes
    assert (inc.groupby("event").size() > 1).any()


def test_fault_words_are_the_cause_vocabulary():
    assert {"connection", "pool", "exhausted", "eviction"} <= gen.FAULT_WORDS
    assert "orders-db" not in gen.FAULT_WORDS


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_services=st.integers(8, 60), n_incidents=st.integers(1, 150), upstream=st.floats(0, 1),
       propagation=st.floats(0, 1), self_report=st.floats(0, 1), fidelity=st.floats(0, 1),
       max_upstreams=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_invariants_hold_for_any_parameters(n_services, n_incidents, upstream, propagation, self_report, fidelity,
                                            max_upstreams, seed):
    cfg = gen.IncidentConfig(n_services=n_services, n_incidents=n_incidents, upstream_share=upstream,
                             propagation=propagation, self_report=self_report, symptom_fidelity=fidelity,
                             max_upstreams=max_upstreams)
    check_invariants(gen.generate_incidents(cfg, seed), cfg)


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="n_incidents"):
        gen.generate_incidents(dataclasses.replace(CFG, n_incidents=0), 0)
    with pytest.raises(ValueError, match="n_services"):
        gen.generate_incidents(dataclasses.replace(CFG, n_services=200), 0)
