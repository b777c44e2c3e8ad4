"""The offline dataset of the Streetwise study (brief 04 §5, "Offline data"), in Minari's format.

Behaviour data comes from in-distribution regimes only: half of the calls are driven by the GCC-like
:class:`~repro.netsim.policies.DelayGradient`, half by the :class:`~repro.netsim.policies.NoisyOracle` (sigma 0.3)
[our choice of the mix]. :func:`collect` returns the transitions as arrays; :func:`write_minari` stores them as a
Minari dataset (one episode per call, observations with the final one appended, 1-dim actions in [-1, 1]) whose
environment is the registered ``repro/NetsimBWE-v0``; :func:`load_minari` reads one back into IQL's
:class:`~repro.learn.iql.Data`. Minari finds datasets under ``MINARI_DATASETS_PATH``; both functions set it to
``root`` for the duration of the call only.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from repro.core.environ import scoped_environ
from repro.netsim.env import VectorLink, register
from repro.netsim.policies import DelayGradient, NoisyOracle, rollout
from repro.netsim.regimes import make_traces


def collect(n_episodes: int, n_steps: int, rng: np.random.Generator, oracle_sigma: float = 0.3) -> dict:
    """Behaviour transitions of ``n_episodes`` in-distribution calls: arrays (episodes, steps[, dim]) as
    :func:`repro.netsim.policies.rollout` returns them, with ``behaviour`` (episodes,) naming each call's policy."""
    n_gcc = n_episodes // 2
    parts, names = [], []
    for name, controller, n in (("delay-gradient", DelayGradient(), n_gcc),
                                ("noisy-oracle", NoisyOracle(rng, oracle_sigma), n_episodes - n_gcc)):
        if n == 0:
            continue
        parts.append(rollout(VectorLink(make_traces("in-distribution", n, n_steps, rng)), controller))
        names += [name] * n
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    data["behaviour"] = np.array(names)
    return data


def _datasets_path(root):
    return scoped_environ(MINARI_DATASETS_PATH=str(Path(root).resolve()))


def write_minari(data: dict, dataset_id: str, root) -> Path:
    """Store ``data`` (:func:`collect`) as Minari dataset ``dataset_id`` under ``root`` (replacing an old copy)."""
    import minari
    from minari.data_collector import EpisodeBuffer

    env_id = register()
    Path(root).mkdir(parents=True, exist_ok=True)
    with _datasets_path(root):
        from minari.storage import get_dataset_path
        path = Path(get_dataset_path(dataset_id))
        if path.exists():
            shutil.rmtree(path)
        n, steps = data["reward"].shape
        episodes = []
        for i in range(n):
            observations = np.concatenate([data["obs"][i], data["next_obs"][i, -1:]]).astype(np.float32)
            truncations = np.zeros(steps, dtype=bool)
            truncations[-1] = True
            episodes.append(EpisodeBuffer(id=i, observations=observations,
                                          actions=data["action"][i, :, None].astype(np.float32),
                                          rewards=data["reward"][i], terminations=np.zeros(steps, dtype=bool),
                                          truncations=truncations))
        minari.create_dataset_from_buffers(dataset_id, episodes, env=env_id, eval_env=env_id,
                                           algorithm_name="delay-gradient + noisy oracle",
                                           author="repro (Streetwise study)", author_email="none",
                                           description="Streetwise BWE emulator, in-distribution regimes (repro)",
                                           data_format="hdf5")
    return path


def load_minari(dataset_id: str, root):
    """Minari dataset ``dataset_id`` under ``root`` as IQL transitions (``repro.learn.iql.Data``, NumPy arrays)."""
    import minari

    from repro.learn.iql import Data

    with _datasets_path(root):
        dataset = minari.load_dataset(dataset_id)
        fields = {k: [] for k in Data._fields}
        for episode in dataset.iterate_episodes():
            obs = np.asarray(episode.observations)
            fields["obs"].append(obs[:-1])
            fields["next_obs"].append(obs[1:])
            fields["action"].append(np.asarray(episode.actions).reshape(len(obs) - 1, -1))
            fields["reward"].append(np.asarray(episode.rewards))
            fields["done"].append(np.asarray(episode.terminations, dtype=np.float32))
    return Data(*(np.concatenate(fields[k]) for k in Data._fields))
