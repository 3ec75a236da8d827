"""Damaged GeoTIFFs given to cargowatch:countcontainers / countpits in real QGIS (issue #23): a broken
georeferencing and a few of tools/fuzz_raster.py's cases give a clear error or a result, never a traceback or
a frozen QGIS."""
import sys

import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from helpers.paths import ROOT, write_bytes as write

sys.path.insert(0, str(ROOT / 'tools'))
import fuzz_raster  # noqa: E402

from cargowatch.core import raster as core_raster  # noqa: E402

NAN, INF = float('nan'), float('inf')


def detector_run(kind, path, tmp_path):
    import processing
    alg = 'cargowatch:countcontainers' if kind == 'containers' else 'cargowatch:countpits'
    return processing.run(alg, {'INPUT': path, 'OUTPUT': str(tmp_path / 'out.gpkg')})


@pytest.mark.parametrize('gt, srs, says', [
    ((525100, NAN, 0, 4678300, 0, -0.5), 'EPSG:32652', 'not a finite number'),
    ((INF, 0.5, 0, 4678300, 0, -0.5), 'EPSG:32652', 'not a finite number'),
    ((525100, 1e-9, 0, 4678300, 0, -1e-9), 'EPSG:32652', 'not plausible'),
    ((525100, 1e300, 0, 4678300, 0, -1e300), 'EPSG:32652', 'not plausible'),
    ((NAN, 1e-5, 0, 40, 0, -1e-5), 'EPSG:4326', 'not a finite number'),
    ((1e300, 1e-5, 0, 40, 0, -1e-5), 'EPSG:4326', 'not on the Earth'),
    ((129, 1e-5, 0, 95, 0, -1e-5), 'EPSG:4326', 'not on the Earth'),
    ((40, 1e-12, 0, 45, 0, -1e-12), 'EPSG:4326', 'not plausible'),  # the count of pits froze on it
])
def test_damaged_georeferencing_is_a_clear_error(tmp_path, gt, srs, says):
    """Values a flipped exponent bit leaves in ModelPixelScale / ModelTiepoint: before the fix a NaN pixel
    size crashed the pits detector (ValueError) and a NaN origin the geographic path; 1e-12 degree pixels
    kept the pits detector busy for minutes."""
    p = str(tmp_path / 'g.tif')
    gdal.Translate(p, str(ROOT / 'sample_data' / 'tikhoretsk_after.tif'), srcWin=[400, 400, 96, 96], outputSRS=srs)
    ds = gdal.Open(p, gdal.GA_Update)
    ds.SetGeoTransform(gt)
    ds = None
    with pytest.raises(core_raster.RasterError, match=says):
        core_raster.open_raster(p)
    with pytest.raises(QgsProcessingException, match=says):
        detector_run('pits', p, tmp_path)


def test_mangled_geotiffs_through_processing(tmp_path, base_set):
    """A few of the fuzzer's cases and a plain cut file through both algorithms: a result or a
    QgsProcessingException."""
    outcomes = []
    cases = [fuzz_raster.make_case(i, 0, base_set) for i in range(6)]
    data, kind = base_set['containers_plain_strips']
    cases.append(('cut', kind, data[:len(data) // 2], 'cut in half'))
    for k, (_name, kind, data, _desc) in enumerate(cases):
        path = write(tmp_path, data, 'case{}.tif'.format(k))
        try:
            res = detector_run(kind, path, tmp_path)
        except QgsProcessingException as e:
            assert 'Traceback' not in str(e), str(e)  # how a Python error inside the algorithm arrives
            outcomes.append('refused')
            continue
        assert res['COUNT'] >= 0
        outcomes.append('read')
    assert outcomes[-1] == 'refused' and 'read' in outcomes
