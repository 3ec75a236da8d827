"""A small scene archive (two generated ports, a depot, a broken file, a missing one, an all-nodata raster) and a
LocalCluster of two worker processes, for the tests of core.batch and of cargowatch:batchcount."""
import numpy as np
import pytest
from osgeo import ogr

from cargowatch.core import containers, pits, raster
from . import depot_scenes as ds
from . import scenes


@pytest.fixture(scope='module')
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp('archive')
    ports = [scenes.write_scene(scenes.port_scene(seed=s, gsd=0.5, size_px=480), d / f'port{s}.tif') for s in (3, 4)]
    ds.depot_scene(str(d / 'depot.tif'), seed=5, size=(620.0, 620.0), n_old=10, n_new=40, gsd=0.5,
                   offset=(-200.0, -200.0))      # 2 x 2 blocks of 1024 px, pits in three of them
    (d / 'broken.tif').write_text('not a raster')
    nodata = ds.write_geotiff(str(d / 'nodata.tif'), np.zeros((3, 700, 700), np.uint8), ds.geotransform(0.5), nodata=0)
    return {'ports': [str(p) for p in ports], 'depot': str(d / 'depot.tif'), 'broken': str(d / 'broken.tif'),
            'missing': str(d / 'missing.tif'), 'nodata': nodata, 'dir': d}


@pytest.fixture(scope='module')
def client():
    distributed = pytest.importorskip('distributed', reason='dask[distributed] is not installed (requirements-dev.txt)')
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=':0')
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def single_machine(kind, path, params=None):
    """The detector's own whole-scene output dicts (not core.batch's); containers by default as countcontainers
    counts them (Views Auto for the scene's size)."""
    r = raster.open_raster(path)
    if kind == 'containers':
        return containers.count_containers(r, params or containers.ContainerParams(views=containers.auto_views(r)))
    return pits.count_pits(r, params)


def read_layer(path, name):
    src = ogr.Open(str(path))
    layer = src.GetLayerByName(name)
    assert layer is not None, name
    rows = []
    for f in layer:
        row = {k: f.GetField(k) for k in f.keys()}
        g = f.GetGeometryRef()
        if g is not None:
            row['geometry'] = g.GetGeometryRef(0).GetPoints()[:-1]
        rows.append(row)
    return rows
