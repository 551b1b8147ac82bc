# The two commands of the README. Both set up .venv/ first (idempotent; the
# first run on a machine builds mmcv once, about 6 minutes on 2 cores).
PYTHON := .venv/bin/python

.PHONY: setup demo test

setup:
	bash tools/setup_env.sh

demo: setup
	$(PYTHON) tools/demo_backbone.py

test: setup
	$(PYTHON) -m pytest tests
