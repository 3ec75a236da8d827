"""The sites GeoPackage: a valid GeoPackage QGIS/OGR read, transactions, concurrent writers, bad files."""
import multiprocessing
import os
import sqlite3
import stat

import pytest
from osgeo import ogr

from cargowatch.core.site_store import SiteStore, SiteStoreError

DEPOT = 'POLYGON ((129.60 42.24, 129.62 42.24, 129.62 42.26, 129.60 42.26, 129.60 42.24))'


def test_sites_and_observations_round_trip(tmp_path):
    path = tmp_path / 'sites.gpkg'
    with SiteStore(path) as store:
        port = store.add_site('Rajin port', wkt='POINT (130.30 42.24)', kind='port', country='KP', notes='pier 3')
        depot = store.add_site('Tumangang depot', wkt=DEPOT, kind='depot', country='KP')
        store.add_observation(depot, '2024-03-01', pits=80, source='WV3')
        store.add_observation(depot, '2024-06-01', pits=112, containers=40, teu=60.5, source='PNEO', note='climbing')
        obs = store.add_observation(port, '2024-05-01', containers=120)
        store.update_observation(obs, containers=130, note='recount')
        store.update_site(port, name='Rajin port (pier 3)', wkt='POINT (130.31 42.25)')
    with SiteStore(path, create=False) as store:
        sites = {s.name: s for s in store.sites()}
        assert set(sites) == {'Rajin port (pier 3)', 'Tumangang depot'}
        d = sites['Tumangang depot']
        assert (d.last_date, d.last_pits, d.last_containers, d.last_teu, d.n_obs) == ('2024-06-01', 112, 40, 60.5, 2)
        assert [o.pits for o in store.observations(d.fid)] == [80, 112]
        p = sites['Rajin port (pier 3)']
        assert p.last_containers == 130 and store.observations(p.fid)[0].note == 'recount'
        store.delete_site(d.fid)
        assert [s.name for s in store.sites()] == ['Rajin port (pier 3)']
        assert store.observations(d.fid) == []

    # a valid GeoPackage that OGR (hence QGIS) reads: geometry, attributes, dates, extent
    ds = ogr.Open(str(path))
    assert ds.GetDriver().GetName() == 'GPKG'
    lyr = ds.GetLayerByName('sites')
    assert lyr.GetSpatialRef().GetAuthorityCode(None) == '4326'
    f = lyr.GetNextFeature()
    assert f['name'] == 'Rajin port (pier 3)'
    assert f.GetGeometryRef().ExportToWkt() == 'POINT (130.31 42.25)'
    obs = ds.GetLayerByName('observations')
    assert obs.GetFeatureCount() == 1
    assert obs.GetLayerDefn().GetFieldDefn(obs.GetLayerDefn().GetFieldIndex('date')).GetTypeName() == 'Date'
    con = sqlite3.connect(str(path))
    assert con.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    assert con.execute('PRAGMA application_id').fetchone()[0] == 0x47504B47


def test_bad_values_are_refused_and_nothing_changes(tmp_path):
    with SiteStore(tmp_path / 's.gpkg') as store:
        fid = store.add_site('A', wkt='POINT (1 2)')
        for bad in (dict(date='yesterday'), dict(date='2024-01-01', pits=-3), dict(date='2024-01-01', teu='x')):
            with pytest.raises((SiteStoreError, ValueError)):
                store.add_observation(fid, **bad)
        with pytest.raises(SiteStoreError, match='name'):
            store.add_site('  ', wkt='POINT (1 2)')
        with pytest.raises(SiteStoreError, match='no longer exists'):
            store.add_observation(fid + 99, '2024-01-01', pits=1)
        assert store.observations() == [] and len(store.sites()) == 1


def test_read_only_file_reads_but_refuses_writes(tmp_path):
    path = tmp_path / 'ro.gpkg'
    with SiteStore(path) as store:
        store.add_site('Kept', wkt='POINT (1 2)')
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP)
    # as root, permissions do not bind: then open it read-only on purpose (as a read-only mount would)
    with SiteStore(path, read_only=True if os.access(path, os.W_OK) else None) as store:
        assert store.read_only and [s.name for s in store.sites()] == ['Kept']
        with pytest.raises(SiteStoreError, match='read-only'):
            store.add_site('Lost', wkt='POINT (1 2)')


def test_locked_file_gives_a_clear_error_and_keeps_data(tmp_path):
    path = tmp_path / 'locked.gpkg'
    with SiteStore(path) as store:
        fid = store.add_site('Depot', wkt='POINT (1 2)')
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute('BEGIN EXCLUSIVE')  # another program holds the write lock
    try:
        store = SiteStore(path, timeout_s=0.2)
        with pytest.raises(SiteStoreError, match='locked'):
            store.add_observation(fid, '2024-01-01', pits=5)
    finally:
        holder.execute('ROLLBACK')
        holder.close()
    store.add_observation(fid, '2024-01-01', pits=5)  # works once the other program lets go
    assert store.site(fid).last_pits == 5
    store.close()


def test_not_a_geopackage(tmp_path):
    path = tmp_path / 'other.gpkg'
    con = sqlite3.connect(str(path))
    con.execute('CREATE TABLE t (a)')
    con.commit()
    con.close()
    with pytest.raises(SiteStoreError, match='not a GeoPackage'):
        SiteStore(path)
    (tmp_path / 'junk.gpkg').write_bytes(b'not sqlite at all' * 100)
    with pytest.raises(SiteStoreError):
        SiteStore(tmp_path / 'junk.gpkg')


def _writer(path, site_fid, who, n):
    from cargowatch.core.site_store import SiteStore as Store
    with Store(path, timeout_s=30) as store:
        for i in range(n):
            store.add_observation(site_fid, f'2024-01-{1 + i % 28:02d}', containers=i, source=who)


def test_two_processes_writing_the_same_file(tmp_path):
    path = str(tmp_path / 'shared.gpkg')
    with SiteStore(path) as store:
        fid = store.add_site('Busy port', wkt='POINT (1 2)')
    ctx = multiprocessing.get_context('spawn')
    procs = [ctx.Process(target=_writer, args=(path, fid, f'window{k}', 40)) for k in range(2)]
    for p in procs:
        p.start()
    # and this "window" reads and edits the site meanwhile
    with SiteStore(path, timeout_s=30) as store:
        for i in range(20):
            store.update_site(fid, notes=f'edit {i}')
            store.sites()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with SiteStore(path) as store:
        obs = store.observations(fid)
        assert len(obs) == 80
        assert {o.source for o in obs} == {'window0', 'window1'}
        assert store.site(fid).n_obs == 80 and store.site(fid).notes == 'edit 19'
    con = sqlite3.connect(path)
    assert con.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    ds = ogr.Open(path)  # held: a layer must not outlive its data source
    assert ds.GetLayerByName('observations').GetFeatureCount() == 80


def test_header_is_a_geopackage_while_open(tmp_path):
    """GDAL reads the application id from the file's first page: it must be there before any checkpoint."""
    path = tmp_path / 'live.gpkg'
    store = SiteStore(path)
    store.add_site('Open', wkt='POINT (1 2)')
    head = path.read_bytes()[:100]
    assert head[68:72] == b'GPKG'
    from osgeo import gdal
    gdal.ErrorReset()
    with gdal.quiet_errors() if hasattr(gdal, 'quiet_errors') else _null():
        ds = ogr.Open(str(path))
    assert ds is not None and ds.GetLayerByName('sites').GetFeatureCount() == 1
    assert 'application_id' not in (gdal.GetLastErrorMsg() or '')
    store.close()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _add_then_crash(path, fid):
    from cargowatch.core.site_store import SiteStore as Store
    store = Store(path)
    store.add_observation(fid, '2024-04-01', containers=77, note='before the crash')
    os._exit(3)  # QGIS dies: no close, no checkpoint


def test_an_edit_survives_a_crash(tmp_path):
    path = str(tmp_path / 'crash.gpkg')
    with SiteStore(path) as store:
        fid = store.add_site('Depot', wkt='POINT (1 2)')
    p = multiprocessing.get_context('spawn').Process(target=_add_then_crash, args=(path, fid))
    p.start()
    p.join(60)
    assert p.exitcode == 3
    with SiteStore(path) as store:
        assert [(o.containers, o.note) for o in store.observations(fid)] == [(77, 'before the crash')]
    ds = ogr.Open(path)
    assert ds.GetLayerByName('observations').GetFeatureCount() == 1


def test_written_by_ogr_and_seen_by_other_readers_while_open(tmp_path):
    """The writes go through OGR's layer API: another reader (QGIS's own OGR connection) sees the layer's extent
    and feature count while the store is still open; no hand-made geometry blobs or raw SQL writes remain."""
    import inspect
    import cargowatch.core.site_store as module
    source = inspect.getsource(module)
    assert 'sqlite3' not in source and 'struct' not in source
    path = str(tmp_path / 'live.gpkg')
    store = SiteStore(path)
    store.add_site('A', wkt='POINT (1 2)')
    b = store.add_site('B', wkt='POLYGON ((10 20, 11 20, 11 21, 10 21, 10 20))')
    store.update_site(b, wkt='POINT (12 22)')
    ds = ogr.Open(path)
    lyr = ds.GetLayerByName('sites')
    assert lyr.GetFeatureCount() == 2
    assert lyr.GetExtent(force=0) == (1.0, 12.0, 2.0, 22.0)
    assert sorted(f.GetGeometryRef().ExportToWkt() for f in lyr) == ['POINT (1 2)', 'POINT (12 22)']
    ds = None
    store.close()


def test_an_error_half_way_through_an_edit_changes_nothing(tmp_path, monkeypatch):
    path = str(tmp_path / 'half.gpkg')
    with SiteStore(path) as store:
        fid = store.add_site('Depot', wkt='POINT (1 2)')
        store.add_observation(fid, '2024-01-01', pits=3)

        def fail(*_):
            raise SiteStoreError('the disk went away')
        # the observation is written, then updating the site's latest counts fails: the whole edit is undone
        monkeypatch.setattr(SiteStore, '_refresh_latest', fail)
        with pytest.raises(SiteStoreError, match='disk went away'):
            store.add_observation(fid, '2024-02-01', pits=99)
        with pytest.raises(SiteStoreError, match='disk went away'):
            store.delete_observation(store.observations(fid)[0].fid)
        monkeypatch.undo()
        assert [o.pits for o in store.observations(fid)] == [3] and store.site(fid).last_pits == 3
        store.add_observation(fid, '2024-02-01', pits=4)  # the store goes on working
        assert store.site(fid).last_pits == 4 and store.site(fid).n_obs == 2


def _die_half_way(path, fid):
    from cargowatch.core.site_store import SiteStore as Store

    def die(*_):
        os._exit(4)  # QGIS killed after the observation is written, before the site is updated and committed
    Store._refresh_latest = die
    Store(path).add_observation(fid, '2024-05-01', containers=999, note='never committed')


def test_a_crash_half_way_through_an_edit_leaves_the_previous_file(tmp_path):
    path = str(tmp_path / 'killed.gpkg')
    with SiteStore(path) as store:
        fid = store.add_site('Depot', wkt='POINT (1 2)')
        store.add_observation(fid, '2024-04-01', containers=77)
    p = multiprocessing.get_context('spawn').Process(target=_die_half_way, args=(path, fid))
    p.start()
    p.join(60)
    assert p.exitcode == 4
    ds = ogr.Open(path)  # readable by OGR as it was
    assert ds is not None and ds.GetLayerByName('observations').GetFeatureCount() == 1
    ds = None
    with SiteStore(path) as store:
        assert [o.containers for o in store.observations(fid)] == [77]
        assert store.site(fid).last_containers == 77 and store.site(fid).n_obs == 1
        store.add_observation(fid, '2024-06-01', containers=80)  # and writable
    con = sqlite3.connect(path)
    assert con.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
