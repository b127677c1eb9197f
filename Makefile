# The two commands of the README, each doing all of its set-up on a fresh machine.
#   make demo   fine-tune ibi36 on the embedded sample, forecast, evaluate, print the scorecard
#   make test   run the test suite (what CI runs, after lint)
# On a CPU-only machine torch==2.13.0 is installed first (a CPU wheel); users with GPUs bring
# their own torch build (the package only asks for torch>=2.3,<3).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_DIR ?= runs/demo
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test test-slow lint docs-cli clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml plugins/glonet-regions-ibi36/pyproject.toml \
		plugins/glonet-regions-med24/pyproject.toml
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip install -q --no-deps -e plugins/glonet-regions-ibi36 \
		-e plugins/glonet-regions-med24 -e docs/examples/glonet-regions-example
	touch $@

setup: $(VENV)/.installed

demo: setup
	rm -rf $(RUN_DIR)  # a fresh run each time (finetune refuses to overwrite a run)
	$(BIN)/glonet-regions finetune ibi36 --sample --run-dir $(RUN_DIR)
	# The honest forecast: open boundaries from the (synthetic) global forecast issued on the start date.
	$(BIN)/glonet-regions forecast ibi36 --sample --checkpoint $(RUN_DIR)/checkpoints/best.pt --boundary forecast --out $(RUN_DIR)/forecast.nc
	# The same forecast with perfect (reanalysis) boundaries, only to show what they would add.
	$(BIN)/glonet-regions forecast ibi36 --sample --checkpoint $(RUN_DIR)/checkpoints/best.pt --boundary reanalysis --out $(RUN_DIR)/forecast-idealised.nc
	$(BIN)/glonet-regions evaluate ibi36 --sample --forecast $(RUN_DIR)/forecast-idealised.nc --out $(RUN_DIR)/report-idealised --no-plots --lagrangian-particles 0 > /dev/null
	$(BIN)/glonet-regions evaluate ibi36 --sample --forecast $(RUN_DIR)/forecast.nc --out $(RUN_DIR)/report --compare-scores $(RUN_DIR)/report-idealised/scores.csv

test: setup
	$(BIN)/python -m pytest

test-slow: setup
	$(BIN)/python -m pytest -m "slow"

lint: setup
	$(BIN)/ruff check src tests benchmarks plugins docs/examples docs/gen_cli_reference.py docs/gen_config_reference.py
	$(BIN)/ruff format --check src tests benchmarks plugins docs/examples docs/gen_cli_reference.py docs/gen_config_reference.py
	$(BIN)/mypy

docs-cli: setup
	$(BIN)/python docs/gen_cli_reference.py > docs/reference/cli.md
	$(BIN)/python docs/gen_config_reference.py > docs/reference/config.md

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
