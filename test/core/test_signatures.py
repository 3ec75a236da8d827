"""Container signatures in core/signatures.py: similarity, weighting, p-value, bad input."""
import pytest

from cargowatch.core import signatures as core
from cargowatch.core.errors import CargoWatchError

def recs(spec):
    """spec: {(size, colour): containers}"""
    out = []
    for (size, colour), n in spec.items():
        for _ in range(n):
            out.append({'size_class': size, 'colour': colour, 'containers': 1})
    return out


RAJIN = {('40ft', 'blue'): 30, ('40ft', 'red'): 20, ('20ft', 'grey'): 10}


def test_identical_mix_is_one_whatever_the_totals():
    a = core.signature(recs(RAJIN))
    b = core.signature(recs({k: 3 * v for k, v in RAJIN.items()}))
    assert core.similarity(a, b) == pytest.approx(1.0)
    assert core.common_share(a, b) == pytest.approx(1.0)


def test_disjoint_mix_is_zero():
    a = core.signature(recs({('40ft', 'blue'): 5}))
    b = core.signature(recs({('20ft', 'red'): 5}))
    assert core.similarity(a, b) == 0.0
    assert core.common_share(a, b) == 0.0


def test_partial_overlap_is_the_share_in_common():
    a = core.signature(recs({('40ft', 'blue'): 50, ('20ft', 'red'): 50}))
    b = core.signature(recs({('40ft', 'blue'): 80, ('20ft', 'white'): 20}))
    assert core.similarity(a, b) == pytest.approx(0.5)
    assert core.common_share(a, b) == pytest.approx(0.5)
    assert core.common_share(b, a) == pytest.approx(0.8)


def test_blocks_weighted_by_their_container_count():
    sig = core.signature([{'size_class': 'block', 'colour': 'blue', 'containers': 6},
                          {'size_class': '20ft', 'colour': 'blue', 'containers': 1}])
    assert sig[('block', 'blue')] == 6 and sig[('20ft', 'blue')] == 1


def test_pvalue_low_for_different_mixes_with_many_containers():
    a = core.signature(recs({('40ft', 'blue'): 300, ('20ft', 'red'): 100}))
    b = core.signature(recs({('40ft', 'blue'): 100, ('20ft', 'red'): 300}))
    assert core.chi2_pvalue(a, b) < 0.001
    same = core.signature(recs({('40ft', 'blue'): 30, ('20ft', 'red'): 10}))
    assert core.chi2_pvalue(a, same) > 0.05


def test_core_rejects_one_layer_or_empty_layers():
    with pytest.raises(CargoWatchError, match='at least two'):
        core.compare_sites([('a', recs(RAJIN))])
    with pytest.raises(CargoWatchError, match='no container'):
        core.compare_sites([('a', recs(RAJIN)), ('b', [])])
