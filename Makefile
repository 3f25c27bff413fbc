# `make test` and `make demo` each create .venv and install what they need first.
# TORCH_SPEC picks the torch build: the default is the CPU wheel; a GPU user can pass e.g.
#   make test TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
# EXTRAS: the default installs CuPy for CUDA 12 (the 'cupy' backend and the GPU tests need it; without
# a GPU, the suite still compiles every kernel with its NVRTC). With a CUDA 13 PyTorch pass
# EXTRAS=dev,cuda13 (CuPy has one package per CUDA version; two installed clash).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,cuda
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.snnsk-installed
PYTEST_ARGS ?=

.PHONY: test demo bench install clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH_SPEC)
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	# The reference peers: their declared requirements (torchvision, torchaudio, ...) would pull a
	# multi-GB CUDA torch; their neuron code needs nothing beyond what is installed here.
	$(PIP) install --quiet --no-deps spikingjelly loguru snntorch
	touch $(STAMP)

# The warm-up compiles the numba kernels into their disk cache on two cores first (a fresh checkout
# would otherwise compile them one after the other inside the suite).
test: $(STAMP)
	$(PY) -m snnsk._backends.cpu_warmup
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(VENV)/bin/snnsk demo

bench: $(STAMP)
	$(PY) bench/lif.py

clean:
	rm -rf $(VENV) build *.egg-info
