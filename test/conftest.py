"""Test set-up shared by every test, free of QGIS so tests of core/ run with plain pytest.

The checkout is imported as the package ``cargowatch`` through the venv (``make deps`` links it as
build/plugins/cargowatch and puts build/plugins on the venv's path); the QGIS fixtures (provider registered in
a real QGIS) come from helpers/qgis_session.py, loaded when pytest-qgis is active."""
import os

import pytest

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
pytest_plugins = ['helpers.fixtures']


def pytest_configure(config):
    try:
        import cargowatch  # noqa: F401
    except ImportError:
        raise pytest.UsageError('the checkout is not importable as "cargowatch": run `make deps` once '
                                '(it links it into the venv), then use .venv/bin/python -m pytest')
    if config.pluginmanager.has_plugin('pytest_qgis'):
        from helpers import qgis_session
        config.pluginmanager.register(qgis_session, 'cargowatch_qgis_session')


@pytest.fixture
def no_opencv(monkeypatch):
    """Python as on a machine without OpenCV: ``import cv2`` fails and no network is loaded yet."""
    import builtins
    from cargowatch.core import nets
    real = builtins.__import__

    def no_cv2(name, *a, **kw):
        if name == 'cv2':
            raise ImportError('No module named cv2')
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, '__import__', no_cv2)
    monkeypatch.setattr(nets, '_NETS', {})
