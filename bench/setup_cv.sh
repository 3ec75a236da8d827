#!/bin/sh
# A venv like the project's .venv (Debian's QGIS, GDAL, numpy and scipy) but with OpenCV from PyPI
# (opencv-python-headless), the OpenCV a user gets with `pip install opencv-python-headless` (OSGeo4W, macOS, a
# QGIS with its own Python): its dnn runs the container networks faster than Debian bookworm's OpenCV 4.6.
# `make test` runs the detector tests with it too, `make bench` measures the count with it beside Debian's.
# Usage: sh bench/setup_cv.sh   (idempotent; the venv is gitignored: bench/.venv-cv)
# --no-deps: the wheel asks for NumPy 2, which Debian's GDAL and SciPy (built on NumPy 1.24) cannot load; it runs on
# Debian's NumPy.
set -e
cd "$(dirname "$0")"
OPENCV=opencv-python-headless==5.0.0.93
if [ ! -x .venv-cv/bin/python ]; then
    /usr/bin/python3 -m venv --system-site-packages .venv-cv
fi
.venv-cv/bin/python -c "import pytest, pytest_qgis, pyais" 2>/dev/null || \
    .venv-cv/bin/pip install --quiet --disable-pip-version-check -r ../requirements-dev.txt
.venv-cv/bin/python -c "import cv2; assert cv2.__version__ == '5.0.0'" 2>/dev/null || \
    .venv-cv/bin/pip install --quiet --disable-pip-version-check --no-deps "$OPENCV"
echo "$(cd .. && pwd)/build/plugins" > "$(.venv-cv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cargowatch.pth"
.venv-cv/bin/python -c "import cv2, numpy, scipy.ndimage; from osgeo import gdal; print('OpenCV', cv2.__version__, 'NumPy', numpy.__version__, 'from', cv2.__file__)"
