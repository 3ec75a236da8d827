"""Counting over scene lists (core.batch, tools/batch_count.py, cargowatch:batchcount): a LocalCluster
of 2 worker processes against the single-machine run on generated scenes, scenes split into shares
of their block grid, failing scenes reported in the `scenes` table, the GeoPackage written, Dask
missing or unreachable."""
import os
import subprocess
import sys

import numpy as np
import pytest
from osgeo import ogr, osr

from helpers.paths import ROOT
from cargowatch.core import batch, containers, pits, raster
from helpers import scenes

SMALL = containers.ContainerParams(block_px=160, overlap_m=20.0)     # 0.5 m scenes of 480 px: 3 x 3 blocks
PITS = pits.PitParams(min_size=12.0)      # a coarser working grid: quicker


from helpers.batch_archive import archive, client, read_layer, single_machine  # noqa: F401 (fixtures)


def test_shares_of_the_block_grid_give_the_whole_scene(archive):
    port = archive['ports'][0]
    whole = single_machine('containers', port, SMALL)
    assert len(whole) > 100
    for n in (4, 20):                        # 20 shares of 9 blocks: some shares are empty
        shares = [batch.count_share('containers', port, k, n, SMALL) for k in range(n)]
        assert sum(s['valid'] and len(s['detections']['conf']) > 0 for s in shares) >= min(n, 3)
        assert list(batch.gather('containers', port, shares[::-1], SMALL).rows()) == whole


def test_cluster_matches_single_machine(archive, client, tmp_path):
    ports, bad = archive['ports'], [archive['missing'], archive['broken'], archive['nodata']]
    listed = [ports[0], bad[0], ports[1], bad[1], bad[2]]
    got = batch.run_dask(client, 'containers', listed, params=SMALL, share_px=100_000)
    assert [r.scene for r in got] == listed
    import cargowatch          # core/ went to the workers as a zip; this process keeps its own package
    assert os.path.realpath(cargowatch.__path__[0]) == str(ROOT.resolve())
    for path, r in zip(ports, (got[0], got[2])):
        whole = single_machine('containers', path, SMALL)
        assert r.error is None and list(r.rows()) == whole
        assert (r.count, r.teu) == containers.summarise(whole) and r.seconds > 0
    assert 'Cannot open the raster' in got[1].error and 'not recognized' in got[3].error
    with pytest.raises(raster.NodataError) as e:      # split into 5 shares, the same message as one machine
        single_machine('containers', archive['nodata'], SMALL)
    assert got[4].error == str(e.value) and got[4].count is None

    out = tmp_path / 'out.gpkg'
    batch.write_gpkg(str(out), 'containers', got)
    table = read_layer(out, 'scenes')
    assert [t['scene'] for t in table] == listed
    assert [t['count'] for t in table] == [got[0].count, None, got[2].count, None, None]
    assert [t['teu'] for t in table] == [got[0].teu, None, got[2].teu, None, None]
    assert [bool(t['error']) for t in table] == [False, True, False, True, True]
    rows = read_layer(out, 'containers')
    assert len(rows) == sum(r.count or 0 for r in got)
    first = [row for row in rows if row['scene'] == ports[0]]
    assert len(first) == got[0].count > 100
    for row, d in zip(first, got[0].rows()):
        assert row['geometry'] == [tuple(p) for p in d['geometry']]
        assert all(row[k] == pytest.approx(v) for k, v in d.items() if k != 'geometry')


def test_cluster_pits_split_scene(archive, client):
    whole = single_machine('pits', archive['depot'], PITS)
    got, = batch.run_dask(client, 'pits', [archive['depot']], params=PITS, share_px=400_000)  # 4 shares, 4 blocks
    assert got.error is None and len(whole) > 10 and list(got.rows()) == whole and got.teu is None


def test_cancel_drops_the_pending_tasks(archive, client):
    with pytest.raises(batch.Cancelled):
        batch.run_dask(client, 'pits', [archive['depot']] * 3, params=PITS, cancelled=lambda: True)
    asked, steps = [], []
    with pytest.raises(batch.Cancelled):   # in-process: stops inside the scene, not recorded as its error
        batch.run_serial('containers', [archive['ports'][0]], SMALL, progress=steps.append,
                         cancelled=lambda: asked.append(1) or len(asked) > 3)
    assert 0 < len(steps) < 9 and steps == sorted(steps) and steps[-1] < 1


def test_write_gpkg_mixed_crs_goes_to_wgs84(archive, tmp_path):
    utm52 = archive['ports'][0]
    utm33 = str(tmp_path / 'utm33.tif')
    scenes.write_scene(scenes.port_scene(seed=7, gsd=0.5, size_px=300), utm33, epsg=32633)
    got = batch.run_serial('containers', [utm52, utm33])
    assert [r.error for r in got] == [None, None] and got[1].count > 0
    out = tmp_path / 'mixed.gpkg'
    batch.write_gpkg(str(out), 'containers', got)
    src = ogr.Open(str(out))
    assert src.GetLayerByName('containers').GetSpatialRef().GetAuthorityCode(None) == '4326'
    lons = {row['scene']: row['geometry'][0][0] for row in read_layer(out, 'containers')}
    assert 126 < lons[utm52] < 130 and 14 < lons[utm33] < 16        # UTM 52 N and 33 N central meridians


def test_write_gpkg_field_types_take_every_value(tmp_path):
    square = [(500000.0, 4000000.0), (500010.0, 4000000.0), (500010.0, 3999990.0), (500000.0, 3999990.0)]
    dets = [{'confidence': 1, 'fresh': np.bool_(True), 'n': np.int64(3), 'geometry': square},
            {'confidence': 0.25, 'fresh': False, 'n': 2, 'note': 'x', 'geometry': square}]
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32652)
    got = [batch.SceneResult('a.tif', 2, None, 1.0, None, srs.ExportToWkt(), dets, 'pits'),
           batch.SceneResult('b.tif', error='broken')]
    batch.write_gpkg(str(tmp_path / 't.gpkg'), 'pits', got)
    rows = read_layer(tmp_path / 't.gpkg', 'pits')
    assert [(r['confidence'], r['fresh'], r['n'], r['note']) for r in rows] == [(1.0, 1, 3, None), (0.25, 0, 2, 'x')]
    assert rows[0]['geometry'] == square and rows[0]['scene'] == 'a.tif'
    assert [t.get('teu', 'absent') for t in read_layer(tmp_path / 't.gpkg', 'scenes')] == ['absent', 'absent']


def test_scene_list(tmp_path):
    p = tmp_path / 'list.txt'
    p.write_text('# archive\n/a.tif\n\n  /vsicurl/https://example.org/b.tif  \n')
    assert batch.read_scene_list(str(p)) == ['/a.tif', '/vsicurl/https://example.org/b.tif']
    p.write_text('# nothing\n\n')
    with pytest.raises(batch.CargoWatchError, match='names no scene'):
        batch.read_scene_list(str(p))
    with pytest.raises(batch.CargoWatchError, match='Cannot read the scene list'):
        batch.read_scene_list(str(tmp_path / 'absent.txt'))
    with pytest.raises(batch.CargoWatchError, match='choose one of containers, pits'):
        batch.counter('cars')


def tool(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / 'tools' / 'batch_count.py'), *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_command_on_a_local_cluster(archive, tmp_path):
    lst = tmp_path / 'list.txt'
    lst.write_text(f"{archive['ports'][1]}\n{archive['missing']}\n")
    out = tmp_path / 'cmd.gpkg'
    p = tool('--kind', 'containers', '--scenes', str(lst), '--out', str(out), '--workers', '2')
    assert p.returncode == 1, p.stderr           # one scene failed, the other was counted and written
    assert 'Dask dashboard: http' in p.stdout and '[2/2]' in p.stdout and '1/2 scenes counted' in p.stdout, p.stdout
    table = read_layer(out, 'scenes')
    whole = single_machine('containers', archive['ports'][1])
    assert table[0]['count'] == containers.summarise(whole)[0] and table[1]['error'].startswith('Cannot open')
    assert len(read_layer(out, 'containers')) == len(whole)


def test_command_without_dask_and_bad_input(archive, tmp_path):
    lst = tmp_path / 'list.txt'
    lst.write_text(f"{archive['ports'][1]}\n")
    fake = tmp_path / 'nodask' / 'distributed'        # a Python where `import distributed` fails
    fake.mkdir(parents=True)
    (fake / '__init__.py').write_text('raise ImportError("no dask here")\n')
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    p = tool('--kind', 'pits', '--scenes', str(lst), '--out', str(tmp_path / 'x.gpkg'), env=env)
    assert p.returncode == 2 and 'pip install "dask[distributed]"' in p.stderr and 'Traceback' not in p.stderr
    p = tool('--kind', 'containers', '--scenes', str(lst), '--out', str(tmp_path / 'y.gpkg'), '--workers', '0',
             env=env)                               # in this process: no Dask needed
    assert p.returncode == 0, p.stderr
    assert read_layer(tmp_path / 'y.gpkg', 'scenes')[0]['error'] is None
    p = tool('--kind', 'containers', '--scenes', str(tmp_path / 'absent.txt'), '--out', str(tmp_path / 'z.gpkg'))
    assert p.returncode == 2 and 'Cannot read the scene list' in p.stderr and 'Traceback' not in p.stderr


def test_workers_get_core_without_qgis(tmp_path):
    import zipfile
    with zipfile.ZipFile(batch.core_zip(str(tmp_path))) as z:
        names = z.namelist()
    assert 'cargowatch/__init__.py' in names and 'cargowatch/core/batch.py' in names
    assert not [n for n in names if not n.startswith('cargowatch/core/') and n != 'cargowatch/__init__.py']
    code = ('import sys; sys.modules["qgis"] = None; sys.path.insert(0, sys.argv[1]); '
            'import cargowatch.core.batch, cargowatch.core.containers, cargowatch.core.pits')
    subprocess.run([sys.executable, '-c', code, str(tmp_path / 'cargowatch.zip')], check=True, cwd=str(tmp_path))


def test_each_scene_counted_with_the_sun_its_metadata_gives(tmp_path, monkeypatch):
    """By default a scene is counted as countcontainers counts it: a scene of up to AUTO_VIEWS_PX pixels with four
    views (its sun not used); a larger one with one view, and when its metadata gives the sun's azimuth by the
    sun-turned network told that sun; one without, by the model asked for."""
    import math
    from osgeo import gdal
    sc = scenes.port_scene(seed=11, gsd=0.4, size_px=400)
    plain, told = (scenes.write_scene(sc, tmp_path / name) for name in ('plain.tif', 'told.tif'))
    az = math.degrees(sc.meta['sun'][0]) % 360
    ds = gdal.Open(str(told), gdal.GA_Update)
    ds.SetMetadataItem('SUN_AZIMUTH', f'{az:.2f}')
    ds = None

    def centres(path, params=None):
        share = batch.count_share('containers', path, 0, 1, params)
        return sorted(map(tuple, np.round(share['detections']['geometry'].mean(axis=1), 2)))
    four = containers.ContainerParams(views=4)
    assert centres(told) == centres(plain) == centres(plain, four)
    monkeypatch.setattr(containers, 'AUTO_VIEWS_PX', 100)      # as if the scenes were larger: one view
    assert centres(told) == centres(plain, containers.ContainerParams(model='sun', sun_azimuth=round(az, 2)))
    assert centres(plain) == centres(plain, containers.ContainerParams()) != centres(told) != centres(plain, four)
