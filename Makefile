# 考察知识库 — two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
KB := $(VENV)/bin/kb
SHARED ?= ../shared
HOST ?= 127.0.0.1
PORT ?= 7860
PYTEST_ARGS ?=

.PHONY: install install-default system-deps run test test-fast eval bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Everything: the default install plus the semantic (torch + sentence-transformers), ocr and dev extras.
# torch is pinned first so pip takes the CPU build from local disk instead of downloading a CUDA one.
$(VENV)/.installed-all: pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[semantic,ocr,dev]'
	touch $@ $(VENV)/.installed-default

# What `make run` needs: the default install only (no torch).
$(VENV)/.installed-default: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

install: $(VENV)/.installed-all
install-default: $(VENV)/.installed-default

# Debian packages the tests use: Chromium (browser tests), LibreOffice (.doc/.wps, docx → pdf; Calc: .xls/.et),
# poppler (pdf → png), CJK fonts (rendering). Installed only when missing; needs root (CI is root).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-writer-nogui"; \
	ls /usr/lib/libreoffice/program/libsclo.so >/dev/null 2>&1 || missing="$$missing libreoffice-calc-nogui"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "WARNING: missing Debian packages:$$missing (run: sudo apt-get install$$missing); tests needing them will fail"; \
	  fi; \
	fi

run: install-default
	$(KB) serve --host $(HOST) --port $(PORT)

test: install system-deps
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# Every dev set, our own probe sets (eval/probes: questions over the seeds, drafting requests of every 谈话 kind), the CMRC leave-half-out honesty check and the
# answerability check on the generated sets (eval/calibrate.py --check: CMRC leave-half-out and
# perturbations, laws leave-documents-out, perturbed domain questions, and the evidence-side hard
# negatives of eval/hard_negatives.py: CMRC passages with the answer deleted, made a forecast, moved a year).
# The Markdown reports in eval/report/ are committed and linked from the README (the worst items, which quote the dev sets, stay
# in the git-ignored JSON). Exit 1 when a product target is missed, after all have run.
eval: install
	@mkdir -p eval/report; status=0; \
	$(KB) eval --no-progress --corpus $(SHARED)/corpus/seeds $(SHARED)/eval/domain_qa_dev.jsonl $(SHARED)/eval/domain_drafts_dev.jsonl \
	  $(SHARED)/eval/conversation_dev.jsonl eval/probes/seeds_probe.jsonl --json eval/report/dev.json --md eval/report/dev.md --no-items || status=1; \
	$(KB) eval --no-progress --corpus $(SHARED)/corpus/seeds eval/probes/draft_requests_probe.jsonl \
	  --json eval/report/draft_probe.json --md eval/report/draft_probe.md --no-items || status=1; \
	$(KB) eval --no-progress --corpus $(SHARED)/corpus/laws $(SHARED)/eval/law_clause_dev.jsonl \
	  --json eval/report/law.json --md eval/report/law.md --no-items || status=1; \
	$(KB) eval --no-progress $(SHARED)/eval/cmrc2018_trial.json --json eval/report/cmrc.json --md eval/report/cmrc.md --no-items || status=1; \
	$(PY) $(SHARED)/tools/honesty_check.py --kb $(KB) | tee eval/report/honesty.txt || status=1; \
	$(PY) -m eval.calibrate --check --report eval/report/calibration-check.md > /dev/null || status=1; \
	exit $$status

bench: install
	$(PY) -m bench.run --out bench.json

clean:
	rm -rf $(VENV) .kb_home test-output bench.json

# Offline installation kit (README "Offline installation (内网)", packaging/build_kit.py):
# dist/kb-offline-<version>-<python>-<platform>.tar.gz with the project wheel, the wheels of the default
# install + ocr, install.sh, SHA256SUMS and a README. Needs a package registry; the kit then needs none.
#   PLATFORM=manylinux2014_aarch64   for another platform (pip --platform --only-binary=:all:)
#   EXTRAS=semantic                  adds torch CPU + sentence-transformers (EXTRAS=-ocr leaves OCR out)
#   PYTHON_VERSION=3.11.2            the target's Python (default: this one), e.g. Debian 12's
#   BUNDLE_ARGS=--check              resolve and report only (the ARM64 check: no wheel downloaded)
PLATFORM ?=
EXTRAS ?=
PYTHON_VERSION ?=
BUNDLE_ARGS ?=
.PHONY: bundle
bundle: | $(PY)
	$(PY) packaging/build_kit.py $(if $(PLATFORM),--platform $(PLATFORM)) $(if $(EXTRAS),--extras=$(EXTRAS)) \
	  $(if $(PYTHON_VERSION),--python-version $(PYTHON_VERSION)) $(if $(EXTRAS),,--max-mb 440) $(BUNDLE_ARGS)
