"""The synthetic survey of first-party workloads (brief 07 §1 C1-C2, §2 "Synthetic fleet"; brief 08 §2 hints).

188 workloads answer yes/no questions. Five answers have published marginals (Workload Intelligence's summary
of the same survey, :data:`SURVEY_SHARES`); three more are [our choice] (:data:`OUR_SHARES`): whether the
workload is user-facing (it drives the diurnal CPU pattern), region-agnostic and able to scale out.

The answers are drawn by a Gaussian copula: latent normals with correlation :func:`copula_correlation`
(0.3 between preemptible, stateless and migratable: brief 07; -0.5 between delay-tolerant and user-facing:
[our choice]; 0 elsewhere), and a workload answers "yes" to question k when its latent value is among the
``round(share_k * n)`` largest (quotas: the sampled shares equal the inputs up to rounding, so C2 is by
construction). VMs per workload follow Zipf's law (rank ** -exponent) over a random order of workloads, with
at least one VM each and exactly ``n_vms`` in total; a workload spans ``ceil(49 * sqrt(vms / max vms))`` of
the 49 regions (the largest spans all).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from repro.core import seeds

SURVEY_SHARES = {"stateless": 0.629, "low_availability": 0.628, "preemptible": 0.606, "delay_tolerant": 0.25,
                 "migratable": 0.614}
"""[paper] shares answering "at least partly" (stateless, preemptible, migratable), "<= 3 nines" (low_availability)
and delay-tolerant: Workload Intelligence (arXiv:2404.19143) summarising the survey of arXiv:2405.07250."""
OUR_SHARES = {"user_facing": 0.45, "region_agnostic": 0.35, "scale_out": 0.55}
"""[our choice] shares of answers the summaries do not give."""
QUESTIONS = (*SURVEY_SHARES, *OUR_SHARES)
COPULA_GROUP = ("preemptible", "stateless", "migratable")
DELAY_USER_RHO = -0.5  # [our choice] delay-tolerant workloads are rarely user-facing


def copula_correlation(rho: float) -> np.ndarray:
    """Latent correlation matrix over :data:`QUESTIONS` (rows/columns in that order)."""
    index = {q: i for i, q in enumerate(QUESTIONS)}
    corr = np.eye(len(QUESTIONS))
    for a in COPULA_GROUP:
        for b in COPULA_GROUP:
            if a != b:
                corr[index[a], index[b]] = rho
    i, j = index["delay_tolerant"], index["user_facing"]
    corr[i, j] = corr[j, i] = DELAY_USER_RHO
    return corr


def quota_answers(latent: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """(n, k) bool: column k is True for the ``round(shares[k] * n)`` rows with the largest latent value."""
    n = latent.shape[0]
    order = np.argsort(-latent, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n)[:, None].repeat(latent.shape[1], axis=1), axis=0)
    return ranks < np.round(np.asarray(shares) * n).astype(int)[None, :]


def zipf_counts(n_items: int, total: int, exponent: float) -> np.ndarray:
    """Integer counts >= 1 summing to ``total``, proportional to rank ** -exponent (largest remainder)."""
    if total < n_items:
        raise ValueError(f"n_vms={total}: expected at least one VM per workload ({n_items})")
    weight = np.arange(1, n_items + 1, dtype=float) ** -exponent
    share = (total - n_items) * weight / weight.sum()
    counts = np.floor(share).astype(np.int64)
    remainder = total - n_items - counts.sum()
    counts[np.argsort(-(share - counts), kind="stable")[:remainder]] += 1
    return counts + 1


def draw_survey(n_workloads: int, n_vms: int, n_regions: int, zipf_exponent: float, copula_rho: float,
           seed: int) -> pd.DataFrame:
    """One row per workload: workload, one bool column per question, vms, regions (how many it spans)."""
    rng = seeds.rng(seed, "fleet", "survey")
    shares = np.array([{**SURVEY_SHARES, **OUR_SHARES}[q] for q in QUESTIONS])
    latent = stats.multivariate_normal(cov=copula_correlation(copula_rho)).rvs(n_workloads, random_state=rng)
    answers = quota_answers(np.asarray(latent).reshape(n_workloads, len(QUESTIONS)), shares)
    vms = zipf_counts(n_workloads, n_vms, zipf_exponent)[rng.permutation(n_workloads)]
    regions = np.clip(np.ceil(n_regions * np.sqrt(vms / vms.max())), 1, n_regions).astype(np.int64)
    table = pd.DataFrame(answers, columns=list(QUESTIONS))
    table.insert(0, "workload", np.arange(n_workloads))
    table["vms"] = vms
    table["regions"] = regions
    return table


def answer_shares(workloads: pd.DataFrame) -> pd.DataFrame:
    """One row per question: input share, sampled share (workloads), VM-weighted share, source."""
    rows = []
    for q in QUESTIONS:
        target = {**SURVEY_SHARES, **OUR_SHARES}[q]
        rows.append({"question": q, "input": target, "sampled": float(workloads[q].mean()),
                     "vm_weighted": float(np.average(workloads[q], weights=workloads["vms"])),
                     "source": "paper" if q in SURVEY_SHARES else "our choice"})
    return pd.DataFrame(rows)
