# npukernel — the two commands a newcomer needs:
#   make run    set everything up, then open JupyterLab on tutorials/ (NPU kernel)
#   make test   set everything up, then run the whole test suite (what CI runs)
# Everything lives in .venv; nothing outside the repository is touched except the
# numba/kernel cache in ~/.cache/npukernel.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
LAB    := $(VENV)/.lab-installed
# jupyter lab refuses to run as root without this flag.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: run demo test test-fast test-nojit lint warm lab chromium bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev]"
	touch $(STAMP)

# Compile the kernels a first session needs, so the first cell does not sit compiling.
warm: $(STAMP)
	$(PY) -m npukernel.warmup

# JupyterLab on the tutorials, with the "Python 3 (NPU)" kernel (the notebooks ask for it,
# and it is the default for new ones).
run: warm lab
	$(VENV)/bin/jupyter lab --notebook-dir tutorials \
		--MappingKernelManager.default_kernel_name=npu $(ROOT_FLAG)

# The terminal demo: an MLP on digits, the chip profile and the top ops.
demo: warm
	$(PY) -m npukernel.demo

# The JupyterLab extension (lab_ext/): jlpm (bundled with JupyterLab) fetches the npm
# packages pinned in lab_ext/yarn.lock, the builder bundles them, pip installs the
# prebuilt extension and the server extension into .venv.
$(LAB): $(STAMP) lab_ext/pyproject.toml lab_ext/package.json lab_ext/yarn.lock \
		$(wildcard lab_ext/src/*.ts lab_ext/style/* lab_ext/npukernel_lab/*.py)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PIP) install --quiet --no-build-isolation ./lab_ext
	touch $(LAB)

lab: $(LAB)

# Debian's Chromium for the real-browser tests (playwright drives /usr/bin/chromium;
# it never downloads a browser of its own).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
		else echo "chromium missing and not root: browser tests will be skipped"; fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

test: lint warm lab chromium
	$(PY) -m pytest -q -n 2 --dist loadgroup
	$(MAKE) test-nojit

# Fast subset for development: skips tests marked slow.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x

# The op suite with numba's JIT off: every kernel runs as plain Python, as a student
# stepping through it in a debugger would see it.
test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 $(PY) -m pytest -q -p no:cacheprovider tests/ops/test_registry.py tests/ops/test_properties.py tests/test_tensor_autograd.py tests/graph/test_jit.py

bench: $(STAMP)
	$(PY) benchmarks/kernels.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
