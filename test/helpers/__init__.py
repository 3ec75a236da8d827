"""Shared test helpers: scene and AIS scenario generators with exact truth (plain Python), paths of the checkout
and of ../shared, and (qgis_run, qgis_session) the helpers that need QGIS."""
