"""The shared learning stack: JAX + Flax + Optax building blocks that several papers reuse.

DESIGN.md, "Learning stack": neural networks use JAX with Flax and Optax, nothing hand-written that these
libraries provide (no manual backprop, no home-made optimiser); simulators stay in numba.

Modules (each names the paper section it implements):

* :mod:`repro.learn.mlp`      -- the MLP every learner uses, and PRNG keys from the project's seed scheme;
* :mod:`repro.learn.replay`   -- a fixed-capacity replay buffer over NumPy arrays (brief 03 §2, Learner);
* :mod:`repro.learn.dqn`      -- Double DQN with a periodically synced target network (brief 03 §2, A.9.3);
* :mod:`repro.learn.iql`      -- Implicit Q-Learning, Kostrikov et al. 2021 (brief 04 §2, IQL);
* :mod:`repro.learn.protonet` -- a prototypical network trained in episodes (brief 09 §2, Recommender);
* :mod:`repro.learn.autoencoder` -- LSTM and MLP autoencoders over observation windows, the OOD score and its
  in-distribution threshold (brief 04 §2, OOD detector).

**Flax API: ``flax.linen``, not ``flax.nnx``** [our choice]. Linen modules are stateless: parameters are
plain pytrees returned by ``init`` and passed to ``apply``. That is what these learners need: a target
network is just a second pytree (Polyak or periodic copies are ``optax.incremental_update`` /
``optax.periodic_update`` on pytrees), a whole training state is a pytree that ``jax.jit`` and
``jax.lax.scan`` take as is, and training several seeds at once is ``jax.vmap`` over that state with no
lifted transforms (``nnx.vmap``/split-merge). Flax documents that Linen is not going to be deprecated.

Importing :mod:`repro` does not import JAX; only ``repro.learn.*`` does. Random keys come from
:mod:`repro.core.seeds` (:func:`repro.learn.mlp.prng_key`), so the same (seed, keys) gives the same
parameters on every run.

Compile once: importing any ``repro.learn`` module turns on JAX's persistent compilation cache (the counterpart of
numba's on-disk cache, :mod:`repro.core.numba_cache`), so a learner's jitted steps compile once per machine rather
than in every notebook run; ``$REPRO_JAX_CACHE`` names the folder (default ``~/.cache/repro/jax``), an empty
value switches it off. A cached executable is the one the compiler would make again, so numbers do not change.
"""
import os
from pathlib import Path

import jax

#: computations that compile faster than this are not worth a disk entry
MIN_CACHED_COMPILE_S = 0.2


def _use_compilation_cache() -> None:
    folder = os.environ.get("REPRO_JAX_CACHE", str(Path.home() / ".cache" / "repro" / "jax"))
    if folder:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_CACHED_COMPILE_S)


_use_compilation_cache()
