"""Token-length facts and samplers: committed tables equal the recomputation, copula keeps marginals and rho."""
import numpy as np
import pytest
from scipy import stats

from repro.traces import tokens as tk


def test_committed_facts_equal_what_the_data_gives(data_mirror):
    quantiles, statistics = tk.token_facts_text()
    assert tk.QUANTILES_FILE.read_text() == quantiles
    assert tk.STATS_FILE.read_text() == statistics


def test_facts_name_source_and_licence():
    for f in (tk.QUANTILES_FILE, tk.STATS_FILE):
        head = f.read_text().splitlines()[:5]
        assert any("Source: github.com/Azure/AzurePublicDataset" in line for line in head)
        assert any("CC BY 4.0" in line for line in head)


def test_quantile_tables_are_monotone_and_match_brief_medians():
    s = tk.quantile_tokens()
    for kind, (prompt_median, output_median) in {"conv": (1020, 129), "code": (1469, 13)}.items():
        q = s[kind]
        assert np.all(np.diff(q.prompt_q) >= 0) and np.all(np.diff(q.output_q) >= 0)
        i = int(np.flatnonzero(q.levels == 0.5)[0])
        assert (q.prompt_q[i], q.output_q[i]) == (prompt_median, output_median)
    st = tk.read_token_stats()
    assert st.loc["conv", "rows"] == 19366 and st.loc["code", "rows"] == 8819


def test_copula_sampler_is_deterministic_and_keeps_marginals_and_rank_correlation():
    samplers = tk.quantile_tokens()
    for kind, q in samplers.items():
        a = q.sample(np.random.default_rng(7), 50_000)
        b = q.sample(np.random.default_rng(7), 50_000)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        prompt, output = a
        assert prompt.dtype == np.int32 and prompt.min() >= 1 and output.min() >= 1
        # KS distance to the table's own piecewise-linear CDF
        for x, values in ((prompt, q.prompt_q), (output, q.output_q)):
            assert tk.ks_to_quantile_table(x, q.levels, values) < 0.03, kind
        rho = stats.spearmanr(prompt, output).statistic
        assert abs(rho - q.spearman_rho) < 0.03, (kind, rho, q.spearman_rho)
        mean_p, mean_o = q.mean()
        assert abs(prompt.mean() / mean_p - 1) < 0.02


def test_copula_against_the_real_trace(data_mirror):
    emp = tk.empirical_tokens()
    tab = tk.quantile_tokens()
    rng = np.random.default_rng(0)
    for kind in tk.KINDS:
        prompt, output = tab[kind].sample(rng, 100_000)
        assert stats.ks_2samp(prompt, emp[kind].prompt).statistic < 0.02
        assert stats.ks_2samp(output, emp[kind].output).statistic < 0.02
        assert abs(prompt.mean() / emp[kind].prompt.mean() - 1) < 0.02
        assert abs(output.mean() / emp[kind].output.mean() - 1) < 0.03


def test_empirical_sampler_resamples_pairs(data_mirror):
    emp = tk.token_samplers("trace")["conv"]
    p, o = emp.sample(np.random.default_rng(1), 1000)
    pairs = set(zip(emp.prompt.tolist(), emp.output.tolist()))
    assert all(pair in pairs for pair in zip(p.tolist(), o.tolist()))
    assert tk.token_samplers("auto")["conv"].source.startswith("azure-llm-2023")


def test_auto_falls_back_to_tables_without_data(monkeypatch, tmp_path):
    monkeypatch.delenv("REPRO_DATA_MIRROR", raising=False)
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    assert tk.token_samplers("auto")["code"].source.startswith("quantile table")
    with pytest.raises(ValueError, match="prefer"):
        tk.token_samplers("bogus")
