"""The detectors' networks: OpenCV, imported on first use with a message that says how to install it, and the ONNX
files shipped in core/models/ with their JSON sidecars (how each was trained), loaded once per process."""
import json
import os
import tempfile
import zipfile

import numpy as np

from .errors import CargoWatchError

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models')
OPENCV_MISSING = ('CargoWatch needs OpenCV for image detection. Install it with `sudo apt install python3-opencv` '
                  '(Debian/Ubuntu) or `python -m pip install --no-deps opencv-python-headless` (e.g. in the OSGeo4W '
                  'shell; --no-deps keeps the NumPy QGIS was built on), then restart QGIS.')
_NETS = {}


def opencv():
    """The cv2 module, or a CargoWatchError that says how to install it."""
    try:
        import cv2
    except ImportError:
        raise CargoWatchError(OPENCV_MISSING) from None
    return cv2


def older_opencv():
    """The OpenCV version when it is older than 4.7 (whose dnn runs the container networks about 1.5 times slower
    than OpenCV 5's: docs/benchmarks.md), else None."""
    version = opencv().__version__
    major, minor = (int(v) for v in version.split('.')[:2])
    return version if (major, minor) < (4, 7) else None


def _real_file(path):
    """``path``, or where the package runs from a zip (as on Dask workers) a copy of it extracted to a temporary
    folder: OpenCV reads models from files only."""
    if os.path.exists(path):
        return path
    archive = path
    while archive and not os.path.isfile(archive) and os.path.dirname(archive) != archive:
        archive = os.path.dirname(archive)
    if not os.path.isfile(archive) or not zipfile.is_zipfile(archive):
        return path
    inner = os.path.relpath(path, archive).replace(os.sep, '/')
    out = os.path.join(tempfile.gettempdir(), f'cargowatch-models-{os.getpid()}', inner)
    if not os.path.exists(out):
        with zipfile.ZipFile(archive) as z:
            if inner not in z.namelist():
                return path
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, 'wb') as f:
                f.write(z.read(inner))
    return out


def load(name):
    """(cv2.dnn net, sidecar dict) of core/models/``name``.onnx."""
    if name not in _NETS:
        cv2 = opencv()
        onnx, side = _real_file(os.path.join(MODELS, name + '.onnx')), sidecar(name)
        if not (os.path.exists(onnx) and side):
            raise CargoWatchError(f'The {name} model {onnx} (or its sidecar .json) is missing: reinstall the plugin.')
        _NETS[name] = (cv2.dnn.readNetFromONNX(onnx), side)
    return _NETS[name]


def sidecar(name):
    """The JSON sidecar of core/models/``name``.onnx (how the model was trained and measured), read without OpenCV;
    {} if it is missing."""
    path = _real_file(os.path.join(MODELS, name + '.json'))
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def three_bands(data):
    """A network's 3 channels from (bands, h, w): 1 band replicated, 2 bands averaged and replicated, else the
    first 3."""
    if data.shape[0] >= 3:
        return data[:3]
    return np.repeat(data.mean(axis=0, keepdims=True), 3, axis=0)


# Views of an image (transpose, flip rows, flip columns), each a turn or mirror: 1 the image itself; 2 and its half
# turn; 4 its quarter turns; 8 the quarter turns of the image and of its mirror image.
VIEWS = {1: [(False, False, False)],
         2: [(False, False, False), (False, True, True)],
         4: [(False, False, False), (False, True, True), (True, True, False), (True, False, True)]}
VIEWS[8] = VIEWS[4] + [(True, False, False), (False, True, False), (False, False, True), (True, True, True)]


def view(a, transpose, flip_rows, flip_cols):
    """Arrays (..., h, w) seen in one of :data:`VIEWS`: mirrored, then transposed."""
    a = a[..., ::-1 if flip_rows else 1, ::-1 if flip_cols else 1]
    return a.swapaxes(-1, -2) if transpose else a


def unview(a, transpose, flip_rows, flip_cols):
    """The inverse of :func:`view`."""
    a = a.swapaxes(-1, -2) if transpose else a
    return a[..., ::-1 if flip_rows else 1, ::-1 if flip_cols else 1]


def depth_to_space(maps, r):
    """(C * r * r, h, w) -> (C, h * r, w * r), as torch's pixel_shuffle: channel c * r * r + i * r + j holds
    sub-cell (i, j) of map c."""
    if r == 1:
        return maps
    c, h, w = maps.shape
    c //= r * r
    return maps.reshape(c, r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(c, h * r, w * r)


def to_working(img, gsd, work_gsd):
    """(bands, h, w) float32 at ``gsd`` -> the working grid of ``work_gsd``: area average down, bilinear up (as
    the training generators do). Returns the array and the (row, col) block pixels per working pixel."""
    cv2 = opencv()
    b, h, w = img.shape
    f = gsd / work_gsd
    oh, ow = max(1, int(round(h * f))), max(1, int(round(w * f)))
    if (oh, ow) == (h, w):
        return np.ascontiguousarray(img, dtype=np.float32), (1.0, 1.0)
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    out = np.stack([cv2.resize(np.ascontiguousarray(img[k], dtype=np.float32), (ow, oh), interpolation=interp)
                    for k in range(b)])
    return out, (h / oh, w / ow)
