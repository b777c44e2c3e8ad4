"""``python -m repro.tools.router_probe``: where a trained RL router sends requests, against random routing (issue 15).

Trains one router (variant, network, replicate) of ``repro.papers.router`` in one setting, then runs it and uniform
random routing over the legal instances on the first evaluation episodes, and prints per policy: mean E2E, preemptions
per episode, the undiscounted return without guidance (the objective the learner maximises, before scaling), and
the **load rank** of its choices: over decisions with a routed request and at least two legal instances, the rank of
the chosen instance among the legal ones by estimated work left (aux ``A_TOKENS``; 0 = least, 1 = most; ties share
their mean rank). Random routing has an expected load rank of 0.5; a router that packs the busiest instance, near 1.
A learner that loses to random routing on its own return fails its objective; one that wins on the return but
loses on E2E is misled by the reward.
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import rankdata

from repro.papers import router as paper
from repro.papers.config import repo_root, resolve_parameters
from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.routers import RandomLegal, legal_actions
from repro.router.qnet import NETWORKS
from repro.router.train import VARIANTS, greedy_policy, train


def load_ranks(aux: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The load rank (module docstring) of each decision of a step that routes to one of >= 2 legal instances."""
    m = aux.shape[1]
    legal = legal_actions(aux)[:, :m]
    ranks = []
    for b in np.flatnonzero((actions < m) & (legal.sum(axis=1) >= 2)):
        candidates = np.flatnonzero(legal[b])
        rank = rankdata(aux[b, candidates, k.A_TOKENS])
        ranks.append((rank[np.flatnonzero(candidates == actions[b])[0]] - 1) / (len(candidates) - 1))
    return np.asarray(ranks)


def probe(env_cfg: EnvConfig, loads: list, policy) -> dict:
    """Run ``policy`` on one episode per workload (guidance weight 0) and summarise it (module docstring)."""
    env = VectorRouterEnv(env_cfg, len(loads))
    obs, info = env.reset(loads)
    ranks, total = [], np.zeros(len(loads))
    while not env.finished.all():
        active = ~env.finished
        actions = policy(obs, info["aux"])
        ranks.append(load_ranks(info["aux"], np.where(obs[:, -3] > 0, actions, env.m)))
        obs, reward, _, _, info = env.step(actions)
        total += np.where(active, reward, 0.0)
    metrics = env.episode_metrics()
    ranks = np.concatenate(ranks)
    return {"e2e_mean": metrics["e2e_mean"].mean(), "preemptions": metrics["preemptions"].mean(),
            "return": total.mean(), "load_rank": ranks.mean() if len(ranks) else np.nan, "decisions": len(ranks)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", default=paper.HEADLINE, choices=sorted(paper.SETTINGS))
    parser.add_argument("--variant", default="guided", choices=VARIANTS)
    parser.add_argument("--network", default=None, choices=NETWORKS, help="default: params.yaml's")
    parser.add_argument("--replicate", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes (default 10)")
    parser.add_argument("--scale", default="full", choices=("full", "smoke"))
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    overrides = {"network": args.network} if args.network else {}
    cfg = paper.Config.from_params(resolve_parameters(paper.SLUG, repo_root(), args.scale, args.seed, overrides))
    env_cfg, loads = paper.env_config(cfg, args.setting), paper.eval_workloads(cfg, args.setting)[:args.episodes]

    def round_workloads(r):
        episodes = range(r * cfg.parallel_episodes, (r + 1) * cfg.parallel_episodes)
        return paper.setting_workloads(cfg, args.setting, ("router-train", args.replicate), episodes)

    agent, weights, _ = train(args.variant, env_cfg, paper.train_config(cfg), round_workloads, cfg.seed, args.replicate)
    random_router = RandomLegal(cfg.seed)
    random_router.reset(len(loads))
    rows = {"Random": probe(env_cfg, loads, random_router.act),
            f"{paper.NAMES[args.variant]} ({cfg.network}, replicate {args.replicate})":
                probe(env_cfg, loads, greedy_policy(agent, weights))}
    print(f"{args.setting}, {len(loads)} evaluation episodes, seed {cfg.seed}")
    for name, row in rows.items():
        print(f"{name:52s} mean E2E {row['e2e_mean']:7.2f} s  preemptions {row['preemptions']:7.1f}  "
              f"return {row['return']:.4g}  load rank {row['load_rank']:.2f} ({row['decisions']} decisions)")


if __name__ == "__main__":
    main()
