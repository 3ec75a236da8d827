"""QGIS-side helpers shared by the dock (ui/) and the algorithms (algorithms/); core/ never imports them."""
