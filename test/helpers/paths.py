"""Where things are: the checkout, its sample data and the shared real data of ../shared (absent on a fresh clone
elsewhere: tests that need it skip with a visible reason)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / 'sample_data'
SHARED = ROOT.parent / 'shared'
SHARED_AIS = SHARED / 'data' / 'ais'
SHARED_IMAGERY = SHARED / 'data' / 'imagery'


def needs_shared(path, what):
    """A skipif mark for tests that read ``path`` (under ../shared), with the reason spelled out."""
    return pytest.mark.skipif(not Path(path).exists(), reason=f'{what} not found at {path} (../shared is not '
                                                              'part of the checkout)')


def write_bytes(tmp_path, data, name='r.tif'):
    """``data`` written to ``tmp_path / name``; its path as a string."""
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)
