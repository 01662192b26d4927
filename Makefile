# Two commands on a fresh clone: `make demo` and `make test` (both create .venv on first use).
# Another Python: PYTHON=python3.12 make demo. TensorFlow build: TF=cpu or TF=gpu (default: gpu
# where nvidia-smi is found). Versions come from constraints/py3XX.txt (`make lock` refreshes it).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := data/demo
TF     ?= $(if $(shell command -v nvidia-smi 2>/dev/null),gpu,cpu)
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
LOCK   := constraints/py$(subst .,,$(PYVER)).txt
# the build the other extra would bring: it must go before this one is installed (same files)
# hpo's version, written once in pyproject.toml: the image tags (make .env, make image, make k8s-image)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
KUBECTL ?= kubectl
OTHER_TF := $(if $(filter gpu,$(TF)),tensorflow-cpu,$(if $(filter x86_64 AMD64,$(shell uname -m)),tensorflow))

# Check the interpreter before anything is created, in one line (TensorFlow 2.21 has wheels for 3.10-3.13)
ifeq ($(wildcard $(BIN)/python),)
ifneq ($(or $(filter-out clean lock .env version image k8s-image k8s-apply,$(MAKECMDGOALS)),$(if $(MAKECMDGOALS),,all)),)
ifeq ($(filter 3.10 3.11 3.12 3.13,$(PYVER)),)
$(error hpo: error: $(PYTHON) is $(if $(PYVER),Python $(PYVER),missing or broken); hpo needs Python 3.10 to 3.13 (TensorFlow 2.21's wheels) — install one and run e.g. PYTHON=python3.12 make $(or $(MAKECMDGOALS),install))
endif
ifneq ($(shell $(PYTHON) -c 'import ensurepip' 2>/dev/null && echo ok),ok)
$(error hpo: error: $(PYTHON) (Python $(PYVER)) cannot create a virtual environment — install its venv module (Debian/Ubuntu: sudo apt install python$(PYVER)-venv) and run make again)
endif
endif
endif

.PHONY: install demo test lint format lock wheel dist version image k8s-image k8s-apply bench bench-peers bench-accuracy bench-ablation bench-formats bench-pruning screenshots clean

$(STAMP): pyproject.toml $(wildcard $(LOCK))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(OTHER_TF),-$(BIN)/python -m pip uninstall --quiet --yes $(OTHER_TF) 2>/dev/null)
	$(BIN)/python -m pip install --quiet -e '.[dev,$(TF)]' $(if $(wildcard $(LOCK)),-c $(LOCK))
	touch $(STAMP)

install: $(STAMP) ## create .venv and install hpo with its dev tools

demo: install ## synthetic images -> search on embedded SQLite -> exported SavedModel -> predict
	$(BIN)/hpo data synth $(DEMO)/images --classes 10 --per-class 120 --image-size 48
	$(BIN)/hpo search studies/demo.toml
	$(BIN)/hpo export studies/demo.toml --out models/demo
	$(BIN)/hpo predict models/demo $(DEMO)/images/circle/0000.jpg $(DEMO)/images/square/0001.jpg $(DEMO)/images/vbars/0002.jpg
	$(BIN)/hpo report studies/demo.toml
	@echo "Watch it live: $(BIN)/hpo dashboard studies/demo.toml   (http://127.0.0.1:8080)"
	@echo "SavedModel: models/demo/saved_model"

test: install ## the whole test suite (what .ci/run runs)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: install ## ruff + mypy
	$(BIN)/ruff check hpo tests benchmarks
	$(BIN)/ruff format --check hpo tests benchmarks
	$(BIN)/mypy

format: install
	$(BIN)/ruff format hpo tests benchmarks
	$(BIN)/ruff check --fix hpo tests benchmarks

bench: install ## quick benchmarks; results go into BENCHMARKS.md by hand, with machine and date
	$(BIN)/python benchmarks/data_pipeline.py

bench-accuracy: install ## search + export vs. baseline on cifar10-mini (~45 min on 2 CPUs)
	$(BIN)/python benchmarks/accuracy_cifar10_mini.py

bench-peers: install ## hpo (bench-accuracy) vs KerasTuner Hyperband, same splits and deadline (~65 min on 2 CPUs)
	$(BIN)/python benchmarks/peers.py

bench-ablation: install ## after bench-accuracy: which of the best trial's choices mattered (~7 min per choice on 2 CPUs)
	$(BIN)/hpo ablate studies/cifar10-mini.toml --storage sqlite:///models/bench-cifar10-mini/study.db --seeds 3

bench-formats: install ## SavedModel vs TFLite of the bench-accuracy export
	$(BIN)/python benchmarks/export_formats.py models/bench-cifar10-mini/searched --prepared studies/cifar10-mini/prepared-32px

bench-pruning: install ## successive halving vs. no pruner on cifar10-mini (about 90 min on 2 CPUs)
	$(BIN)/python benchmarks/pruning.py --n-trials 16 --max-epochs 20 --pruner successive_halving --min-resource 1 --reduction-factor 3 --bootstrap-count 0

screenshots: install ## docs/*.png of the cifar10-mini benchmark study (run benchmarks/accuracy_cifar10_mini.py first)
	$(BIN)/python docs/screenshots.py studies/cifar10-mini.toml --storage sqlite:///$(CURDIR)/models/bench-cifar10-mini/study.db

lock: ## refresh constraints/py3XX.txt from pip's resolver (needs the package index), then commit them
	$(PYTHON) benchmarks/check_install.py lock

wheel: ## dist/hpo_keras-*.whl, e.g. to upload to Colab (notebooks/animals10_colab.ipynb installs it); no venv needed
	$(PYTHON) -m pip wheel --quiet --no-deps --wheel-dir dist .

dist: install ## sdist + wheel in dist/, built in isolation (python -m build)
	$(BIN)/python -m build --outdir dist .

version: ## print hpo's version (pyproject.toml)
	@echo $(VERSION)

image: ## docker build -t hpo-worker:VERSION .
	docker build -t hpo-worker:$(VERSION) .

k8s-image: image ## push the image to REGISTRY and name it in deploy/k8s/image (REGISTRY=registry.example.com/team)
	@test -n "$(REGISTRY)" || { echo "hpo: error: set REGISTRY, e.g. make k8s-image REGISTRY=registry.example.com/team" >&2; exit 2; }
	docker tag hpo-worker:$(VERSION) $(REGISTRY)/hpo-worker:$(VERSION)
	docker push $(REGISTRY)/hpo-worker:$(VERSION)
	cd deploy/k8s/image && kustomize edit set image hpo-worker=$(REGISTRY)/hpo-worker:$(VERSION)

k8s-apply: ## apply deploy/k8s; after a study edit the workers' Job is re-created (Postgres and the study stay)
	$(KUBECTL) -n hpo delete job hpo-workers --ignore-not-found && $(KUBECTL) apply -k deploy/k8s

# the worker profile of a new .env: gpus-N for the GPUs nvidia-smi lists (at most 4), else cpu
GPUS := $(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU')
PROFILE := $(if $(filter-out 0,$(GPUS)),gpus-$(if $(filter 1 2 3,$(GPUS)),$(GPUS),4),cpu)

.env: pyproject.toml ## docker compose's settings from .env.example: uid/gid, a random password, the image tag; later runs update the tag only
	@if [ -f $@ ]; then \
	  sed -i -e "s/^HPO_VERSION=.*/HPO_VERSION=$(VERSION)/" $@ && touch $@ && echo "updated HPO_VERSION=$(VERSION) in .env"; \
	else \
	  sed -e "s/^HPO_UID=.*/HPO_UID=$$(id -u)/" -e "s/^HPO_GID=.*/HPO_GID=$$(id -g)/" -e "s/^HPO_VERSION=.*/HPO_VERSION=$(VERSION)/" \
	      -e "s/^COMPOSE_PROFILES=.*/COMPOSE_PROFILES=$(PROFILE)/" \
	      -e "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=$$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')/" .env.example > $@; \
	  echo "wrote .env (HPO_UID=$$(id -u), a new POSTGRES_PASSWORD, COMPOSE_PROFILES=$(PROFILE), HPO_VERSION=$(VERSION))"; \
	fi

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
