"""Kept only for ui/ais_source.py (replaced on the branch that unifies AIS reading): every Qt/QGIS compatibility
name lives in ../compat.py. Delete this file once nothing imports it."""
from ..compat import Q, wgs84  # noqa: F401

GEOM_POINT = Q.POINT_GEOMETRY
