"""The shared learning stack: JAX + Flax + Optax building blocks that several papers reuse.

DESIGN.md, "Learning stack": neural networks use JAX with Flax and Optax, nothing hand-written that these
libraries provide (no manual backprop, no home-made optimiser); simulators stay in numba.

Modules (each names the paper section it implements):

* :mod:`repro.learn.mlp`      -- the MLP every learner uses, and PRNG keys from the project's seed scheme;
* :mod:`repro.learn.replay`   -- a fixed-capacity replay buffer over NumPy arrays (brief 03 §2, Learner);
* :mod:`repro.learn.dqn`      -- Double DQN with a periodically synced target network (brief 03 §2, A.9.3);
* :mod:`repro.learn.iql`      -- Implicit Q-Learning, Kostrikov et al. 2021 (brief 04 §2, IQL);
* :mod:`repro.learn.protonet` -- a prototypical network trained in episodes (brief 09 §2, Recommender).

**Flax API: ``flax.linen``, not ``flax.nnx``** [our choice]. Linen modules are stateless: parameters are
plain pytrees returned by ``init`` and passed to ``apply``. That is what these learners need: a target
network is just a second pytree (Polyak or periodic copies are ``optax.incremental_update`` /
``optax.periodic_update`` on pytrees), a whole training state is a pytree that ``jax.jit`` and
``jax.lax.scan`` take as is, and training several seeds at once is ``jax.vmap`` over that state with no
lifted transforms (``nnx.vmap``/split-merge). Flax documents that Linen is not going to be deprecated.

Importing :mod:`repro` does not import JAX; only ``repro.learn.*`` does. Random keys come from
:mod:`repro.core.seeds` (:func:`repro.learn.mlp.prng_key`), so the same (seed, keys) gives the same
parameters on every run.
"""
