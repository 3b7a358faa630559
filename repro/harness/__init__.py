"""Studies: the spec and its content-hashed cells, the store, the executors (in-process, local pool, SLURM) and the run."""
