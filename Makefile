# voicecli — two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install voicecli with its default models, run one spoken exchange
#   make test   install everything the tests need (system packages too) and run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/pip
PY := $(VENV)/bin/python
# llama-cpp-python is built from source. The default native build crashes (SIGSEGV in the AMX
# kernels) on CPUs that report AMX/AVX-512 without usable tiles, so build a portable AVX2 one.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF
PIP_INSTALL := CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install -c constraints.txt

.PHONY: install install-dev system-deps demo test test-fast bench lint clean pipecat-venv

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(VENV)/bin/activate pyproject.toml constraints.txt
	$(PIP_INSTALL) -e '.[serve,webrtc,tools]'
	# Smart Turn v3.2 (semantic end of turn) ships inside pipecat-ai; only its model file is used
	$(PIP) install --no-deps 'pipecat-ai==1.14.0'
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[serve,webrtc,tools,plot,multilingual,dev,wake]'
	# openWakeWord (talk --wake-word): its ONNX models run on onnxruntime; it declares tflite-runtime
	$(PIP) install --no-deps 'openwakeword==0.5.1'
	# openai-agents (the RealtimeRunner row of the client matrix) pins websockets<17, and websockets 16
	# turns a UTF-8 API key into a 401; it works with the websockets the server uses, so no resolver pin
	$(PIP) install --no-deps 'openai-agents==0.24.0' 'griffelib==2.4.1'
	touch $@

# Pipecat's OpenAI Realtime service, for the client-compatibility test (its dependencies conflict
# with voicecli's, so it gets a venv of its own; tests/e2e/serve/test_serve_pipecat.py runs it)
PIPECAT_VENV ?= .venv-pipecat
pipecat-venv: $(PIPECAT_VENV)/.installed
$(PIPECAT_VENV)/.installed:
	$(PYTHON) -m venv $(PIPECAT_VENV)
	$(PIPECAT_VENV)/bin/pip install -q 'pipecat-ai[openai]==1.14.0'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.dev-installed

system-deps:
	bash scripts/install-system-deps.sh

demo: install
	bash scripts/demo.sh

test: system-deps install-dev $(PIPECAT_VENV)/.installed
	bash scripts/run-tests.sh

test-fast: install-dev
	$(PY) -m pytest tests/unit -q

bench: install
	$(VENV)/bin/voicecli bench

# Lint from a light venv of its own (ruff, mypy and the typed libraries), so it runs in seconds
# before the tests and needs no llama.cpp build.
LINT_VENV ?= .venv-lint
$(LINT_VENV)/.installed: requirements-lint.txt
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install -q -r requirements-lint.txt
	touch $@

lint: $(LINT_VENV)/.installed
	$(LINT_VENV)/bin/ruff check voicecli tests benchmarks
	$(LINT_VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(LINT_VENV) test-artifacts .pytest_cache
