"""The pure parts of core/report.py: image dates from names and TIFF tags, the sample of detections shown as
chips, the counts-over-time chart (SVG)."""
import re

from cargowatch.core import report


def test_dates_sample_and_chart():
    assert report.image_date('/a/yard_2024-05-20.tif') == report.image_date('yard20240520.tif') == '2024-05-20'
    assert report.image_date('scene.tif', '2023:01:02 10:00:00') == '2023-01-02'
    assert report.image_date('scene_20241340.tif') is None and report.image_date('scene.tif') is None
    dets = [{'confidence': c / 100} for c in range(100)]
    picked = [d['confidence'] for d in report.sample(dets, 5)]
    assert picked == [0.99, 0.74, 0.49, 0.25, 0.0]
    assert report.counts_chart_svg([('pits', [])]) is None
    svg = report.counts_chart_svg([('pits', [('2024-01-01', 3), ('2024-03-01', 9)]), ('TEU', [('2024-02-01', 5)])])
    assert svg.count('<circle class="point"') == 3 and '<title>pits 2024-03-01: 9</title>' in svg
    # a later date is drawn further right, a larger count higher up
    xs = [float(x) for x in re.findall(r'cx="([\d.]+)"', svg)]
    ys = [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]
    assert xs[0] < xs[2] < xs[1] and ys[1] < ys[2] < ys[0]
