"""repro.papers.config: a Config takes exactly its fields, of the right types and in range, or names what is wrong."""
import dataclasses

import pytest

from repro.papers.config import ParameterError, PaperConfig, check_fraction, check_positive


@dataclasses.dataclass(frozen=True)
class DemoConfig(PaperConfig):
    n_seeds: int
    step_size: float
    share: float
    methods: tuple[str, ...]
    sigma: dict[str, float]
    window: tuple[float, float]

    def problems(self):
        return super().problems() + check_positive(self, "n_seeds", "step_size") + check_fraction(self, "share")


GOOD = dict(scale="smoke", seed=0, n_seeds=3, step_size=1e-3, share=0.5, methods=["a", "b"], sigma={"pmc": 1},
            window=[0.25, 4])


def test_a_good_mapping_becomes_a_frozen_config():
    cfg = DemoConfig.from_params(GOOD)
    assert cfg.methods == ("a", "b") and cfg.window == (0.25, 4.0) and cfg.sigma["pmc"] == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_seeds = 4
    assert DemoConfig.from_params(cfg.as_dict()) == cfg


def test_every_bad_parameter_is_named_in_one_message():
    params = {**GOOD, "n_seed": 3, "step_size": "1e-3", "methods": "a"}
    del params["n_seeds"]
    with pytest.raises(ParameterError) as err:
        DemoConfig.from_params(params, where="params.yaml papers.demo")
    text = str(err.value)
    for name in ("papers.demo.n_seed: unknown", "papers.demo.n_seeds: missing", "papers.demo.step_size: expected float",
                 "papers.demo.methods: expected"):
        assert name in text


@pytest.mark.parametrize("change, name", [({"n_seeds": 0}, "n_seeds"), ({"share": 1.5}, "share"),
                                          ({"scale": "medium"}, "scale"), ({"seed": -1}, "seed"),
                                          ({"step_size": -1.0}, "step_size"), ({"n_seeds": True}, "n_seeds")])
def test_out_of_range_values_are_rejected_by_name(change, name):
    with pytest.raises(ParameterError, match=f"\\.{name}: expected"):
        DemoConfig.from_params({**GOOD, **change})


def test_a_notebook_namespace_is_filtered_to_the_fields():
    cfg = DemoConfig.from_namespace({**GOOD, "out_dir": "x", "np": object()})
    assert cfg.n_seeds == 3
