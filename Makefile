# The two commands of the quick start, and a few conveniences.
.PHONY: up test lint fmt bench
ARGS ?=

up:      ## set up, seed the demo and run everything on http://127.0.0.1:8000 (Ctrl-C stops)
	@bash .ci/up

test:    ## set up what the tests need and run the whole suite
	@bash .ci/test $(ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

fmt:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
