"""The LLM request router of brief 03 (Jain et al., arXiv:2408.13510): a batched numba cluster model and its
plain-Python twin (:mod:`.cluster`, :mod:`.reference`), the V100-like service model (:mod:`.service`), the synthetic
task mix and emulated predictor (:mod:`.workload`), a gymnasium-style vector environment (:mod:`.env`), the classical
routers (:mod:`.routers`), episode rollouts (:mod:`.evaluate`) and the Double DQN routers (:mod:`.train`)."""
