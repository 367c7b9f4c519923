# Shebao Assistant. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VAR      ?= var
VENV     := $(VAR)/venv
PY       := $(VENV)/bin/python
RASA     := $(VENV)/bin/rasa
INSTALLED:= $(VENV)/.installed
PIPELINE := $(VAR)/spacy/zh_shebao/shebao.fingerprint
MODELS   := $(VAR)/models
MODEL    := $(MODELS)/.trained
REPORTS  := $(VAR)/reports
# Locust runs from its own environment (bench/locust-constraints.txt), as a subprocess.
LOCUST_VENV := $(VAR)/locust-venv
LOCUST   := $(LOCUST_VENV)/bin/locust
PY_PACKAGES := bot actions backend common web tools console
# Rasa reads data/ recursively (data/nlu/<topic>.yml, data/rules/..., data/stories/...).
TRAIN_INPUTS := config.yml domain.yml $(shell find data -name '*.yml') $(PIPELINE) $(wildcard bot/nlu/*.py) bot/metrics.py

export SHEBAO_VAR_DIR     ?= $(abspath $(VAR))
export SHEBAO_ACTIONS_URL ?= http://127.0.0.1:5055
export SHEBAO_TRACKER_URL ?= sqlite:///$(abspath $(VAR))/tracker.sqlite3
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Rasa would otherwise send telemetry and crash reports over the network.
export RASA_TELEMETRY_ENABLED ?= false
export RASA_CACHE_DIRECTORY ?= $(abspath $(VAR))/rasa-cache
export PYTHONPATH := $(CURDIR)

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# ---- set-up -------------------------------------------------------------------
$(INSTALLED): requirements.in constraints.txt scripts/find-python.sh
	@mkdir -p $(VAR)
	@if [ ! -x $(PY) ]; then \
	  py=$$(scripts/find-python.sh) || exit 1; \
	  echo ">> creating virtual environment with $$py"; \
	  "$$py" -m venv $(VENV); \
	fi
	@echo ">> installing pinned dependencies (first run takes a few minutes)"
	$(PY) -m pip install --progress-bar on --upgrade pip==24.3.1 -c constraints.txt
	$(PY) -m pip install --progress-bar on -r requirements.in -c constraints.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	@touch $@

.PHONY: install
install: $(INSTALLED) ## Create the virtual environment and install pinned dependencies

$(LOCUST): bench/locust-constraints.txt scripts/find-python.sh
	@mkdir -p $(VAR)
	@if [ ! -x $(LOCUST_VENV)/bin/python ]; then \
	  py=$$(scripts/find-python.sh) || exit 1; \
	  echo ">> creating Locust's virtual environment with $$py"; \
	  "$$py" -m venv $(LOCUST_VENV); \
	fi
	$(LOCUST_VENV)/bin/python -m pip install --progress-bar off --upgrade pip==24.3.1
	$(LOCUST_VENV)/bin/python -m pip install --progress-bar off locust -c bench/locust-constraints.txt
	@touch $@

.PHONY: locust-venv
locust-venv: $(LOCUST) ## Locust in its own virtual environment (var/locust-venv), for the load tests

$(PIPELINE): $(INSTALLED) $(wildcard bot/language/*.py) common/language.py common/vocabulary.py
	$(PY) -m bot.language.pipeline $(VAR)/spacy/zh_shebao

.PHONY: pipeline
pipeline: $(PIPELINE) ## Build the spaCy pipeline (jieba + domain entity ruler) from code

$(MODEL): $(INSTALLED) $(TRAIN_INPUTS)
	@echo ">> training the model (only when data, domain, config or our NLU components changed)"
	$(RASA) train --force --config config.yml --domain domain.yml --data data --out $(MODELS) --fixed-model-name shebao
	@touch $@

.PHONY: train
train: $(MODEL) ## Train the model if its inputs changed

WEB_VENDOR := web/vendor/socket.io.min.js
$(WEB_VENDOR): web/package.json web/package-lock.json
	@echo ">> installing the widget's front-end dependencies (npm registry, lock file)"
	npm ci --prefix web --no-audit --no-fund
	mkdir -p web/vendor
	cp web/node_modules/socket.io-client/dist/socket.io.min.js web/node_modules/socket.io-client/dist/socket.io.min.js.map web/vendor/

.PHONY: web-assets
web-assets: $(WEB_VENDOR) ## Vendor the widget's socket.io client from npm (no CDN)

CONSOLE_VENDOR := console/static/vendor/chart.umd.js
$(CONSOLE_VENDOR): console/package.json console/package-lock.json
	@echo ">> installing the review console's Chart.js (npm registry, lock file)"
	npm ci --prefix console --no-audit --no-fund
	mkdir -p console/static/vendor
	cp console/node_modules/chart.js/dist/chart.umd.js console/static/vendor/

.PHONY: console-assets
console-assets: $(CONSOLE_VENDOR) ## Vendor the review console's Chart.js from npm (no CDN)

.PHONY: browser
browser: ## Install Debian's Chromium for the browser tests (if missing)
	@command -v chromium >/dev/null 2>&1 || { \
	  echo ">> installing Debian's chromium (browser tests)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk; }

.PHONY: nginx
nginx: ## Install Debian's nginx for the scaled topology (if missing; its system service is not used)
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  echo ">> installing Debian's nginx (scaled topology; tools.scaled runs it as you)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx && \
	  { systemctl disable --now nginx >/dev/null 2>&1 || service nginx stop >/dev/null 2>&1 || true; }; }

.PHONY: setup
setup: $(INSTALLED) $(PIPELINE) $(MODEL) $(WEB_VENDOR) $(CONSOLE_VENDOR) ## Everything `run` and `test` need

# ---- run ----------------------------------------------------------------------
.PHONY: run
run: setup ## Run the whole assistant on localhost (Ctrl-C stops it)
	$(PY) -m tools.devstack

REPLICAS ?= 2
ACTIONS  ?= 2
.PHONY: run-scaled
# The tracker store is PostgreSQL here: the exported SQLite default is blanked.
run-scaled: setup nginx ## nginx in front of REPLICAS Rasa and ACTIONS action servers (default 2/2), PostgreSQL, Redis, RabbitMQ (Ctrl-C stops it)
	SHEBAO_TRACKER_URL= $(PY) -m tools.scaled --replicas $(REPLICAS) --actions $(ACTIONS)

# ---- checks -------------------------------------------------------------------
.PHONY: validate
validate: $(INSTALLED) $(PIPELINE) ## rasa data validate (warnings fail)
	scripts/validate-data.sh $(RASA) --config config.yml --domain domain.yml --data data

.PHONY: test-unit
# Tests that need no running assistant (a real backend on a local port is fine).
UNIT_TESTS := tests/common tests/nlu tests/bot tests/domain tests/actions tests/backend tests/channels tests/tools tests/console tests/deploy tests/bench tests/test_architecture.py tests/test_configuration_docs.py

test-unit: $(INSTALLED) $(PIPELINE) ## Unit tests of every package, the backend API on SQLite and PostgreSQL
	$(PY) -m pytest $(UNIT_TESTS) -q -m "not stack"

.PHONY: test-stories
test-stories: setup ## End-to-end test stories (fails on any failed story)
	$(RASA) test core --model $(MODELS) --stories tests/stories --fail-on-prediction-errors --out $(REPORTS)/stories

.PHONY: test-nlu
test-nlu: setup ## NLU evaluation on the held-out set, F1 per language
	$(PY) -m tools.nlu_evaluate --model $(MODELS) --data tests/nlu_heldout.yml --out $(REPORTS)/nlu

.PHONY: test-conversations
test-conversations: setup ## Held-out and development conversations (tests/conversations_heldout, tests/conversations_dev) against a running stack, gated pass/wrong rates
	$(PY) -m pytest tests/e2e/test_conversations_heldout.py tests/e2e/test_conversations_dev.py -q

.PHONY: test-integration
# One pytest session, so the attack suite, the end-to-end tests and the browser
# tests share one running stack.
test-integration: setup browser $(LOCUST) ## The running assistant over real HTTP (WeChat included), the attack suite, a real browser
	$(PY) -m pytest tests/e2e tests/security tests/web tests/console -q --ignore=tests/e2e/test_conversations_heldout.py --ignore=tests/e2e/test_conversations_dev.py

.PHONY: test-security
test-security: setup ## Only the attack suite (tests/security), against a running stack
	$(PY) -m pytest tests/security -q

.PHONY: test-scaled
test-scaled: setup nginx $(LOCUST) ## The scaled topology through nginx (2 Rasa, 2 action servers) on throw-away databases, its load and fault tests
	SHEBAO_TRACKER_URL= $(PY) -m pytest tests/scaled -q -m scaled

.PHONY: test
test: setup lint typecheck validate test-unit test-stories test-nlu test-conversations test-integration test-scaled ## The whole suite

.PHONY: bench
bench: setup nginx $(LOCUST) ## Benchmark against a stock `rasa init` bot (latency, throughput, growth, store size, memory), then the replica figures (bench-replicas)
	$(PY) -m bench.run_bench
	SHEBAO_TRACKER_URL= $(PY) -m bench.replicas --topologies stock,single,replicas-1,replicas-2

.PHONY: test-load
test-load: setup $(LOCUST) ## Only the load test: 50 Locust residents, then the "nothing lost" check of the store
	$(PY) -m pytest tests/e2e/test_load_consistency.py -q

.PHONY: bench-load
bench-load: setup $(LOCUST) ## Throughput (turns/s, p50/p95) and CPU per process with Locust: stock bot vs ours
	$(PY) -m bench.replicas --topologies stock,single

.PHONY: bench-replicas
bench-replicas: setup nginx $(LOCUST) ## Stock bot, our stack, 1 and 2 scaled Rasa replicas in one run; the 2/1 ratio and a 4/16-replica cluster model
	SHEBAO_TRACKER_URL= $(PY) -m bench.replicas --topologies stock,single,replicas-1,replicas-2

.PHONY: bench-console
bench-console: $(INSTALLED) ## Review console queries at 100 000 conversations (SQLite and PostgreSQL)
	$(PY) -m bench.console_bench

.PHONY: lint
lint: $(INSTALLED) ## ruff (pyflakes, pycodestyle, import order) on our code
	$(VENV)/bin/ruff check $(PY_PACKAGES) tests bench
	$(VENV)/bin/ruff format --check $(PY_PACKAGES) tests bench

.PHONY: typecheck
typecheck: $(INSTALLED) ## mypy on every deployable and the shared package
	$(VENV)/bin/mypy

.PHONY: check
check: lint typecheck $(PIPELINE) ## The inner loop: lint, types and the unit tests (under a minute, no model)
	$(PY) -m pytest $(UNIT_TESTS) -q -x -m "not stack"

.PHONY: clean
clean: ## Remove models, databases, logs and reports (keeps the venv)
	rm -rf $(MODELS) $(REPORTS) $(VAR)/logs $(VAR)/test-runs $(VAR)/artifacts $(VAR)/*.sqlite3
