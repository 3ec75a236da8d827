#!/bin/sh
# A separate venv for TRAINING the detectors' networks (bench/train_*.py), never needed at run time:
# the plugin runs the exported ONNX files with OpenCV's cv2.dnn. Its own numpy (torch pulls numpy 2.x,
# which would break Debian's cv2/scipy in the plugin's venv). Usage: sh bench/setup_train.sh (idempotent).
set -e
cd "$(dirname "$0")"
[ -x .venv-train/bin/python ] || python3 -m venv .venv-train
.venv-train/bin/python -c "import torch, onnx, cv2" 2>/dev/null || \
    .venv-train/bin/pip install --quiet --disable-pip-version-check torch==2.13.0 onnx opencv-python-headless scipy
.venv-train/bin/python -c "import torch, onnx, cv2, numpy; print('torch', torch.__version__, 'onnx', onnx.__version__, 'cv2', cv2.__version__, 'numpy', numpy.__version__)"
