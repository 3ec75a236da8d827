"""Fixtures for the tests that run in real QGIS; test/conftest.py registers this module as a plugin only when
pytest-qgis is active, so tests of core/ also run with plain pytest (``-p no:pytest_qgis``)."""
import pytest


@pytest.fixture(scope='session', autouse=True)
def cargowatch_provider(qgis_processing):
    """Register the CargoWatch provider once, as the plugin's initProcessing() does."""
    from qgis.core import QgsApplication
    from cargowatch.provider import CargoWatchProvider
    registry = QgsApplication.processingRegistry()
    if registry.providerById('cargowatch') is None:
        registry.addProvider(CargoWatchProvider())
    yield  # tests look the provider up in the registry: the plugin-load test re-registers it
