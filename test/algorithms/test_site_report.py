"""cargowatch:sitereport: the HTML report opened in a real headless browser (Debian's chromium), what it shows
checked against the algorithms' own results; bad input (the pure parts of core/report.py: test/core/test_report.py)."""
import hashlib
import html
import json
import os
import re
import shutil
import subprocess

import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

from helpers import scenes
from helpers.paths import ROOT
from helpers.qgis_run import run_qgis_process

SAMPLE = ROOT / 'sample_data'
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
# the Rajin site's south-west corner (sample sites, EPSG:4326 130.273 E 42.22 N) in UTM 52N: the generated yard
# straddles it, so the site outline crosses the images and only part of the yard is inside the site
CORNER = (605063.8, 4674987.4)
ORIGIN = (CORNER[0] - 50.0, CORNER[1] + 100.0)


def run(alg, params):
    import processing
    return processing.run(alg, params, context=QgsProcessingContext(), feedback=QgsProcessingFeedback())


def browser(*args, timeout=120):
    if CHROMIUM is None:
        pytest.skip('chromium is not installed (make deps installs it)')
    return subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                           '--disable-dev-shm-usage', *args], capture_output=True, text=True, timeout=timeout)


PROBE = """<script>window.addEventListener('load', () => {
  const q = (s) => [...document.querySelectorAll(s)];
  const out = {title: document.title, h1: document.querySelector('h1').innerText,
    maps: q('img.map').map(i => [i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width]),
    chips: q('.chip img').map(i => [i.naturalWidth, i.naturalHeight]),
    conf: q('.chip .conf').map(s => s.innerText),
    points: q('svg.chart circle.point').map(c => c.textContent),
    legend: q('svg.chart text.legend').map(t => t.textContent),
    rows: Object.fromEntries(['calls', 'voyages', 'gaps', 'recorded', 'inputs', 'versions'].map(
      c => [c, Math.max(0, q('table.' + c + ' tr').length - 1)])),
    text: document.body.innerText};
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""


def shown(report, tmp_path):
    """What chromium shows of ``report``: a copy with a probe script is loaded and its DOM dumped."""
    probe = tmp_path / 'probe.html'
    probe.write_text(report.read_text(encoding='utf-8').replace('</body>', PROBE + '</body>'), encoding='utf-8')
    proc = browser('--virtual-time-budget=5000', '--dump-dom', probe.as_uri())
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stderr[-2000:]
    return json.loads(html.unescape(m.group(1)))


@pytest.fixture(scope='module')
def rajin(tmp_path_factory):
    """A sites GeoPackage with the sample's three ports and one recorded observation at Rajin, two dated images
    of a yard straddling Rajin's south-west corner, and the sample AIS imported."""
    from osgeo import ogr
    from cargowatch.core.site_store import SiteStore
    folder = tmp_path_factory.mktemp('rajin')
    store = folder / 'sites.gpkg'
    src = ogr.Open(str(SAMPLE / 'dunai_rajin_sites.gpkg'))
    with SiteStore(store) as s:
        for f in src.GetLayer(0):
            fid = s.add_site(f.GetField('name'), wkt=f.GetGeometryRef().ExportToWkt(), kind='port')
            if f.GetField('name') == 'Rajin':
                s.add_observation(fid, '2023-12-01', containers=40, teu=61, source='analyst', note='by hand')
        s.add_site('Cowes', wkt='POINT(-1.296 50.763)', kind='port')  # the panel also keeps point sites
    images = []
    for seed, date in ((12, '2024-03-01'), (11, '2024-06-01')):
        sc = scenes.port_scene(seed=seed, gsd=0.5, size_px=300)
        images.append(scenes.write_scene(sc, folder / f'rajin_yard_{date}.tif', origin=ORIGIN))
    from osgeo import gdal
    ds = gdal.Open(str(images[0]), gdal.GA_Update)      # the first image's metadata gives the sun (as a DIMAP's does)
    ds.SetMetadataItem('SUN_AZIMUTH', '150.0')
    ds = None
    positions = folder / 'positions.gpkg'
    run('cargowatch:importais', {'INPUT': str(SAMPLE / 'dunai_rajin_ais.nmea.gz'), 'OUTPUT': str(positions)})
    return {'folder': folder, 'store': str(store), 'images': images, 'positions': str(positions),
            'site': f'{store}|layername=sites'}


def test_report_in_a_browser(rajin, tmp_path):
    out = tmp_path / 'rajin.html'
    res = run('cargowatch:sitereport', {'SITE': rajin['site'], 'SITE_NAME': 'rajin', 'RASTERS': rajin['images'][::-1],
                                        'POSITIONS': rajin['positions'], 'NEAR_NM': 10, 'OUTPUT': str(out)})
    page = out.read_text(encoding='utf-8')
    assert not re.search(r'(src|href)="(?!data:)', page)  # self-contained: every image embedded
    # what the detector finds inside the site on the latest image
    site = QgsVectorLayer(rajin['site'], 'sites', 'ogr')
    site.setSubsetString("name = 'Rajin'")
    latest = run('cargowatch:countcontainers', {'INPUT': rajin['images'][1], 'AOI': site, 'OUTPUT': 'TEMPORARY_OUTPUT'})
    first = run('cargowatch:countcontainers', {'INPUT': rajin['images'][0], 'AOI': site, 'OUTPUT': 'TEMPORARY_OUTPUT'})
    everywhere = run('cargowatch:countcontainers', {'INPUT': rajin['images'][1], 'OUTPUT': 'TEMPORARY_OUTPUT'})
    assert 10 < latest['COUNT'] < everywhere['COUNT']  # the yard straddles the site's corner
    assert (res['CONTAINER_COUNT'], res['TEU'], res['IMAGES_COUNTED']) == (latest['COUNT'], latest['TEU'], 2)
    ports = rajin['site'] + '|subset="name" <> \'Cowes\''  # countvoyages takes polygons only
    calls = run('cargowatch:countvoyages', {'INPUT': rajin['positions'], 'SITES': ports,
                                            'OUTPUT': 'TEMPORARY_OUTPUT', 'CALLS': 'TEMPORARY_OUTPUT'})['CALLS']
    rajin_calls = [f for f in calls.getFeatures() if f['site'] == 'Rajin']
    assert res['CALL_COUNT'] == len(rajin_calls) > 0

    seen = shown(out, tmp_path)
    assert seen['title'] == seen['h1'] == 'Site evidence report: Rajin'
    assert len(seen['maps']) == 2 and all(w > 100 and h > 100 and shown_w > 100 for w, h, shown_w in seen['maps'])
    confidences = sorted((f['confidence'] for f in latest['OUTPUT'].getFeatures()), reverse=True)
    assert len(seen['chips']) == 12 and all(w > 50 for w, _ in seen['chips'])
    shown_conf = [float(c.split()[-1]) for c in seen['conf']]
    assert shown_conf[0] == pytest.approx(confidences[0], abs=0.0051)      # shown with two decimals
    assert shown_conf[-1] == pytest.approx(confidences[-1], abs=0.0051)  # the doubtful ones are shown too
    assert shown_conf == sorted(shown_conf, reverse=True)
    # chart: two image dates (containers, TEU) and the recorded observation (containers, TEU)
    assert sorted(seen['legend']) == ['TEU (images)', 'TEU (recorded)', 'containers (images)',
                                      'containers (recorded)']
    assert len(seen['points']) == 6
    assert f"containers (images) 2024-06-01: {latest['COUNT']}" in seen['points']
    assert f"containers (images) 2024-03-01: {first['COUNT']}" in seen['points']
    assert 'containers (recorded) 2023-12-01: 40' in seen['points']
    assert seen['rows']['calls'] == len(rajin_calls) and seen['rows']['recorded'] == 1
    assert seen['rows']['voyages'] == res['VOYAGE_COUNT'] > 0 and seen['rows']['gaps'] == res['GAP_COUNT']
    text = seen['text']
    for expected in ('2024-03-01 — rajin_yard_2024-03-01.tif', f"containers {latest['COUNT']}, TEU {latest['TEU']}",
                     'count is of the container tops the detector finds', 'not "hiding"', 'What these figures can and cannot',
                     'cargowatch:countcontainers (step)', 'SENSITIVITY=0.5',
                     "image 2024-03-01: the sun's azimuth", '150 degrees (SUN_AZIMUTH in its metadata): its containers '
                     'counted by the sun-turned network',
                     hashlib.sha256(open(rajin['images'][1], 'rb').read()).hexdigest(), 'QGIS', 'OpenCV'):
        assert expected in text, expected
    assert seen['rows']['inputs'] == 4  # site, positions, two images
    assert 'NULL' not in text

    shot = tmp_path / 'site_report.png'
    browser('--window-size=1100,1900', f'--screenshot={shot}', out.as_uri())
    from qgis.PyQt.QtGui import QImage
    img = QImage(str(shot))
    assert img.width() == 1100 and img.height() == 1900
    colours = {img.pixel(x, y) for x in range(0, 1100, 37) for y in range(0, 1900, 37)}
    assert len(colours) > 200  # text, map and chips drawn, not a blank page
    target = ROOT / 'docs' / 'img' / 'site_report.png'
    if os.environ.get('CARGOWATCH_SCREENSHOTS') == '1' or not target.exists():
        shutil.copyfile(shot, target)


def test_report_of_pits_without_ais_and_an_image_off_site(rajin, tmp_path):
    from helpers import depot_scenes
    depot = str(tmp_path / 'depot_20240720.tif')
    depot_scenes.depot_scene(depot, seed=5, n_old=0, n_new=8, size=(150.0, 150.0), distractors=False)
    square = tmp_path / 'depot.gpkg'
    from helpers.qgis_run import write_aoi
    x, y = depot_scenes.ORIGIN
    write_aoi(square, [(x + 10, y - 10), (x + 140, y - 10), (x + 140, y - 140), (x + 10, y - 140)], depot_scenes.EPSG)
    out = tmp_path / 'depot.html'
    res = run('cargowatch:sitereport', {'SITE': str(square), 'RASTERS': [depot, rajin['images'][0]], 'OBJECTS': 1,
                                        'OUTPUT': str(out)})
    direct = run('cargowatch:countpits', {'INPUT': depot, 'AOI': str(square), 'OUTPUT': 'TEMPORARY_OUTPUT'})
    assert res['PIT_COUNT'] == direct['COUNT'] > 0 and res['IMAGES_COUNTED'] == 1
    assert res['CALL_COUNT'] is None and res['CONTAINER_COUNT'] is None
    page = out.read_text(encoding='utf-8')
    assert 'Not counted: the image does not cover the site.' in page and 'No AIS positions given.' in page
    assert f"pits {direct['COUNT']}" in page
    # the same through qgis_process
    _, qp = run_qgis_process('cargowatch:sitereport', {'SITE': square, 'RASTERS': [depot, rajin['images'][0]],
                                                       'OBJECTS': 1, 'OUTPUT': tmp_path / 'qp.html'})
    assert qp['PIT_COUNT'] == direct['COUNT'] and qp['IMAGES_COUNTED'] == 1
    assert f"pits {direct['COUNT']}" in (tmp_path / 'qp.html').read_text(encoding='utf-8')


def test_bad_input_is_a_clear_error(rajin, tmp_path):
    out = str(tmp_path / 'x.html')
    with pytest.raises(QgsProcessingException, match='No site named "Atlantis".*Rajin'):
        run('cargowatch:sitereport', {'SITE': rajin['site'], 'SITE_NAME': 'Atlantis', 'OUTPUT': out})
    with pytest.raises(QgsProcessingException, match='"cowes" has no outline.*draw it as a polygon'):
        run('cargowatch:sitereport', {'SITE': rajin['site'], 'SITE_NAME': 'cowes', 'OUTPUT': out})
    with pytest.raises(QgsProcessingException, match='holds 3 sites.*give the site name'):
        run('cargowatch:sitereport', {'SITE': rajin['site'], 'OUTPUT': out})
    with pytest.raises(QgsProcessingException, match='1 dates given for 2 images'):
        run('cargowatch:sitereport', {'SITE': rajin['site'], 'SITE_NAME': 'Rajin', 'RASTERS': rajin['images'],
                                      'DATES': '2024-01-01', 'OUTPUT': out})
    with pytest.raises(QgsProcessingException, match='"2024-13-01" is not a date'):
        run('cargowatch:sitereport', {'SITE': rajin['site'], 'SITE_NAME': 'Rajin', 'RASTERS': rajin['images'][:1],
                                      'DATES': '2024-13-01', 'OUTPUT': out})
    assert not os.path.exists(out)
