"""Damaged GeoTIFFs through core.raster and the detectors (issue #23; tools/fuzz_raster.py, whose
longer run is `make fuzz`): a clear error or a result, never a hang."""
import sys
import time


from helpers.paths import ROOT, write_bytes as write

sys.path.insert(0, str(ROOT / 'tools'))
import fuzz_raster  # noqa: E402
import fuzzing  # noqa: E402


NAN, INF = float('nan'), float('inf')


def test_every_base_is_read_before_mutation(tmp_path, base_set):
    assert len(base_set) == 8
    found = {name: fuzz_raster.detect(write(tmp_path, data), kind) for name, (data, kind) in base_set.items()}
    assert all(n > 0 for name, n in found.items() if name != 'pits_epsg4326'), found  # a 96 m crop: few pits


def test_a_hang_is_a_failure_of_the_fuzzer():
    def spin():
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            pass
    result, error = fuzzing.attempt(spin, 0.2)
    assert result is None and error.startswith('Hang: still running after 0.2 s')


def test_mangled_geotiffs_through_the_detectors(tmp_path):
    failures, outcomes, _slowest = fuzz_raster.run(40, seed=0, workdir=str(tmp_path))
    assert not failures, '\n'.join('case {case} ({base}; {mutation}): {error}'.format(**f) for f in failures)
    assert outcomes['read'] >= 5 and outcomes['refused'] >= 20
