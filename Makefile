# CargoWatch — every target installs what a bare Debian bookworm lacks, idempotently.
#   make demo     set up, then via qgis_process: containers on the bundled scene, the AIS story, pits dug between two dates
#   make test     set up, then run every test headless (pytest + pytest-qgis, real QGIS)
#   make test-core  only the tests of core/, with plain pytest (no QGIS)
#   make package  cargowatch.zip for QGIS's "Install from ZIP"
#   make install  link this folder into the default QGIS profile
#   make bench    run the benchmarks (slow); they write their figures into docs/benchmarks.md
#   make fuzz     thousands of mangled AIS files and GeoTIFFs through the readers and detectors (issue #23)
SHELL := /bin/bash
PYTHON := /usr/bin/python3
VENV := .venv
VPY := $(VENV)/bin/python
APT_PACKAGES := qgis python3-qgis qgis-providers python3-gdal python3-scipy python3-numpy python3-matplotlib \
                python3-psutil python3-opencv python3-venv python3-pip pyqt5-dev-tools zip git chromium
PLUGINS := build/plugins
QGIS_PROCESS := QGIS_PLUGINPATH=$(CURDIR)/$(PLUGINS) PYTHONPATH=$$($(VPY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') qgis_process.bin
OUT := demo_out
export QT_QPA_PLATFORM := offscreen
export DEBIAN_FRONTEND := noninteractive

.PHONY: all deps system mp cv test test-core demo package install bench bench-real resources clean fuzz
all: test

system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -q && $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: requirements-dev.txt | system
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# the checkout is the package `cargowatch` whatever its folder is called: linked as build/plugins/cargowatch
# (QGIS_PLUGINPATH for qgis_process) and build/plugins put on the venv's path (a .pth file) for the tests
deps: system $(VENV)/.installed
	@mkdir -p $(PLUGINS) && ln -sfn $(CURDIR) $(PLUGINS)/cargowatch
	@echo $(CURDIR)/$(PLUGINS) > $$($(VPY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cargowatch.pth

# MovingPandas lives in its own venv, only for the cross-check test and the side-by-side benchmark.
mp: system
	sh bench/setup_mp.sh

# OpenCV from PyPI (opencv-python-headless) in its own venv: the detector tests run with it too, the bench times it.
cv: deps
	sh bench/setup_cv.sh

test: deps mp cv
	$(VPY) -m pytest test -q -rs -p no:cacheprovider
	bench/.venv-cv/bin/python -m pytest test/core/test_containers.py test/algorithms/test_count_containers.py \
	    -q -rs -p no:cacheprovider

# the tests of core/ alone, without QGIS (pytest-qgis switched off)
test-core: deps
	$(VPY) -m pytest test/core -q -rs -p no:cacheprovider -p no:pytest_qgis

demo: deps
	@mkdir -p $(OUT)
	@$(QGIS_PROCESS) plugins enable cargowatch >/dev/null 2>&1 || true  # fails when already enabled
	@echo "== 1. Containers at the port (sample scene, 0.5 m)"
	$(QGIS_PROCESS) run cargowatch:countcontainers -- INPUT=sample_data/rajin_port_sample.tif \
	    OUTPUT=$(OUT)/containers.gpkg
	$(VPY) tools/render_png.py sample_data/rajin_port_sample.tif $(OUT)/containers.gpkg $(OUT)/containers.png
	@echo "== 2. AIS: import, dark periods, runs between Dunai and Rajin (sample scenario)"
	$(QGIS_PROCESS) run cargowatch:importais -- INPUT=sample_data/dunai_rajin_ais.nmea.gz \
	    OUTPUT=$(OUT)/ais_positions.gpkg
	$(QGIS_PROCESS) run cargowatch:detectgaps -- INPUT=$(OUT)/ais_positions.gpkg \
	    SITES=sample_data/dunai_rajin_sites.gpkg OUTPUT=$(OUT)/dark_periods.gpkg
	$(QGIS_PROCESS) run cargowatch:countvoyages -- INPUT=$(OUT)/ais_positions.gpkg \
	    SITES=sample_data/dunai_rajin_sites.gpkg OUTPUT=$(OUT)/voyages.gpkg CALLS=$(OUT)/port_calls.gpkg
	@echo "== 3. Storage pits dug at the depot between two dates (sample pair)"
	$(QGIS_PROCESS) run cargowatch:detectchanges -- BEFORE=sample_data/tikhoretsk_before.tif \
	    AFTER=sample_data/tikhoretsk_after.tif KIND=1 OUTPUT=$(OUT)/pit_changes.gpkg
	$(VPY) tools/render_png.py sample_data/tikhoretsk_after.tif $(OUT)/pit_changes.gpkg $(OUT)/pit_changes.png
	@echo "Outputs in $(OUT)/: containers.gpkg/.png, ais_positions.gpkg, dark_periods.gpkg, voyages.gpkg, port_calls.gpkg, pit_changes.gpkg/.png"

resources: resources.py
resources.py: resources.qrc $(wildcard icons/*.svg)
	pyrcc5 -o $@ $< && sed -i 's/^from PyQt5 import QtCore/from qgis.PyQt import QtCore/' $@

package: system
	rm -rf build/pkg cargowatch.zip && mkdir -p build/pkg/cargowatch
	git ls-files | grep -vE '^(test|bench|tools|docs|\.ci)/|^(Makefile|\.gitignore|requirements-dev\.txt)$$' \
	  | while read -r f; do install -D -m644 "$$f" "build/pkg/cargowatch/$$f"; done
	cd build/pkg && zip -qr ../../cargowatch.zip cargowatch
	@echo "Built cargowatch.zip"

install:
	d=$${HOME}/.local/share/QGIS/QGIS3/profiles/default/python/plugins; mkdir -p $$d && ln -sfn $(CURDIR) $$d/cargowatch
	@echo "Linked into the default QGIS profile; enable CargoWatch in Plugins ▸ Manage and Install Plugins."

# the real Rotterdam WorldView-2 chips solaris 0.4.0 ships (PyPI), for the container table's real photos
SOLARIS := build/solaris/solaris/data/preproc_tutorial
bench: deps mp cv $(SOLARIS)/pan1.tif
	$(VPY) bench/bench_containers.py --markdown
	$(VPY) bench/bench_containers.py --model wide --markdown
	$(VPY) bench/bench_containers.py --model sun --markdown
	$(VPY) bench/bench_containers.py --model wide_sun --markdown
	$(VPY) bench/bench_containers.py --groups --markdown
	$(VPY) bench/bench_containers.py --views 4 --markdown
	$(VPY) bench/bench_views.py --markdown
	$(VPY) bench/bench_views.py --model wide --markdown
	$(VPY) bench/sensitivity_containers.py --markdown
	$(VPY) bench/sensitivity_containers.py --model wide --markdown
	$(VPY) bench/sensitivity_containers.py --model sun --true-sun --markdown
	$(VPY) bench/sensitivity_containers.py --model wide_sun --true-sun --markdown
	$(VPY) bench/bench_changes.py --markdown
	$(VPY) bench/bench_pits.py accuracy
	$(VPY) bench/bench_pits.py validation
	$(VPY) bench/bench_pits.py speed
	$(VPY) bench/bench_speed.py --markdown
	$(VPY) bench/bench_ais.py
	$(VPY) bench/bench_match.py
	$(VPY) bench/bench_dock.py
	$(VPY) bench/bench_batch.py
	$(VPY) bench/bench_report.py

# seeded mutations; prints the number of cases and failures (test/core/test_ais_fuzz.py, test_raster_fuzz.py run fewer)
fuzz: deps
	$(VPY) tools/fuzz_ais.py --cases 5000; a=$$?; $(VPY) tools/fuzz_raster.py --cases 500; exit $$((a || $$?))

# Real imagery (WorldView-2 chips of Rotterdam from the solaris 0.4.0 wheel, Apache-2.0; not committed)
$(SOLARIS)/pan1.tif: | deps
	$(VPY) -m pip download -q --no-deps solaris==0.4.0 -d build/solaris
	$(VPY) -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('build/solaris/solaris-0.4.0-*.whl')[0]); \
	  [z.extract(n, 'build/solaris') for n in z.namelist() if n.startswith('solaris/data/preproc_tutorial/')]"

bench-real: $(SOLARIS)/pan1.tif
	$(VPY) bench/bench_coregister.py $(SOLARIS)
	$(VPY) bench/bench_real.py $(SOLARIS)/pan1.tif $(SOLARIS)/pan2.tif $(SOLARIS)/pan3.tif --out bench/out/real_rotterdam.png

clean:
	rm -rf build $(OUT) cargowatch.zip .pytest_cache
