# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first and are
# idempotent: a second run only re-installs when requirements.txt or pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test bench other-data lint clean

setup: system-deps $(STAMP)

system-deps:
	@bash docker/install-system-deps.sh

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: setup
	$(BIN)/animerec demo

# pytest exits 5 when it collected no tests: that is a failure, not a pass.
test: setup
	@$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$status

# Real non-MAL ratings for the issue-5 evaluation: MovieLens-100K read out of the PyPI wheel recbole==1.2.1 into
# data/other/ml-100k.csv (idempotent; recbole is never installed). Then:
#   animerec evaluate --ratings data/other/ml-100k.csv --seed 0 --json
other-data: setup
	$(BIN)/python bench/movielens.py

# Every benchmark, one after the other (tens of minutes); figures are recorded in docs/BENCHMARKS.md.
bench: setup other-data
	$(BIN)/python bench/storage_layout.py
	$(BIN)/python bench/crawl_rate.py
	$(BIN)/python bench/recommender_scale.py --scale 0.1 --factors 64
	$(BIN)/animerec bench all --scales 0.01,0.1

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf data runs reports .pytest_cache .ruff_cache
