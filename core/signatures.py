"""Container signatures: the size-class x colour mix of a site, and how alike two sites are.

A *signature* is the share of containers in each (size_class, colour) category, built
from the records of the container count (each record one container top with a ``containers``
count of 1, a ``size_class`` and a ``colour``) or of any layer with those fields. Records are weighted
by their ``containers`` field when present (a hand-drawn feature standing for 6 boxes counts 6), else 1.

Similarity measure: the histogram intersection ``sum_k min(p_k, q_k)`` of the two
normalised mixes. Why this one:
- it reads directly as "the share of the mix the two sites have in common" (0.8 = 80 %
  of the containers could be paired with a same-size, same-colour one at the other site
  once both are scaled to the same total), which is the question the analyst asks;
- it is bounded 0..1, symmetric, and independent of how many containers each site has;
- it is 1 - total variation distance, so it is not dominated by rare categories the way
  chi-square or KL divergence are, and it is defined when a category is empty on one side.
Alongside it each pair reports ``common_a``/``common_b`` (share of each site's containers
in categories that the other site also has at all) and a chi-square test p-value of
"same mix" on the raw counts, so that a high similarity from a handful of containers is
not over-read.
"""
from collections import OrderedDict

import numpy as np

from .errors import CargoWatchError

UNKNOWN = 'unknown'


def signature(records, weight_field='containers'):
    """Counts per (size_class, colour) -> OrderedDict sorted by key; records are dicts."""
    counts = {}
    for r in records:
        size = r.get('size_class') or UNKNOWN
        colour = r.get('colour') or UNKNOWN
        wgt = r.get(weight_field) if weight_field else None
        try:
            wgt = float(wgt) if wgt is not None else 1.0
        except (TypeError, ValueError):
            wgt = 1.0
        if not np.isfinite(wgt) or wgt <= 0:
            continue
        key = (str(size), str(colour))
        counts[key] = counts.get(key, 0.0) + wgt
    return OrderedDict(sorted(counts.items()))


def shares(sig):
    total = float(sum(sig.values()))
    return OrderedDict((k, v / total) for k, v in sig.items()) if total > 0 else OrderedDict()


def similarity(sig_a, sig_b):
    """Histogram intersection of the two normalised mixes (0..1)."""
    pa, pb = shares(sig_a), shares(sig_b)
    keys = set(pa) | set(pb)
    return float(sum(min(pa.get(k, 0.0), pb.get(k, 0.0)) for k in keys))


def common_share(sig_a, sig_b):
    """Share of A's containers in categories B also has (any amount)."""
    pa = shares(sig_a)
    return float(sum(v for k, v in pa.items() if sig_b.get(k, 0) > 0))


def chi2_pvalue(sig_a, sig_b):
    """p-value of a chi-square test that both sites draw from the same mix (None when
    there is too little data: fewer than 2 categories or an empty site)."""
    keys = sorted(set(sig_a) | set(sig_b))
    if len(keys) < 2 or not sig_a or not sig_b:
        return None
    table = np.array([[sig_a.get(k, 0.0) for k in keys], [sig_b.get(k, 0.0) for k in keys]])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return None
    from scipy.stats import chi2_contingency
    try:
        _, p, _, _ = chi2_contingency(np.round(table), correction=False)
    except ValueError:
        return None
    return float(p)


def compare_sites(named_records, weight_field='containers'):
    """``named_records``: list of (name, records). Returns (mix_rows, pair_rows):

    mix_rows: dicts layer, size_class, colour, containers (weighted count), share.
    pair_rows: dicts layer_a, layer_b, similarity, common_a, common_b, p_same_mix,
    containers_a, containers_b."""
    if len(named_records) < 2:
        raise CargoWatchError('Give at least two container layers to compare.')
    names = [n for n, _ in named_records]
    if len(set(names)) != len(names):
        raise CargoWatchError(f'Each layer needs a distinct name; got {names}.')
    sigs = []
    for name, recs in named_records:
        sig = signature(recs, weight_field)
        if not sig:
            raise CargoWatchError(f'The layer "{name}" holds no container detections to compare.')
        sigs.append((name, sig))
    mix = []
    for name, sig in sigs:
        for (size, colour), share in shares(sig).items():
            mix.append(dict(layer=name, size_class=size, colour=colour, containers=round(sig[(size, colour)], 3),
                            share=round(share, 4)))
    pairs = []
    for i in range(len(sigs)):
        for j in range(i + 1, len(sigs)):
            (na, sa), (nb, sb) = sigs[i], sigs[j]
            p = chi2_pvalue(sa, sb)
            pairs.append(dict(layer_a=na, layer_b=nb, similarity=round(similarity(sa, sb), 4),
                              common_a=round(common_share(sa, sb), 4), common_b=round(common_share(sb, sa), 4),
                              p_same_mix=None if p is None else round(p, 4),
                              containers_a=round(sum(sa.values()), 3), containers_b=round(sum(sb.values()), 3)))
    return mix, pairs
