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
TONIC_SPEC ?= tonic==1.7.0
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
	# The [events] extra: tonic's declared requirements add librosa and its audio stack
	# (soundfile, soxr, audioread, pooch, ...), which tonic imports only for its audio
	# transforms; `import tonic` and its dataset classes need h5py, importRosbag and requests.
	$(PIP) install --quiet "h5py>=3.8" "importRosbag>=1.0.4" "requests>=2"
	$(PIP) install --quiet --no-deps $(TONIC_SPEC)
	touch $(STAMP)

# The warm-up compiles the numba kernels into their disk cache on two cores first (a fresh checkout
# would otherwise compile them one after the other inside the suite).
test: $(STAMP)
	$(PY) -m snnsk.core.backends.cpu_warmup
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(VENV)/bin/snnsk demo

bench: $(STAMP)
	$(PY) bench/lif.py

clean:
	rm -rf $(VENV) build *.egg-info
