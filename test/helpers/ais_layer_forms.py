"""One small AIS track set in every form a layer of positions takes in QGIS (GeoPackage in EPSG:4326 and
EPSG:3857 with DateTime or text times, memory layers, a layer with an unsaved edit), and what the dock and
``cargowatch:detectgaps`` report for each. Used by test_ais_layers.py, in process and, run as a script, in a
subprocess under another local time zone (``TZ=... python ais_layer_forms.py OUT_DIR`` prints JSON)."""
import datetime as dt
import json
import os
import sys
from pathlib import Path

import numpy as np


def _utc(text):
    return int(dt.datetime.fromisoformat(text.replace('Z', '+00:00')).timestamp())


# vessel -> (first position, step, count) runs; the gaps between runs are what the test is about
RUNS = {
    # 12.5 h dark across the night the US switched to daylight saving time (2024-03-10 10:00 UTC): a
    # reader going through Los Angeles' local time makes it 11.5 h and loses it at the 12 h threshold
    273000001: [('2024-03-09T10:00:00Z', 1800, 21), ('2024-03-10T08:30:00Z', 1800, 12)],
    # 11.5 h: no dark period at 12 h (through Vladivostok's time it would become 21.5 h, a false one)
    273000002: [('2024-03-09T08:00:00Z', 1200, 10), ('2024-03-09T22:30:00Z', 1200, 10)],
    # 20 h dark in July, positions with seconds
    273000003: [('2024-07-01T00:00:07Z', 600, 19), ('2024-07-02T19:00:07Z', 600, 6)],
}
EXPECTED = [(273000001, '2024-03-09T20:00:00Z', '2024-03-10T08:30:00Z'),
            (273000003, '2024-07-01T03:00:07Z', '2024-07-02T19:00:07Z')]


def positions():
    """(mmsi, unix s, lon, lat, sog) rows, vessels interleaved (a layer is in no particular order)."""
    rows = []
    for v, (mmsi, runs) in enumerate(RUNS.items()):
        k = 0
        for start, step, count in runs:
            for i in range(count):
                rows.append((mmsi, _utc(start) + i * step, 129.5 + 0.01 * k + v, 41.0 + 0.3 * v + 0.001 * k, 8.5))
                k += 1
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def write_gpkg(path, epsg=4326, text_time=False):
    """A GeoPackage of positions written by OGR (as an import or another tool would)."""
    from osgeo import ogr, osr
    ds = ogr.GetDriverByName('GPKG').CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    lyr = ds.CreateLayer('positions', srs, ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn('mmsi', ogr.OFTInteger64))
    lyr.CreateField(ogr.FieldDefn('time', ogr.OFTString if text_time else ogr.OFTDateTime))
    lyr.CreateField(ogr.FieldDefn('sog', ogr.OFTReal))
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    for s in (srs, wgs):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(wgs, srs)
    lyr.StartTransaction()
    for mmsi, t, lon, lat, sog in positions():
        f = ogr.Feature(lyr.GetLayerDefn())
        f['mmsi'] = mmsi
        if text_time:
            f['time'] = iso(t)
        else:
            d = dt.datetime.fromtimestamp(t, dt.timezone.utc)
            f.SetField('time', d.year, d.month, d.day, d.hour, d.minute, d.second, 100)  # 100: UTC
        f['sog'] = sog
        x, y, _z = ct.TransformPoint(lon, lat)
        f.SetGeometry(ogr.CreateGeometryFromWkt('POINT ({!r} {!r})'.format(x, y)))
        lyr.CreateFeature(f)
    lyr.CommitTransaction()
    ds = None
    return str(path)


def layer_forms(folder):
    """name -> QgsVectorLayer, every form (the layers are not added to a project)."""
    from qgis.core import QgsFeature, QgsVectorLayer
    folder = Path(folder)
    forms = {}
    for name, epsg, text in (('gpkg_4326_datetime', 4326, False), ('gpkg_3857_datetime', 3857, False),
                             ('gpkg_4326_text', 4326, True), ('gpkg_3857_text', 3857, True)):
        path = write_gpkg(folder / (name + '.gpkg'), epsg, text)
        forms[name] = QgsVectorLayer(path + '|layername=positions', name, 'ogr')
    # memory layers: the features of a GeoPackage layer copied as QGIS hands them over (zone-less DateTime)
    for name, src in (('memory_datetime', 'gpkg_3857_datetime'), ('memory_text', 'gpkg_4326_text')):
        s = forms[src]
        mem = QgsVectorLayer('Point?crs={}'.format(s.crs().authid()), name, 'memory')
        mem.dataProvider().addAttributes([f for f in s.fields() if f.name() != 'fid'])
        mem.updateFields()
        feats = []
        for f in s.getFeatures():
            g = QgsFeature(mem.fields())
            g.setGeometry(f.geometry())
            g.setAttributes([f[k] for k in mem.fields().names()])
            feats.append(g)
        mem.dataProvider().addFeatures(feats)
        forms[name] = mem
    # an unsaved edit (a speed changed): the layer on disk is not what QGIS shows, OGR cannot read it
    path = write_gpkg(folder / 'edited.gpkg', 3857, False)
    ed = QgsVectorLayer(path + '|layername=positions', 'gpkg_3857_edited', 'ogr')
    ed.startEditing()
    fid = next(ed.getFeatures()).id()
    ed.changeAttributeValue(fid, ed.fields().indexOf('sog'), 9.5)
    forms['gpkg_3857_edited'] = ed
    for name, lyr in forms.items():
        assert lyr.isValid() and lyr.featureCount() == len(positions()), (name, lyr.featureCount())
    return forms


def dock_gaps(dock, layer):
    """Dark periods the dock draws for a layer (its reading, its refresh) at the default threshold."""
    assert dock.load_layer(layer), dock.last_message
    gaps = dock.overlay.layer('gaps')
    return sorted((int(f['mmsi']), iso(f['t_start']), iso(f['t_end'])) for f in gaps.getFeatures())


def detectgaps_gaps(layer, out_path):
    """Dark periods of cargowatch:detectgaps (default threshold), read back from its GeoPackage by OGR:
    the times must be stored with their zone (UTC)."""
    import processing
    from osgeo import ogr
    processing.run('cargowatch:detectgaps', {'INPUT': layer, 'OUTPUT': str(out_path)})
    ds = ogr.Open(str(out_path))
    lyr = ds.GetLayer(0)
    out = []
    for f in lyr:
        ends = []
        for key in ('start', 'end'):
            y, mo, d, h, mi, s, tz = f.GetFieldAsDateTime(key)
            assert tz == 100, 'detectgaps wrote {} without the UTC zone (OGR tz flag {})'.format(key, tz)
            ends.append(dt.datetime(y, mo, d, h, mi, int(s), tzinfo=dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))
        out.append((int(f['mmsi']), ends[0], ends[1]))
    return sorted(out)


def report(folder, dock):
    """form -> {'dock': gaps, 'detectgaps': gaps, 'path': how the dock read it}"""
    folder = Path(folder)
    res = {}
    for name, lyr in layer_forms(folder).items():
        from qgis.core import QgsProject
        QgsProject.instance().addMapLayer(lyr)
        from cargowatch.layers.ais import LayerReader
        reader = LayerReader(lyr)
        data = reader.run()
        res[name] = {'dock': dock_gaps(dock, lyr), 'detectgaps': detectgaps_gaps(lyr, folder / ('gaps_of_' + name + '.gpkg')),
                     'path': reader.path, 'positions': len(data), 'lon0': float(np.round(data.cols['lon'][0], 6))}
    return res


def _main(folder):
    """Stand-alone: a QGIS application, Processing with the provider, a dock on a bare canvas."""
    os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
    sys.path.insert(0, '/usr/share/qgis/python/plugins')
    from qgis.core import QgsApplication
    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing
    Processing.initialize()
    from cargowatch.provider import CargoWatchProvider
    provider = CargoWatchProvider()  # kept referenced: the registry does not own a Python provider
    QgsApplication.processingRegistry().addProvider(provider)
    from types import SimpleNamespace
    from qgis.gui import QgsMapCanvas, QgsMessageBar
    from cargowatch.ui.dock import CargoWatchDock
    canvas, bar = QgsMapCanvas(), QgsMessageBar()  # what the dock uses of QgisInterface
    dock = CargoWatchDock(SimpleNamespace(mapCanvas=lambda: canvas, messageBar=lambda: bar, mainWindow=lambda: None))
    out = report(folder, dock)
    dock.close_and_cleanup()
    print(json.dumps(out))


if __name__ == '__main__':
    _main(sys.argv[1])
