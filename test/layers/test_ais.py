"""One AIS layer in every form (GeoPackage in EPSG:4326 and 3857, DateTime and text times, memory layers, a layer
with an unsaved edit) read by the dock and by cargowatch:detectgaps under several local time zones: both report
the same, right dark periods, a 12.5 h one across a daylight-saving change included (layers/ais.py)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import ais_layer_forms as forms

EXPECTED = [list(g) for g in forms.EXPECTED]
FAST = {'gpkg_4326_datetime', 'gpkg_3857_datetime', 'gpkg_4326_text', 'gpkg_3857_text'}


def test_the_expected_gaps_are_what_the_data_says():
    """The expectation is the data's own: every interval over 12 h between a vessel's positions."""
    rows = sorted(forms.positions())
    found = []
    for (m0, t0, *_), (m1, t1, *_) in zip(rows, rows[1:]):
        if m0 == m1 and t1 - t0 > 12 * 3600:
            found.append([m0, forms.iso(t0), forms.iso(t1)])
    assert found == EXPECTED
    hours = {m: (forms._utc(b) - forms._utc(a)) / 3600 for m, a, b in forms.EXPECTED}
    assert hours[273000001] == 12.5


@pytest.mark.parametrize('tz', ['UTC', 'Asia/Vladivostok', 'America/Los_Angeles'])
def test_every_form_same_right_gaps_in_dock_and_detectgaps(tz, tmp_path):
    """A fresh QGIS under the local time zone ``tz`` (set before Qt starts) reads each form of the layer."""
    env = dict(os.environ, TZ=tz, QT_QPA_PLATFORM='offscreen')
    proc = subprocess.run([sys.executable, str(Path(forms.__file__)), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(got) == FAST | {'memory_datetime', 'memory_text', 'gpkg_3857_edited'}
    for name, r in got.items():
        assert r['dock'] == EXPECTED, (tz, name, 'dock', r['dock'])
        assert r['detectgaps'] == EXPECTED, (tz, name, 'detectgaps', r['detectgaps'])
        assert r['positions'] == len(forms.positions()), (tz, name)
        assert r['lon0'] == 129.5, (tz, name)  # reprojected from EPSG:3857 where it was stored so
        assert r['path'] == ('arrow' if name in FAST else 'features'), (tz, name, r['path'])


@pytest.mark.parametrize('name', ['gpkg_3857_datetime', 'gpkg_4326_text'])
def test_fast_and_feature_paths_give_identical_columns(name, tmp_path):
    from cargowatch.layers.ais import LayerReader
    layer = forms.layer_forms(tmp_path)[name]
    fast = LayerReader(layer)
    slow = LayerReader(layer)
    slow.fast = None  # as if OGR could not read it: feature by feature
    a, b = fast.read(), slow.read()
    assert (fast.path, slow.path) == ('arrow', 'features')
    assert a.rows_read == b.rows_read == len(forms.positions()) and a.rows_rejected == 0
    for k in a.cols:
        assert a.cols[k].dtype == b.cols[k].dtype, k
        assert np.array_equal(a.cols[k], b.cols[k], equal_nan=a.cols[k].dtype.kind == 'f'), k


def test_bad_rows_are_counted_not_fatal(tmp_path):
    """A memory layer with a row without time and one without MMSI: skipped and counted, the rest read."""
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer
    from cargowatch.algorithms.base import qfield
    from cargowatch.layers.ais import LayerReader
    lyr = QgsVectorLayer('Point?crs=EPSG:4326', 'bad', 'memory')
    lyr.dataProvider().addAttributes([qfield('MMSI', 'long'), qfield('BaseDateTime', 'string')])
    lyr.updateFields()
    feats = []
    for m, t in ((273000001, '2024-01-01T00:00:00Z'), (273000001, None), (None, '2024-01-01T01:00:00Z'),
                 (273000001, '2024-01-01T03:00:00+02:00')):
        f = QgsFeature(lyr.fields())
        f.setAttributes([m, t])
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(129.5, 41.0)))
        feats.append(f)
    lyr.dataProvider().addFeatures(feats)
    res = LayerReader(lyr).read()
    assert res.rows_read == 4 and res.rows_kept == 2 and res.rows_rejected == 2
    assert res.cols['t'].tolist() == [1704067200, 1704070800]  # 03:00+02:00 is 01:00 UTC
    assert res.reasons['truncated/garbled line'] == 2


def test_utc_datetime_carries_its_zone():
    from qgis.PyQt.QtCore import Qt
    from cargowatch.layers.ais import utc_datetime
    d = utc_datetime(1710014400)
    assert d.timeSpec() == Qt.TimeSpec.UTC
    assert d.toString(Qt.DateFormat.ISODate) == '2024-03-09T20:00:00Z'


def test_dock_positions_thinned_to_cells_not_dropped():
    """Past MAX_POSITIONS the dock draws one dot per grid cell (the latest): every cell a shown vessel visited
    keeps a dot, hidden vessels give none, and a small layer keeps every position."""
    from cargowatch.ui.overlay import MAX_POSITIONS, POSITION_CELLS, thin_positions
    rng = np.random.default_rng(3)
    n = 200_000
    mmsi = np.repeat(np.array([273000001, 273000002, 273000003]), [n // 2, n // 4, n - n // 2 - n // 4])
    lon = 120 + np.cumsum(rng.normal(0, 0.01, n))
    lat = 30 + np.cumsum(rng.normal(0, 0.01, n))
    assert thin_positions(lon[:1000], lat[:1000], mmsi[:1000]).tolist() == list(range(1000))
    sel = thin_positions(lon, lat, mmsi, {273000003})
    shown = np.flatnonzero(mmsi != 273000003)
    assert 0 < len(sel) <= MAX_POSITIONS and np.all(np.diff(sel) > 0)
    assert not np.isin(sel, np.flatnonzero(mmsi == 273000003)).any()
    x, y = lon[shown], lat[shown]
    cell = max(x.max() - x.min(), y.max() - y.min()) / POSITION_CELLS
    cells = {(int(a), int(b)) for a, b in zip((x - x.min()) // cell, (y - y.min()) // cell)}
    got = {(int(a), int(b)) for a, b in zip((lon[sel] - x.min()) // cell, (lat[sel] - y.min()) // cell)}
    assert len(shown) > MAX_POSITIONS >= len(cells)  # thinned by cells, no stepping needed: all cells kept
    assert got == cells


def test_filtered_layer_reads_only_its_features(tmp_path):
    """A GeoPackage layer with a subset string: the fast path applies the same filter as QGIS."""
    from qgis.core import QgsVectorLayer
    from cargowatch.layers.ais import LayerReader
    path = forms.write_gpkg(tmp_path / 'f.gpkg', 3857)
    layer = QgsVectorLayer(path + '|layername=positions', 'filtered', 'ogr')
    assert layer.setSubsetString('"mmsi" = 273000003')
    fast = LayerReader(layer)
    res = fast.read()
    slow = LayerReader(layer)
    slow.fast = None
    assert fast.path == 'arrow' and res.rows_read == 25 == layer.featureCount()
    assert set(res.cols['mmsi'].tolist()) == {273000003}
    assert np.array_equal(res.cols['t'], slow.read().cols['t'])
