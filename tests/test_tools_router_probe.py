"""repro.tools.router_probe: the load rank of a routing choice among the legal instances, and a smoke-scale probe."""
import numpy as np

from repro.router import cluster as k
from repro.tools.router_probe import load_ranks, main


def aux_of(tokens, fits):
    aux = np.zeros((len(tokens), len(tokens[0]), k.N_AUX))
    aux[:, :, k.A_TOKENS], aux[:, :, k.A_FITS] = tokens, fits
    return aux


def test_load_rank_counts_legal_instances_only_and_shares_ties():
    aux = aux_of([[5, 1, 9, 3], [5, 1, 9, 3], [2, 2, 7, 0], [4, 4, 4, 4], [1, 2, 3, 4]],
                 [[1, 1, 1, 0], [1, 1, 0, 1], [1, 1, 1, 1], [0, 0, 1, 0], [1, 1, 1, 1]])
    actions = np.array([2, 0, 1, 2, 4])                  # the last waits, the fourth has one legal instance only
    np.testing.assert_allclose(load_ranks(aux, actions), [1.0, 1.0, (2.5 - 1) / 3])


def test_uniform_random_choices_have_a_mean_load_rank_near_one_half():
    gen = np.random.default_rng(0)
    aux = aux_of(gen.random((4000, 4)), np.ones((4000, 4)))
    assert abs(load_ranks(aux, gen.integers(0, 4, 4000)).mean() - 0.5) < 0.02


def test_a_smoke_probe_prints_both_policies(capsys):
    main(["--scale", "smoke", "--variant", "baseline", "--episodes", "2"])
    out = capsys.readouterr().out
    assert "Random" in out and "Baseline RL (shared-instance, replicate 0)" in out and "load rank" in out
