"""Synthetic IC3-like incident corpus over a service dependency graph (brief 10 §2 "Task A", arXiv:2404.03662).

The X-lifecycle paper's incidents (Microsoft IC3) are private and no public incident set has a dependency graph,
so brief 10 asks for a synthetic corpus [our choice throughout; nothing here is calibrated to public facts]:

* **Services** (:func:`service_graph`): ``n_services`` services in three layers. Layer 0 is infrastructure
  (database, cache, queue, storage, identity, network), layer 1 backends, layer 2 frontends. Every service of
  layer >= 1 calls 1..``max_upstreams`` services of lower layers (its *upstreams*), so the graph is a DAG. A
  service has a name (domain + kind, e.g. ``orders-db``) and a one-sentence description naming what it is and
  what it holds (:data:`COMPONENTS`).
* **Failure events** (:func:`generate_incidents`): events arrive as a Poisson process over ``days`` days. With
  probability ``upstream_share`` an event is an *upstream failure*: a service U with dependents fails with one of
  its component's faults, each direct dependent of U raises an incident with probability ``propagation`` (at least
  one does), and U raises its own with probability ``self_report``. Otherwise it is a *local fault*: one service
  fails with one of its own component's faults and raises one incident. Events are drawn until ``n_incidents``
  incidents exist (the last event's surplus is dropped).
* **Incidents**: the title mentions **symptoms only** (never the failing service or the fault): a symptom class
  is the fault's own with probability ``symptom_fidelity``, else drawn uniformly; its wording is one of a few
  templates (:data:`SYMPTOMS`). Metadata are the reporting service, severity (1-4), region and title. The gold
  root cause is ``"<failing service> <component>: <fault phrase>"``; ``dependency_failure`` is True when the
  failing service is not the reporting one.

The corpus is circular by design (we write both the symptoms and the causes): :data:`FAULT_WORDS` is the
vocabulary the generator uses for causes, so a reader can strip it from the query side (the lexical-overlap
control of :mod:`repro.papers.xlifecycle`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from repro.core import seeds

#: component -> (layer, kind suffix of the name, description template, faults as (phrase, symptom class))
COMPONENTS = {
    "database": (0, "db", "relational database holding the {domain} records, with a primary and read replicas",
                 (("connection pool exhausted on the primary", "timeouts"),
                  ("replication lag on read replicas", "stale"),
                  ("lock contention from a long running transaction", "latency"),
                  ("disk full on the data volume", "errors"))),
    "cache": (0, "cache", "in-memory key value cache in front of the {domain} data",
              (("eviction storm after a memory limit change", "latency"),
               ("cache node failover lost hot keys", "latency"),
               ("serialization bug wrote corrupt entries", "errors"))),
    "queue": (0, "queue", "message broker carrying {domain} events between producers and consumers",
              (("consumer backlog after partition rebalance", "stale"),
               ("broker disk quota reached, publishes rejected", "errors"))),
    "storage": (0, "store", "blob storage account keeping {domain} files and snapshots",
                (("request throttling on the storage account", "errors"),
                 ("volume latency from a degraded storage stamp", "latency"))),
    "identity": (0, "auth", "identity provider issuing tokens for {domain} sign in",
                 (("expired signing certificate", "auth"),
                  ("token key rotation failed", "auth"))),
    "network": (0, "lb", "load balancer and gateway routing {domain} traffic",
                (("misconfigured route after a gateway update", "unavailable"),
                 ("packet loss on an uplink", "timeouts"),
                 ("health probe misconfiguration drained all backends", "unavailable"))),
    "backend": (1, "api", "internal service implementing the {domain} business logic",
                (("bad deployment introduced a null reference", "errors"),
                 ("memory leak in the worker process", "latency"),
                 ("thread pool starvation under retries", "timeouts"),
                 ("feature flag misconfiguration", "errors"))),
    "frontend": (2, "web", "customer facing portal for {domain}",
                 (("bad deployment of the web bundle", "errors"),
                  ("CDN configuration regression", "unavailable"),
                  ("session handling bug after a release", "auth"))),
}
LAYERS = {c: spec[0] for c, spec in COMPONENTS.items()}
#: how many of each component a graph of 30 services has (scaled by largest remainder to other sizes)
COMPONENT_MIX = {"database": 4, "cache": 2, "queue": 2, "storage": 2, "identity": 1, "network": 1, "backend": 10,
                 "frontend": 8}
DOMAINS = ("orders", "payments", "catalog", "users", "search", "billing", "inventory", "shipping", "reviews",
           "pricing", "notifications", "accounts", "checkout", "analytics", "media", "ads", "support", "loyalty",
           "tax", "returns", "cart", "profiles", "sessions", "reports", "partners", "maps", "fraud", "ledger",
           "content", "recommendations", "messaging", "telemetry")
#: symptom class -> title templates (symptoms as a user or monitor sees them; {endpoint} is the reporting service's)
SYMPTOMS = {
    "latency": ("p99 response time above threshold on {endpoint}", "slow page loads reported for {endpoint}",
                "{endpoint} latency SLO burn rate high"),
    "errors": ("elevated 5xx rate on {endpoint}", "spike of failed requests at {endpoint}",
               "{endpoint} availability SLO breached by server faults"),
    "timeouts": ("requests timing out at {endpoint}", "{endpoint} callers see deadline exceeded",
                 "hung requests pile up in {endpoint}"),
    "stale": ("users see outdated data in {endpoint}", "{endpoint} shows missing recent updates",
              "delayed processing reported for {endpoint}"),
    "auth": ("sign in failures on {endpoint}", "{endpoint} returns 401 for valid users",
             "login loop reported at {endpoint}"),
    "unavailable": ("{endpoint} unreachable from several regions", "synthetic probe down for {endpoint}",
                    "{endpoint} returns connection refused"),
}
REGIONS = ("east", "west", "central")


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


FAULT_WORDS = frozenset().union(*(_tokens(phrase) for spec in COMPONENTS.values() for phrase, _ in spec[3]))
"""Every word the generator uses to write a fault phrase (the cause vocabulary, without service names)."""


@dataclass(frozen=True)
class IncidentConfig:
    """Knobs of the generator (brief 10 §5: 353 incidents, 30 services) [our choice for every other value]."""
    n_services: int = 30
    n_incidents: int = 353
    days: float = 90.0
    max_upstreams: int = 3
    upstream_share: float = 0.5      # share of failure events that are upstream failures
    propagation: float = 0.5         # chance each direct dependent of a failing upstream raises an incident
    self_report: float = 0.3         # chance a failing upstream raises its own incident
    symptom_fidelity: float = 0.7    # chance a title's symptom class is the fault's own (else uniform)
    jitter_minutes: float = 10.0     # incidents of one event are raised within this many minutes of it


@dataclass(frozen=True)
class IncidentCorpus:
    """services: one row per service (service, component, domain, layer, description, upstreams: tuple of names).
    incidents: one row per incident (incident, event, minute, service, component, severity, region, title,
    cause_service, fault, cause, dependency_failure), sorted by minute."""
    services: pd.DataFrame
    incidents: pd.DataFrame

    def upstreams(self) -> dict[str, tuple[str, ...]]:
        return dict(zip(self.services["service"], self.services["upstreams"]))

    def dependents(self) -> dict[str, tuple[str, ...]]:
        out = {s: [] for s in self.services["service"]}
        for s, ups in self.upstreams().items():
            for u in ups:
                out[u].append(s)
        return {s: tuple(v) for s, v in out.items()}


def component_counts(n_services: int) -> dict[str, int]:
    """:data:`COMPONENT_MIX` scaled to ``n_services`` by largest remainder, every component at least once."""
    if n_services < len(COMPONENT_MIX):
        raise ValueError(f"n_services: expected >= {len(COMPONENT_MIX)} (one per component), got {n_services}")
    total = sum(COMPONENT_MIX.values())
    extra = n_services - len(COMPONENT_MIX)
    exact = {c: (m - 1) * extra / (total - len(COMPONENT_MIX)) for c, m in COMPONENT_MIX.items()}
    counts = {c: 1 + int(np.floor(x)) for c, x in exact.items()}
    order = sorted(exact, key=lambda c: (-(exact[c] - np.floor(exact[c])), c))
    for c in order[:n_services - sum(counts.values())]:
        counts[c] += 1
    return counts


def service_graph(cfg: IncidentConfig, seed: int) -> pd.DataFrame:
    """The services and their upstreams (a DAG: every upstream is in a lower layer)."""
    counts = component_counts(cfg.n_services)
    if max(counts.values()) > len(DOMAINS):
        raise ValueError(f"n_services: {cfg.n_services} needs more than the {len(DOMAINS)} domain names for one "
                         f"component ({counts})")
    rng = seeds.rng(seed, "incidents", "graph")
    rows = []
    for component, count in counts.items():
        layer, kind, template, _ = COMPONENTS[component]
        for domain in rng.choice(DOMAINS, size=count, replace=False):   # names are unique: one kind per component
            name = f"{domain}-{kind}"
            rows.append({"service": name, "component": component, "domain": str(domain), "layer": layer,
                         "description": f"{name} is the {template.format(domain=domain)}"})
    services = pd.DataFrame(rows)
    upstreams = []
    for row in services.itertuples():
        lower = services.index[services["layer"] < row.layer].to_numpy()
        k = 0 if row.layer == 0 else int(rng.integers(1, min(cfg.max_upstreams, len(lower)) + 1))
        upstreams.append(tuple(services["service"].iloc[np.sort(rng.choice(lower, size=k, replace=False))])
                         if k else ())
    services["upstreams"] = upstreams
    return _attach_orphans(services, rng)


def _attach_orphans(services: pd.DataFrame, rng) -> pd.DataFrame:
    """Give every infrastructure service without a dependent one (a random backend calls it)."""
    called = {u for ups in services["upstreams"] for u in ups}
    backends = services.index[services["layer"] == 1].to_numpy()
    upstreams = list(services["upstreams"])
    for i in services.index[(services["layer"] == 0) & ~services["service"].isin(called)]:
        b = int(rng.choice(backends))
        upstreams[b] = tuple(sorted({*upstreams[b], services.at[i, "service"]}))
    return services.assign(upstreams=upstreams)


def _title(rng, fault_symptom: str, endpoint: str, fidelity: float) -> str:
    classes = list(SYMPTOMS)
    symptom = fault_symptom if rng.random() < fidelity else classes[int(rng.integers(len(classes)))]
    templates = SYMPTOMS[symptom]
    return templates[int(rng.integers(len(templates)))].format(endpoint=endpoint)


def generate_incidents(cfg: IncidentConfig, seed: int) -> IncidentCorpus:
    """The corpus of ``cfg`` under ``seed`` (streams (seed, "incidents", "graph") and (seed, "incidents", "events"))."""
    if cfg.n_incidents < 1:
        raise ValueError(f"n_incidents: expected >= 1, got {cfg.n_incidents}")
    services = service_graph(cfg, seed)
    corpus = IncidentCorpus(services, pd.DataFrame())
    dependents = corpus.dependents()
    component = dict(zip(services["service"], services["component"]))
    failing_upstreams = [s for s in services["service"] if dependents[s]]
    rng = seeds.rng(seed, "incidents", "events")
    rate = cfg.n_incidents / (cfg.days * 24 * 60)     # events per minute, a little above what is needed
    rows, minute, event = [], 0.0, 0
    while len(rows) < cfg.n_incidents:
        minute += rng.exponential(1 / rate)
        upstream = rng.random() < cfg.upstream_share
        cause = (failing_upstreams if upstream else list(services["service"]))[
            int(rng.integers(len(failing_upstreams) if upstream else len(services)))]
        phrase, symptom = COMPONENTS[component[cause]][3][int(rng.integers(len(COMPONENTS[component[cause]][3])))]
        if upstream:
            hit = [d for d in dependents[cause] if rng.random() < cfg.propagation]
            reporters = hit or [dependents[cause][int(rng.integers(len(dependents[cause])))]]
            reporters = reporters + ([cause] if rng.random() < cfg.self_report else [])
        else:
            reporters = [cause]
        for reporter in reporters:
            rows.append({"event": event, "minute": minute + rng.uniform(0, cfg.jitter_minutes), "service": reporter,
                         "component": component[reporter], "severity": int(rng.integers(1, 5)),
                         "region": REGIONS[int(rng.integers(len(REGIONS)))],
                         "title": _title(rng, symptom, f"{reporter} endpoint", cfg.symptom_fidelity),
                         "cause_service": cause, "fault": phrase,
                         "cause": f"{cause} {component[cause]}: {phrase}", "dependency_failure": reporter != cause})
        event += 1
    incidents = pd.DataFrame(rows[:cfg.n_incidents]).sort_values("minute", kind="stable").reset_index(drop=True)
    incidents.insert(0, "incident", np.arange(len(incidents)))
    return IncidentCorpus(services, incidents)
