# Two commands on a fresh clone: `make demo` and `make test` (both create .venv on first use).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := data/demo

.PHONY: install demo test lint format bench bench-peers bench-accuracy bench-ablation bench-formats bench-pruning screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
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
	$(BIN)/python benchmarks/ablation.py models/bench-cifar10-mini/study.db --control-seeds 3

bench-formats: install ## SavedModel vs TFLite of the bench-accuracy export
	$(BIN)/python benchmarks/export_formats.py models/bench-cifar10-mini/searched --prepared studies/cifar10-mini/prepared-32px

bench-pruning: install ## successive halving vs. no pruner on cifar10-mini (about 90 min on 2 CPUs)
	$(BIN)/python benchmarks/pruning.py --n-trials 16 --max-epochs 20 --pruner successive_halving --min-resource 1 --reduction-factor 3 --bootstrap-count 0

screenshots: install ## docs/*.png of the cifar10-mini benchmark study (run benchmarks/accuracy_cifar10_mini.py first)
	$(BIN)/python docs/screenshots.py studies/cifar10-mini.toml --storage sqlite:///$(CURDIR)/models/bench-cifar10-mini/study.db

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
