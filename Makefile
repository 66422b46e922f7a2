# buslane: `make setup` then `make demo`; `make test` runs the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
BUSLANE := $(VENV)/bin/buslane
SHARED ?= ../shared
DEMO_DB ?= var/demo.duckdb

.PHONY: setup demo test bench report contraventions

setup: $(VENV)/.installed

# torch comes from this machine's local wheel cache (CPU work only); the rest from PyPI.
$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: setup
	mkdir -p var
	$(BUSLANE) process sites/shenzhen_buslane.yaml $(SHARED)/data/footage/shenzhen_buslane_fixed_cctv_640x360.mp4 --db $(DEMO_DB) --start 2016-03-18T12:21:25
	$(BUSLANE) contraventions --db $(DEMO_DB)
	$(BUSLANE) report --db $(DEMO_DB)

test: setup
	$(PY) -m pytest -q

bench: setup
	$(BUSLANE) bench speed

# Lane decisions against the vehicles labelled by eye in tests/labels (six cameras): recall and
# false positives of `buslane process` and the baseline, per clip and per split, on the clips as
# recorded and on copies at half and twice the resolution, at 1920x1080, at half the frame rate, at
# night and at dusk (prints; about 30 minutes, the copies built once under var/bench/variants).
.PHONY: bench-lanes
bench-lanes: setup
	nice -n 5 $(BUSLANE) bench lanes --variant all

.PHONY: review
review: setup
	$(BUSLANE) review --db $(DEMO_DB)

# Plate reading against the baseline recipe on ../shared photo sets, the small-plate ladder and the Hangzhou clip (prints).
.PHONY: bench-plates
bench-plates: setup
	$(BUSLANE) bench-plates

# Fine-tune cct_xs_v2_global on small degraded crops of the tune half of ../shared's photo sets
# and write models/plate_ocr_finetuned.onnx (its sha256 goes in models/manifest.yaml).
.PHONY: train-ocr
train-ocr: setup
	nice -n 5 $(PY) -m pipeline.plates.training.train --out models/plate_ocr_finetuned.onnx

# Fault suite (outside `make test`, about 45 minutes): kill -9 a 3-file batch 20 times at random points,
# re-run each, and check nothing was lost or duplicated and every contravention's evidence verifies.
.PHONY: chaos
chaos: setup
	$(PY) -m tests.chaos --kills 20
