# repro — every target sets itself up: a fresh clone needs nothing but python3 ≥ 3.11 and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STUDY ?= study/default.toml
# The CPU build of torch, pinned: an unpinned torch can pull a multi-GB CUDA build.
# On a GPU machine: make setup TORCH=torch==2.13.0 ; elsewhere, if the CPU wheel is not on a
# local find-links path, add TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH ?= torch==2.13.0+cpu
TORCH_INDEX ?=
STAMP := $(VENV)/.installed

.PHONY: setup test test-slurm proptest bench study paper clean-venv help

help:
	@echo "make study   run the study STUDY=$(STUDY) (sets itself up)"
	@echo "make test    run the test suite"
	@echo "make paper   aggregate, render tables/figures, build paper/main.pdf"
	@echo "make bench   benchmarks (metrics, embedding, training throughput, samplers)"
	@echo "make proptest  property tests under the thorough hypothesis profile"

setup: $(STAMP)

# Re-run only when the dependency list changes; a second `make setup` installs nothing.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q -m "not slurm"

# A real single-node SLURM cluster (Debian's slurm-wlm, munge, slurmdbd + MariaDB), started
# for the tests and stopped afterwards whatever their outcome. Needs root (see scripts/README-slurm.md).
test-slurm: $(STAMP)
	scripts/slurm-cluster.sh install
	scripts/slurm-cluster.sh up
	eval "$$(scripts/slurm-cluster.sh env)"; $(PY) -m pytest -q -m slurm tests/slurm; rc=$$?; \
	  scripts/slurm-cluster.sh down; exit $$rc

proptest: $(STAMP)
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -q -m property --hypothesis-show-statistics

bench: $(STAMP)
	$(PY) -m bench

# The study: trains the feature classifier if needed, skips every finished cell, and prints
# where the results are. A rerun of a finished study recomputes nothing.
study: $(STAMP)
	$(PY) -m repro study run $(STUDY)

# Aggregate a study's results, render tables/, figures/, the macros, and build paper/main.pdf
# (installing LaTeX first where it is missing and the machine allows it).
# A study on another data set gets a section of the paper: by default the Fashion-MNIST study
# when its results exist (make study STUDY=study/fashion.toml) and STUDY is not that study.
COMPANION ?= $(if $(and $(wildcard runs/fashion/results.csv),$(filter-out %fashion.toml %fashion-smoke.toml,$(STUDY))),study/fashion.toml,)

paper: $(STAMP)
	scripts/install-latex.sh
	$(PY) -m repro paper --study $(STUDY) $(if $(COMPANION),--companion $(COMPANION))

clean-venv:
	rm -rf $(VENV)
