"""What every other part of ``repro`` shares and that imports nothing of ours (DESIGN.md, "The library").

- :mod:`repro.core.seeds`: one seed scheme, random streams spawned from (seed, named keys).
- :mod:`repro.core.io`: atomic writes (an output is the old file, the new one, or absent).
- :mod:`repro.core.environ`: environment variables set for the duration of a block.
- :mod:`repro.core.backend`: the array namespace, NumPy by default, CuPy when asked for.
- :mod:`repro.core.trace`: the struct-of-arrays request trace that loaders, generators and the replay share.
- :mod:`repro.core.njit_structs`: intrusive doubly linked lists over link tables, for numba kernels.
- :mod:`repro.core.numba_cache`: numba's on-disk cache keyed per kernel module on what it imports.
"""
