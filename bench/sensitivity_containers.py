"""What the container model's Sensitivity does on the project's own generator, by ground resolution and for grey
(1-band) imagery: the share of tops found, precision and count error, and false containers per km² where there is
no container (benchmark, not a test).

    .venv/bin/python bench/sensitivity_containers.py [--patches 450] [--seed0 5500000] [--model wide|sun]
                                                     [--true-sun] [--markdown] [--write]

New 160 m patches of bench/container_gen.py (seeds from --seed0, not the training, validation or calibration seeds),
scored 16 m inside their edges and matched within 2 m as bench/calibrate_containers.py scores them; a third as many
patches of the same kinds without a container (``--true-sun``: the sun-turned model is told each patch's sun, as
a user tells it the image's). ``--markdown`` writes the tables into docs/benchmarks.md (section
"containers-sensitivity", "-wide" or "-sun"); ``--write`` records them in the model's sidecar (core/models/
containers.json, containers_wide.json or containers_sun.json: ``own_by_resolution``), where countcontainers reads them
to tell the user what to expect of a raster at its resolution. Run by hand after each model or threshold change.
Never reads ../shared.
"""
import argparse
import contextlib
import json
import sys

import numpy as np

import calibrate_containers as cc
from docs_section import section_from_output

gen, containers, scenes = cc.gen, cc.containers, cc.scenes
SENSITIVITIES = (0.0, 0.25, 0.5, 0.75, 1.0)
BRIGHTNESS = (0.0, 0.12, 0.2, 0.3, 0.45, 1.01)     # a top's mean grey (0-1) in the patch: from near-black to white
BANDS = ((0.3, 0.45), (0.45, 0.6), (0.6, 0.8))      # the generator draws 0.3-0.8 m


def band_name(lo, hi):
    return f'{lo:g}-{hi:g}'


def patch_gsd(seed):
    """The sensor resolution container_gen.patch draws first for ``seed``."""
    return float(np.random.default_rng(seed).uniform(*gen.GSD_RANGE))


def thresholds():
    """{sensitivity: the centre threshold core.containers.ContainerParams sets for it} with the model cc.MODEL."""
    return {s: containers.ContainerParams(sensitivity=s, model=cc.MODEL).threshold for s in SENSITIVITIES}


def generated(n, seed0, by_t):
    """{(group, sensitivity): [tp, detected, true]}; group is a resolution band's name or 'grey'; and
    {(brightness bin, sensitivity): [found, true]}. ``by_t``: {threshold: sensitivity}, the calibration's sweep."""
    tot, bright = {}, {}
    for seed in range(seed0, seed0 + n):
        img, lab = gen.patch(seed, cc.SIZE)
        block = cc.patch_block(img)
        h, w = block.valid.shape
        g = patch_gsd(seed)
        groups = [band_name(lo, hi) for lo, hi in BANDS if lo <= g < hi]
        if np.ptp(img, axis=2).max() < 0.03:             # a pan patch (its three bands equal but for JPEG)
            groups.append('grey')
        truth = [{'x': x, 'y': y, 'teu': 1 + int(c)} for x, y, _, c, _ in lab if cc.inner(x, y, w, h)]
        txy = np.array([(t['x'], t['y']) for t in truth]).reshape(-1, 2)
        ti, tj = (np.clip(txy[:, k].astype(int), 1, size - 2) for size, k in ((h, 1), (w, 0)))
        grey = np.mean([img[ti + dy, tj + dx].mean(-1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
        bins = np.digitize(grey, BRIGHTNESS) - 1
        for t, found in cc.detected(block, gen.sun_azimuth(seed)).items():      # the sun: only with --true-sun
            s = by_t[t]
            found = [dict(d, geometry=d['corners']) for d in found if cc.inner(*np.mean(d['corners'], axis=0), w, h)]
            ev = scenes.evaluate(found, truth, cc.MATCH_M / gen.WORK_GSD)
            for grp in groups + ['all']:
                tot.setdefault((grp, s), np.zeros(3, int))[:] += (ev['matched'], ev['counted'], ev['true'])
            hit = np.zeros(len(truth), bool)
            hit[list(scenes.match([np.mean(d['corners'], axis=0) for d in found], txy,
                                  cc.MATCH_M / gen.WORK_GSD).values())] = True
            for k in range(len(BRIGHTNESS) - 1):
                bright.setdefault((k, s), np.zeros(2, int))[:] += (hit[bins == k].sum(), (bins == k).sum())
    return tot, bright


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--patches', type=int, default=450)
    ap.add_argument('--seed0', type=int, default=5_500_000)
    ap.add_argument('--markdown', action='store_true', help='write the tables into docs/benchmarks.md')
    ap.add_argument('--model', choices=sorted(containers.MODELS), default=cc.MODEL)
    ap.add_argument('--write', action='store_true', help="record the figures in the model's sidecar")
    ap.add_argument('--true-sun', action='store_true',
                    help="tell a model trained with shadows one way the generator's sun (as the user would)")
    a = ap.parse_args()
    cc.MODEL, cc.TRUE_SUN = a.model, a.true_sun
    path = containers.sidecar_path(a.model)
    side = json.loads(path.read_text())
    by_t = {t: s for s, t in thresholds().items()}
    cc.THRESHOLDS = sorted(by_t)             # the calibration's sweep, at these thresholds (lowest first)
    tot, bright = generated(a.patches, a.seed0, by_t)
    free = {by_t[t]: v for t, v in cc.container_free(a.patches // 3, a.seed0 + 50_000).items()}
    figures = {}
    for (grp, s), (tp, nd, nt) in sorted(tot.items()):
        figures.setdefault(grp, {'tops': int(nt)})[f'{s:g}'] = {
            'found_pct': round(100 * tp / max(1, nt), 1), 'precision': round(tp / max(1, nd), 3),
            'count_error_pct': round(100 * (nd - nt) / max(1, nt), 1)}
    groups = [band_name(*b) for b in BANDS] + ['grey', 'all']
    intro = (f'`bench/sensitivity_containers.py`: {a.patches} new 160 m patches of the training generator (seeds '
             f'{a.seed0}+), {a.patches // 3} without containers; the model\'s threshold {side["threshold"]:g} at '
             'sensitivity 0.5, 0.15 lower at 1. Each cell: tops found / precision / count error.')
    title = 'Containers: what Sensitivity does (own generator' + {
        'standard': '', 'wide': ', wide model', 'sun': ", sun-turned model told the generator's sun",
        'wide_sun': ", sun-turned wide model told the generator's sun"}[a.model] + ')'
    name = {'standard': 'containers-sensitivity', 'wide': 'containers-sensitivity-wide',
            'sun': 'containers-sensitivity-sun', 'wide_sun': 'containers-sensitivity-wide-sun'}[a.model]
    doc = section_from_output(name, title, intro) if a.markdown else None
    with doc or contextlib.nullcontext():
        print('By ground resolution (grey: 1-band patches of any resolution):')
        print('| imagery | tops | ' + ' | '.join(f'sensitivity {s:g}' for s in SENSITIVITIES) + ' |')
        print('|---|---|' + '---|' * len(SENSITIVITIES))
        for grp in groups:
            f = figures.get(grp)
            if f:
                cells = [f"{f[f'{s:g}']['found_pct']:.0f} % / {f[f'{s:g}']['precision']:.2f} / "
                         f"{f[f'{s:g}']['count_error_pct']:+.0f} %" for s in SENSITIVITIES]
                label = 'all' if grp == 'all' else ('grey (1 band)' if grp == 'grey' else f'{grp} m')
                print(f"| {label} | {f['tops']} | " + ' | '.join(cells) + ' |')
        print('')
        print('Tops found by their brightness in the image (mean grey 0-1 at the centre):')
        print('| tops | number | ' + ' | '.join(f'sensitivity {s:g}' for s in SENSITIVITIES) + ' |')
        print('|---|---|' + '---|' * len(SENSITIVITIES))
        for k in range(len(BRIGHTNESS) - 1):
            cells = [f'{100 * bright[(k, s)][0] / max(1, bright[(k, s)][1]):.0f} %' for s in SENSITIVITIES]
            print(f'| {BRIGHTNESS[k]:g}-{min(1, BRIGHTNESS[k + 1]):g} | {bright[(k, SENSITIVITIES[0])][1]} | '
                  + ' | '.join(cells) + ' |')
        print('')
        print('False containers per km² where there is none:')
        print('| ' + ' | '.join(f'sensitivity {s:g}' for s in SENSITIVITIES) + ' |')
        print('|' + '---|' * len(SENSITIVITIES))
        print('| ' + ' | '.join(f'{free[s]:.0f}' for s in SENSITIVITIES) + ' |')
    if a.write:
        side = json.loads(path.read_text())     # the file, not the loaded copy the detection changed
        side['own_by_resolution'] = dict(figures, false_per_km2={f'{s:g}': round(v, 1) for s, v in free.items()},
                                         how=f'bench/sensitivity_containers.py --patches {a.patches} '
                                             f'--seed0 {a.seed0}, threshold {side["threshold"]:g}')
        path.write_text(json.dumps(side, indent=1) + '\n')
        print('wrote own_by_resolution in', path)


if __name__ == '__main__':
    sys.exit(main())
