"""Gaps equal MovingPandas' ObservationGapSplitter splits on the real samples.

Runs bench/mp_crosscheck.py in MovingPandas' own venv (bench/.venv-mp, made by `sh bench/setup_mp.sh`);
skipped when that venv is absent: MovingPandas is never a CargoWatch dependency."""
import json
import subprocess

import pytest

from helpers.paths import needs_shared, ROOT, SHARED_AIS

MP_PY = ROOT / 'bench' / '.venv-mp' / 'bin' / 'python'


@pytest.mark.skipif(not MP_PY.exists(), reason='MovingPandas venv absent (sh bench/setup_mp.sh)')
@needs_shared(SHARED_AIS, 'the shared AIS samples')
def test_gaps_equal_movingpandas_splits():
    proc = subprocess.run([str(MP_PY), str(ROOT / 'bench' / 'mp_crosscheck.py')], capture_output=True, text=True,
                          timeout=300)
    cases = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(cases) >= 7 and all(c['pieces_equal'] and c['gaps_equal'] for c in cases)
    six = [c for c in cases if c['case'] == 'trajectools_ais.gpkg' and c['gap_h'] == 6.0][0]
    assert six['our_gaps'] == 4 and six['longest_gap_h'] == pytest.approx(35.0, abs=0.01)
