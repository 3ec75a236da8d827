"""Train the container network and export it for the plugin (core/models/containers.onnx + .json sidecar).

    sh bench/setup_train.sh
    bench/.venv-train/bin/python bench/train_containers.py [--patches 8000] [--steps 4000] [--seed 1]

Data: random patches from bench/container_gen.py only (never the validation imagery in ../shared). The net is
fully convolutional at the working resolution (0.5 m/px): a stride-2 stem, a stride-4 trunk with dilated
convolutions (~40 m of context: a block, its shadow, a crane, a parking row), and a stride-2 head predicting a
container-centre heatmap, the 40 ft probability, the long-axis direction (cos 2a, sin 2a) and whether the box
stands on a ship's deck, CenterNet style (--arch deep, shipped, ~3,200 multiply-adds per working pixel; --arch wide,
~2,600, before; --arch slim, ~1,130, and lite, ~1,400, were tried for speed). --init starts from earlier weights
(layers of the same name and shape, from a .pt or an exported .onnx; a 4-output head gains the deck output);
--teacher adds an earlier model's centre maps to the labels (distillation); --hard-weight weighs false centres on
the generator's look-alikes and stack shadows more (hard negatives, runs 42-44, not shipped); --canonical turns each
patch so that its shadows fall one way, by the generator's sun or core.sun's estimate (runs 45-46). Runs by hand
(20-40 min on two cores), never in `make test`. Then
`bench/calibrate_containers.py --write` sets the model's threshold from both own renderers (a test checks it did).
"""
import argparse
import datetime
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import container_gen as gen  # noqa: E402
from bench_speed import _package_path  # noqa: E402

_package_path()
from cargowatch.core import nets  # noqa: E402
from cargowatch.core import sun as core_sun  # noqa: E402

OUT = HERE.parent / 'core' / 'models'
CACHE = HERE / 'out' / 'container_patches'
SIZE = 160
MEAN, SCALE = 0.4, 4.0     # input = (reflectance 0..1 - MEAN) * SCALE; the plugin does the same
SQRT_MEAN = 0.63           # a net of 6 inputs also takes (sqrt(reflectance) - SQRT_MEAN) * SCALE: dark tones spread
SIGMA = 0.8                # heatmap Gaussian (output px = 1 m)
OUTPUTS = ['centre logit', '40 ft logit', 'cos 2a', 'sin 2a (tanh)', 'on a ship\'s deck logit']


def cbr(i, o, k=3, s=1, dil=1):
    return nn.Sequential(nn.Conv2d(i, o, k, s, padding=dil * (k // 2), dilation=dil, bias=False),
                         nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class Wide(nn.Module):
    """Run 7's net (0.3.3-0.3.5; the shipped one is Deep below, this plus one layer): a stride-2 stem with a second
    3 x 3 layer at 1 m, a stride-2 trunk (2 m) of three dilated convolutions, its maps brought back to 1 m, joined to
    the stem's and refined by a 3 x 3 layer: ~2,600 multiply-adds per working pixel, ~40 m of context."""
    SUBPIXEL = 1

    def __init__(self, w=(16, 16, 24, 16), inputs=3):
        super().__init__()
        a, b, c, d = w
        self.c1 = cbr(inputs, a, s=2)
        self.c2 = cbr(a, b)
        self.c3 = cbr(b, c, s=2)
        self.c4 = cbr(c, c, dil=1)
        self.c5 = cbr(c, c, dil=2)
        self.c6 = cbr(c, c, dil=4)
        self.up = nn.Upsample(scale_factor=2, mode='nearest')
        self.fuse = cbr(b + c, d, k=1)
        self.c7 = cbr(d, d)
        self.head = nn.Conv2d(d, len(OUTPUTS), 1)
        nn.init.constant_(self.head.bias[:1], -4.0)    # start from "no container anywhere"

    def features(self, x):
        """The maps at 1 m before the head."""
        x2 = self.c2(self.c1(x))
        y = self.c6(self.c5(self.c4(self.c3(x2))))
        return self.c7(self.fuse(torch.cat([x2, self.up(y)], 1)))

    def forward(self, x):
        return self.head(self.features(x))


class Slim(nn.Module):
    """Tried for speed, not shipped: Wide without its two 3 x 3 layers at 1 m. A stride-2 stem (1 m), the same
    trunk (2 m, ~30 m of context), and a 1 x 1 head that predicts, for each 2 m cell, the maps of its four 1 m
    sub-cells (pixel shuffle: by `maps_1m` while training, by the plugin after the ONNX net, as OpenCV 4.6 cannot
    read DepthToSpace with free sizes): ~1,130 multiply-adds per working pixel. Its layers have Wide's names."""
    SUBPIXEL = 2

    def __init__(self, a=16, c=24):
        super().__init__()
        self.c1 = cbr(3, a, s=2)
        self.c3 = cbr(a, c, s=2)
        self.c4 = cbr(c, c, dil=1)
        self.c5 = cbr(c, c, dil=2)
        self.c6 = cbr(c, c, dil=4)
        self.head = nn.Conv2d(c, self.SUBPIXEL ** 2 * len(OUTPUTS), 1)
        nn.init.constant_(self.head.bias[:self.SUBPIXEL ** 2], -4.0)

    def forward(self, x):
        return self.head(self.c6(self.c5(self.c4(self.c3(self.c1(x))))))


class Deep(Wide):
    """Wide with one more 3 x 3 layer at 1 m before the head, as a residual (relu(y + bn(conv(y)))) whose batch norm
    starts at zero: started from Wide's weights it is Wide's function, and learns only what helps. ~3,200
    multiply-adds per working pixel (Wide + 22 %)."""

    def __init__(self, w=(16, 16, 24, 16), inputs=3):
        super().__init__(w, inputs)
        d = w[3]
        self.c8 = nn.Sequential(nn.Conv2d(d, d, 3, 1, padding=1, bias=False), nn.BatchNorm2d(d))
        nn.init.zeros_(self.c8[1].weight)

    def forward(self, x):
        y = self.features(x)
        return self.head(F.relu(y + self.c8(y)))


def folded(layer):
    """(weight, bias) of a conv-BN(-ReLU) layer with its BatchNorm (eval statistics) folded in."""
    conv, bn = layer[0], layer[1]
    s = bn.weight / (bn.running_var + bn.eps).sqrt()
    return conv.weight * s[:, None, None, None], bn.bias - bn.running_mean * s


def centre_identity(w):
    """A 3 x 3 convolution weight shaped like ``w`` (square) that gives back its input: y + conv(y) = (w + it)(y)."""
    it = torch.zeros_like(w)
    it[torch.arange(w.shape[0]), torch.arange(w.shape[0]), 1, 1] = 1.0
    return it


class DeepExport(nn.Module):
    """A Deep net's very function in fewer OpenCV layers (~8 % faster per block): the 1 x 1 join of [stem,
    up(trunk)] split as fa(stem) + up(fb(trunk)) (nearest upsampling commutes with a 1 x 1 convolution), and the
    residual relu(y + bn(conv(y))) as one convolution with the identity added to its centre tap."""

    def __init__(self, deep):
        super().__init__()
        self.deep = deep
        w, b = folded(deep.fuse)
        k = deep.c2[0].out_channels
        self.fa, self.fb = nn.Conv2d(k, w.shape[0], 1), nn.Conv2d(w.shape[1] - k, w.shape[0], 1, bias=False)
        w8, b8 = folded(deep.c8)
        self.c8 = nn.Conv2d(w8.shape[1], w8.shape[0], 3, padding=1)
        with torch.no_grad():
            self.fa.weight.copy_(w[:, :k]), self.fa.bias.copy_(b), self.fb.weight.copy_(w[:, k:])
            self.c8.weight.copy_(w8 + centre_identity(w8)), self.c8.bias.copy_(b8)

    def forward(self, x):
        d = self.deep
        x2 = d.c2(d.c1(x))
        y = d.c6(d.c5(d.c4(d.c3(x2))))
        return d.head(F.relu(self.c8(d.c7(F.relu(self.fa(x2) + d.up(self.fb(y)))))))

    @staticmethod
    def unfold(pairs):
        """The (weight, bias) of each of Deep's conv_layers from those of an export of this form (c1-c6, fa, fb,
        c7, c8, head)."""
        fa, fb, (w8, b8) = pairs[6], pairs[7], pairs[9]
        fuse = (torch.cat([fa[0], fb[0]], 1), fa[1])
        return pairs[:6] + [fuse, pairs[8], (w8 - centre_identity(w8), b8), pairs[10]]


def dsc(i, o):
    """A depthwise 3 x 3 then a pointwise 1 x 1 convolution, each with batch norm and ReLU."""
    return nn.Sequential(nn.Conv2d(i, i, 3, 1, padding=1, groups=i, bias=False), nn.BatchNorm2d(i), nn.ReLU(inplace=True),
                         nn.Conv2d(i, o, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class Lite(Wide):
    """Wide with its two 3 x 3 layers at 1 m made depthwise-separable (c2d, c7d) and its join computed without the
    concatenation: the 1 x 1 fuse of [stem, up(trunk)] is fa(stem) + up(fb(trunk)) (the same function; a Wide's
    fuse splits into fa and fb exactly). ~1,400 multiply-adds per working pixel, ~0.6 x Wide's time in OpenCV."""

    def __init__(self, w=(16, 16, 24, 16)):
        super().__init__(w)
        a, b, c, d = w
        del self.c2, self.fuse, self.c7
        self.c2d = dsc(a, b)
        self.fa = nn.Conv2d(b, d, 1, bias=False)
        self.fb = nn.Conv2d(c, d, 1, bias=False)
        self.fbn = nn.Sequential(nn.BatchNorm2d(d), nn.ReLU(inplace=True))
        self.c7d = dsc(d, d)

    def forward(self, x):
        x2 = self.c2d(self.c1(x))
        y = self.c6(self.c5(self.c4(self.c3(x2))))
        return self.head(self.c7d(self.fbn(self.fa(x2) + self.up(self.fb(y)))))

    @staticmethod
    def from_wide(state):
        """A Wide state dict with its fuse split into Lite's fa, fb and fbn."""
        state = dict(state)
        w = state.pop('fuse.0.weight')
        b = state['c2.0.weight'].shape[0]
        state['fa.weight'], state['fb.weight'] = w[:, :b].clone(), w[:, b:].clone()
        for k in [k for k in state if k.startswith('fuse.1.')]:
            state['fbn.0.' + k[len('fuse.1.'):]] = state.pop(k)
        return state


# deep-sqrt (run 29) and deep-wide (runs 30, 32, 34: 14-22 % more time per block) were tried, not shipped; the plugin
# feeds 3 inputs only (a 6-input model would need core.containers.maps to add the sqrt ones). deep-xl is a capacity
# probe (run 36: a wider trunk and wider 1 m layers after the join; grown from deep-wide's weights by take_weights)
NETS = {'wide': Wide, 'slim': Slim, 'lite': Lite, 'deep': Deep, 'deep-sqrt': lambda: Deep(inputs=6),
        'deep-wide': lambda: Deep(w=(16, 16, 32, 16)), 'deep-xl': lambda: Deep(w=(16, 16, 48, 24))}


def net_input(x, inputs):
    """The net's input from reflectance 0..1 (n, 3, h, w): (x - MEAN) * SCALE, and for a net of 6 inputs also
    (sqrt(x) - SQRT_MEAN) * SCALE, which spreads the dark tones (a navy top beside its shadow) as the eye does."""
    lin = (x - MEAN) * SCALE
    return lin if inputs == 3 else torch.cat([lin, (x.sqrt() - SQRT_MEAN) * SCALE], 1)


def inputs_of(net):
    """How many input channels the net takes (3, or 6 with sqrt inputs)."""
    return net.c1[0].in_channels


def conv_layers(net):
    """The net's convolutions in the order of its export: each conv-BN(-ReLU) layer, then the head."""
    return [m for m in net.modules() if isinstance(m, nn.Sequential) and isinstance(m[0], nn.Conv2d)] + [net.head]


def from_onnx(path, imgs):
    """A Wide or Deep state dict (whichever the file is an export of, a Deep one of any width of NETS also in
    DeepExport's form) from an exported ONNX file (each BatchNorm folded into its convolution on export), to
    fine-tune a model whose .pt is gone. Each convolution takes the folded weight; each BatchNorm is set from that
    layer's per-channel statistics on ``imgs`` so that it gives back the folded bias: exactly in eval mode, nearly in
    training mode (batch statistics close to those)."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    pairs = [(w[n.input[1]], w[n.input[2]] if len(n.input) > 2 else None)
             for n in model.graph.node if n.op_type == 'Conv']
    if len(pairs) == 11:        # DeepExport's form
        pairs = DeepExport.unfold(pairs)

    def fits(net):              # every convolution of the shape the file's is
        layers = conv_layers(net)
        return len(layers) == len(pairs) and all(
            (layer[0] if isinstance(layer, nn.Sequential) else layer).weight.shape == weight.shape
            for (weight, _), layer in zip(pairs, layers))
    nets = [n for n in (NETS[k]() for k in ('wide', 'deep', 'deep-wide', 'deep-xl')) if fits(n)]
    assert nets, 'not an export of Wide or Deep (of any width)'
    net = nets[0]
    stats, hooks = {}, []
    with torch.no_grad():
        for (weight, bias), layer in zip(pairs, conv_layers(net)):
            conv = layer[0] if isinstance(layer, nn.Sequential) else layer
            conv.weight.copy_(weight)
            if conv.bias is not None:
                conv.bias.copy_(bias)
                continue
            bn = layer[1]
            bn.weight.fill_(1), bn.bias.copy_(bias)
            bn.running_mean.zero_(), bn.running_var.fill_(1 - bn.eps)
            keep = (lambda m, i, o, bn=bn: stats.update({bn: o.transpose(0, 1).flatten(1)}))   # the layer's output
            hooks.append(conv.register_forward_hook(keep))
        net.eval()
        net((torch.from_numpy(imgs.astype(np.float32).transpose(0, 3, 1, 2)) / 255 - MEAN) * SCALE)
        for h in hooks:
            h.remove()
        for bn, out in stats.items():
            mu, var = out.mean(1), out.var(1)
            bn.running_mean.copy_(mu), bn.running_var.copy_(var)
            bn.weight.copy_((var + bn.eps).sqrt()), bn.bias.add_(mu)
    net.train()
    return net.state_dict()


def take_weights(net, old):
    """Load a state dict of an earlier run into ``net``: layers of the same name and shape as they are, wider ones
    in part (see below); the rest is learned anew."""
    new = net.state_dict()
    for k, v in old.items():
        if k in new and v.shape == new[k].shape:
            new[k] = v
        elif k in new and v.ndim == new[k].ndim and v.shape[2:] == new[k].shape[2:] \
                and all(a <= b for a, b in zip(v.shape, new[k].shape)):
            # a wider layer (more outputs: an older 4-output head, a wider trunk; more inputs: sqrt inputs):
            # the old weights in place, the old outputs take the new inputs through zeros (so training starts
            # from the old function), the new outputs start as initialised
            if v.ndim > 1:
                new[k][:v.shape[0]] = 0
            new[k][tuple(slice(0, n) for n in v.shape)] = v
        else:
            print('not taken from --init:', k, tuple(v.shape), flush=True)
    net.load_state_dict(new)


def maps_1m(net, x):
    """The net's maps on a 1 m grid (a sub-pixel head's channels shuffled into place, as the plugin does)."""
    return F.pixel_shuffle(net(x), net.SUBPIXEL)


def targets(lab, n):
    """Heatmap, class, cos/sin, on-deck and a mask of where class, direction and deck are learned, at output
    resolution."""
    heat = np.zeros((n, n), np.float32)
    cls = np.zeros((n, n), np.float32)
    deck = np.zeros((n, n), np.float32)
    cs = np.zeros((2, n, n), np.float32)
    m = np.zeros((n, n), np.float32)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    for x, y, a, c, on_deck in lab:
        X, Y = x / 2 - 0.5, y / 2 - 0.5        # working px -> output px centres
        i0, i1 = max(0, int(Y) - 3), min(n, int(Y) + 5)
        j0, j1 = max(0, int(X) - 3), min(n, int(X) + 5)
        if i0 >= i1 or j0 >= j1:
            continue
        g = np.exp(-((xx[i0:i1, j0:j1] - X) ** 2 + (yy[i0:i1, j0:j1] - Y) ** 2) / (2 * SIGMA ** 2))
        heat[i0:i1, j0:j1] = np.maximum(heat[i0:i1, j0:j1], g)
        i, j = int(round(Y)), int(round(X))
        if 0 <= i < n and 0 <= j < n:
            heat[i, j] = 1.0          # the focal loss's positive: the cell nearest the centre
        near = g > 0.45
        cls[i0:i1, j0:j1][near] = c
        deck[i0:i1, j0:j1][near] = on_deck
        cs[0, i0:i1, j0:j1][near] = math.cos(2 * a)
        cs[1, i0:i1, j0:j1][near] = math.sin(2 * a)
        m[i0:i1, j0:j1][near] = 1
    return heat, cls, cs, m, deck


def make(seed):
    img, lab, what = gen.patch(seed, SIZE, what=True)
    hard = cv2.resize(np.isin(what, gen.HARD).astype(np.float32), (SIZE // 2, SIZE // 2),
                      interpolation=cv2.INTER_AREA)      # the share of each output cell on look-alikes, stack shadows
    return (np.clip(img, 0, 1) * 255).astype(np.uint8), lab, (hard * 255).round().astype(np.uint8)


def dataset(n, seed0):
    """Images, labels and hard-negative maps (container_gen.HARD's share) of ``n`` patches from ``seed0``."""
    path = CACHE / f'{seed0}_{n}_{SIZE}.npz'
    if path.exists():
        z = np.load(path, allow_pickle=True)
        if 'hard' in z:
            return z['imgs'], list(z['labs']), z['hard']
    CACHE.mkdir(parents=True, exist_ok=True)
    t = time.time()
    with mp.Pool(2) as pool:
        res = pool.map(make, range(seed0, seed0 + n), chunksize=16)
    imgs, hard = np.stack([r[0] for r in res]), np.stack([r[2] for r in res])
    labs = [r[1] for r in res]
    laba = np.empty(len(labs), dtype=object)
    laba[:] = labs
    np.savez(path, imgs=imgs, labs=laba, hard=hard)
    print(f'{n} patches in {time.time() - t:.0f} s', flush=True)
    return imgs, labs, hard


def greyed(imgs, rng):
    """The patches (uint8 n, h, w, 3) as a 1-band sensor sees them, in place: each one's three bands replaced by one
    grey (a pan band's response 0.3 / 0.5 / 0.2, or their mean, as the generator's pan sensor), which the plugin
    gives the network three times (core.nets.three_bands)."""
    mean = np.full(3, 1 / 3, np.float32)
    for i in range(len(imgs)):
        g = imgs[i].astype(np.float32) @ (gen.PAN if rng.random() < 0.5 else mean)
        imgs[i] = np.clip(np.rint(g), 0, 255).astype(np.uint8)[..., None]
    return imgs


def batch(imgs, tg, idx, rng, crop, inputs=3, turns=None, tmaps=None, mirrors=False):
    """A training batch: one random crop of the patches ``idx``, turned by one random quarter turn (``mirrors``:
    and mirrored, by a transpose, half of the time: the eight views of core.nets.VIEWS), or with
    ``turns`` (per patch: transpose, quarter turns) each patch as core.sun.canonical turns it (shadows one way).
    With ``tmaps`` (a teacher's centre probabilities of every patch, :func:`teacher_maps`) their crops, turned
    alike, come last."""
    o = 2 * rng.integers(0, (SIZE - crop) // 2 + 1, 2)     # one random crop per batch (even: output stride 2)
    x = imgs[idx, o[0]:o[0] + crop, o[1]:o[1] + crop].astype(np.float32) / 255
    sl = np.s_[o[0] // 2:(o[0] + crop) // 2, o[1] // 2:(o[1] + crop) // 2]
    grids = [np.stack([tg[i][k][sl] for i in idx]) for k in (0, 1, 3, 4, 5)]      # h, c, m, dk, hd
    if tmaps is not None:
        grids.append(tmaps[idx][(slice(None),) + sl].astype(np.float32))
    cs = np.stack([tg[i][2][(slice(None),) + sl] for i in idx])
    x = x.transpose(0, 3, 1, 2)
    if turns is None:
        k, tr = rng.integers(4), bool(mirrors and rng.integers(2))     # directions change with them
        x, cs, *grids = (core_sun.turn(a, tr, k) for a in [x, cs] + grids)
        cs = np.stack(core_sun.turned_axes(cs[:, 0], cs[:, 1], tr, k), 1)
    else:
        per = [[core_sun.turn(a[n], *turns[i]) for a in [x, cs] + grids] for n, i in enumerate(idx)]
        x, cs, *grids = (np.stack([p[j] for p in per]) for j in range(len(grids) + 2))
        cs = np.stack([np.stack(core_sun.turned_axes(cs[n, 0], cs[n, 1], *turns[i])) for n, i in enumerate(idx)])
    h, c, m, dk, hd, *tm = grids
    t = [torch.from_numpy(np.ascontiguousarray(a)) for a in [x, h, c, cs, m, dk, hd.astype(np.float32) / 255] + tm]
    t[0] = net_input(t[0], inputs)
    return t


def canonical_turns(seeds, rng, jitter_deg=20.0, lost=0.1):
    """Per patch, the (transpose, quarter turns) that bring its shadows to the canonical direction (core.sun): the
    generator's sun off by up to ``jitter_deg`` either way, and for a ``lost`` share of patches any direction (an
    estimate gone wrong), so that the network does not trust the turn blindly."""
    out = []
    for seed in seeds:
        d = core_sun.shadow_of_azimuth(gen.sun_azimuth(seed)) + math.radians(rng.uniform(-jitter_deg, jitter_deg))
        out.append(core_sun.canonical(rng.uniform(-math.pi, math.pi) if rng.random() < lost else d))
    return out


def estimated_turns(imgs):
    """Per patch, the (transpose, quarter turns) of the shadow direction core.sun estimates from the patch itself,
    as the plugin would on a raster of that size: the network learns with the estimate's own errors."""
    return [core_sun.canonical(core_sun.estimate(im.transpose(2, 0, 1).astype(np.float32) / 255, gen.WORK_GSD)[0])
            for im in imgs]


def loss_fn(out, h, c, cs, m, dk, hard, teacher=None, neg_weight=1.0, hard_weight=0.0):
    """CenterNet losses against the labels; with ``teacher`` (its centre probabilities on the same batch) the
    centre map also learns the teacher's, as much again. ``neg_weight`` scales the focal loss away from centres
    (false containers), 1 + ``hard_weight`` times more on look-alikes and stack shadows (the ``hard`` share)."""
    p = torch.sigmoid(out[:, 0]).clamp(1e-4, 1 - 1e-4)
    pos = (h > 0.99).float()
    neg = neg_weight * (1 + hard_weight * hard) * (1 - pos) * (1 - h) ** 4
    focal = -(pos * (1 - p) ** 2 * torch.log(p) + neg * p ** 2 * torch.log(1 - p)).sum() / pos.sum().clamp(min=1)
    mm = m.sum().clamp(min=1)
    lc = (F.binary_cross_entropy_with_logits(out[:, 1], c, reduction='none') * m).sum() / mm
    ld = ((torch.tanh(out[:, 2:4]) - cs).abs().sum(1) * m).sum() / mm
    lk = (F.binary_cross_entropy_with_logits(out[:, 4], dk, reduction='none') * m).sum() / mm
    kd = torch.zeros(())
    if teacher is not None:
        kd = F.binary_cross_entropy_with_logits(out[:, 0], teacher, reduction='sum') / pos.sum().clamp(min=1)
    return focal + lc + ld + lk + kd, (focal.item(), lc.item(), ld.item(), lk.item(), kd.item())


def teacher_heat(net, x):
    """Centre probabilities of an earlier model (its ONNX file, run by OpenCV as the plugin does) on a batch."""
    net.setInput(x.numpy())
    return torch.sigmoid(torch.from_numpy(net.forward()[:, 0].copy()))


def teacher_maps(net, imgs, views, chunk=64):
    """Centre probabilities (n, h/2, w/2, float16) of a model (its ONNX file run by OpenCV, as the plugin does) on
    whole patches ``imgs`` (n, h, w, 3 uint8), averaged over ``views`` turns and mirrors of each
    (core.nets.VIEWS): computed once, cropped and turned with the labels (:func:`batch`)."""
    out = np.zeros((len(imgs), imgs.shape[1] // 2, imgs.shape[2] // 2), np.float16)
    for s in range(0, len(imgs), chunk):
        x = net_input(torch.from_numpy(imgs[s:s + chunk].astype(np.float32) / 255).permute(0, 3, 1, 2), 3).numpy()
        acc = 0
        for v in nets.VIEWS[views]:
            net.setInput(np.ascontiguousarray(nets.view(x, *v)))
            acc = acc + nets.unview(1 / (1 + np.exp(-net.forward()[:, 0])), *v)
        out[s:s + chunk] = acc / len(nets.VIEWS[views])
    return out


def peaks(out, thr):
    """Per image: (x, y) working px of the heatmap's peaks above ``thr`` and their on-deck probability."""
    p = torch.sigmoid(out[:, 0:1])
    keep = (p == F.max_pool2d(p, 3, 1, 1)) & (p > thr)
    deck = torch.sigmoid(out[:, 4])
    res = []
    for k, dk in zip(keep, deck):
        ij = torch.nonzero(k[0]).numpy()
        res.append((ij[:, ::-1] * 2 + 1.0, dk.numpy()[ij[:, 0], ij[:, 1]]))
    return res


def turned_maps(net, x, turns):
    """maps_1m of a batch, each image turned as ``turns`` says (None: as it is) and its maps turned back (only the
    centre and deck maps, which peaks reads)."""
    if turns is None:
        return maps_1m(net, x)
    xt = torch.from_numpy(np.stack([np.ascontiguousarray(core_sun.turn(a, *t)) for a, t in zip(x.numpy(), turns)]))
    out = maps_1m(net, xt).numpy()
    return torch.from_numpy(np.stack([np.ascontiguousarray(core_sun.unturn(o, *t)) for o, t in zip(out, turns)]))


def evaluate(net, imgs, labs, thr=0.35, turns=None):
    """Containers found (F1 etc., one to one within 1.6 m) and, of those found, how well the on-deck flag agrees;
    ``turns``: each image turned as core.sun.canonical says first."""
    net.eval()
    tp = fp = fn = 0
    deck = np.zeros((2, 2), int)        # [true on deck, flagged on deck] over the matched containers
    err = []
    with torch.no_grad():
        for i in range(0, len(imgs), 32):
            x = net_input(torch.from_numpy(imgs[i:i + 32].astype(np.float32).transpose(0, 3, 1, 2)) / 255,
                          inputs_of(net))
            out = turned_maps(net, x, None if turns is None else turns[i:i + 32])
            for (pk, pd), lab in zip(peaks(out, thr), labs[i:i + 32]):
                lab = lab[(lab[:, 0] >= 2) & (lab[:, 1] >= 2) & (lab[:, 0] < SIZE - 2) & (lab[:, 1] < SIZE - 2)]
                ok = (pk[:, 0] >= 2) & (pk[:, 1] >= 2) & (pk[:, 0] < SIZE - 2) & (pk[:, 1] < SIZE - 2)
                pk, pd = pk[ok], pd[ok]
                used = set()
                t = 0
                for x0, y0, *_, on_deck in lab:
                    if not len(pk):
                        break
                    d = np.hypot(pk[:, 0] - x0, pk[:, 1] - y0)
                    d[list(used)] = 1e9
                    j = int(np.argmin(d))
                    if d[j] <= 3.2:      # 1.6 m
                        used.add(j)
                        t += 1
                        deck[int(on_deck), int(pd[j] > 0.5)] += 1
                tp += t
                fp += len(pk) - t
                fn += len(lab) - t
                err.append((len(pk), len(lab)))
    net.train()
    e = np.array(err)
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    return {'f1': round(f1, 4), 'precision': round(tp / max(1, tp + fp), 4), 'recall': round(tp / max(1, tp + fn), 4),
            'count_error_pct': round(100 * (e[:, 0].sum() - e[:, 1].sum()) / max(1, e[:, 1].sum()), 2),
            'on_deck': {'found_on_deck': int(deck[1].sum()), 'flagged_right': int(deck[1, 1]),
                        'flagged_wrong': int(deck[0, 1])}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--patches', type=int, default=8000)
    ap.add_argument('--val', type=int, default=400)
    ap.add_argument('--steps', type=int, default=4000)
    ap.add_argument('--batch', type=int, default=24)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--crop', type=int, default=112, help='training crop (px) of the generated patches')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--more-seeds', type=int, nargs='*', default=[],
                    help='train on these seeds\' patches too (validation stays on --seed\'s)')
    ap.add_argument('--init', default=None,
                    help='fine-tune these weights (a containers.pt of an earlier run, or a containers.onnx)')
    ap.add_argument('--soup', nargs='*', default=[],
                    help='start from the mean of these containers.pt (fine-tunes of one net: a "model soup")')
    ap.add_argument('--arch', choices=sorted(NETS), default='wide',
                    help='network (deep: the shipped one, wide: the one before)')
    ap.add_argument('--neg-weight', type=float, default=1.0, help='weight of the centre loss away from centres')
    ap.add_argument('--hard-weight', type=float, default=0.0,
                    help='extra weight of the centre loss on look-alikes and stack shadows (1 + this times)')
    ap.add_argument('--teacher', default=None, help='an earlier containers.onnx whose centre maps are learned too')
    ap.add_argument('--teacher-views', type=int, choices=(2, 4, 8), default=None,
                    help="the teacher's maps averaged over this many turns and mirrors of each whole patch, "
                         "computed once before training (core.nets.VIEWS)")
    ap.add_argument('--mirrors', action='store_true', help='mirror half of the batches too (transpose)')
    ap.add_argument('--canonical', choices=('sun', 'estimate'), default=None,
                    help='turn every patch so that its shadows fall one way (core.sun): by the generator\'s sun '
                         '(+-20 deg, 10 %% any way) or by core.sun\'s estimate from the patch')
    ap.add_argument('--grey', action='store_true', help='every patch in grey (a 1-band specialist)')
    ap.add_argument('--out', default=str(OUT), help='folder for containers.onnx/.json/.pt (default: the shipped ones)')
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(a.seed)
    sets = [dataset(a.patches, 1_000_000 * s) for s in [a.seed] + a.more_seeds]
    imgs, labs = np.concatenate([s[0] for s in sets]), [lab for s in sets for lab in s[1]]
    tg = [(*targets(lab, SIZE // 2), hd) for lab, hd in zip(labs, (hd for s in sets for hd in s[2]))]
    del sets
    vimgs, vlabs, _ = dataset(a.val, 1_000_000 * a.seed + 900_000)
    if a.grey:
        imgs, vimgs = greyed(imgs, rng), greyed(vimgs, rng)
    turns = vturns = None
    if a.canonical == 'sun':
        turns = canonical_turns([1_000_000 * s + i for s in [a.seed] + a.more_seeds for i in range(a.patches)], rng)
        vturns = canonical_turns(range(1_000_000 * a.seed + 900_000, 1_000_000 * a.seed + 900_000 + a.val), rng)
    elif a.canonical == 'estimate':
        turns, vturns = estimated_turns(imgs), estimated_turns(vimgs)
    net = NETS[a.arch]()
    if a.init:
        old = from_onnx(a.init, imgs[:64]) if a.init.endswith('.onnx') else torch.load(a.init)
        if a.arch == 'lite' and 'fuse.0.weight' in old:
            old = Lite.from_wide(old)
        take_weights(net, old)
    if a.soup:
        sds = [torch.load(f) for f in a.soup]
        take_weights(net, {k: sum(sd[k].double() for sd in sds).div(len(sds)).to(v.dtype)
                           for k, v in sds[0].items()})
    teacher = tmaps = None
    if a.teacher:
        teacher = cv2.dnn.readNetFromONNX(a.teacher)
    if a.teacher_views:
        tmaps, teacher = teacher_maps(teacher, imgs, a.teacher_views), None
        print(f'teacher maps over {a.teacher_views} views of {len(imgs)} patches', flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=max(1, a.steps), pct_start=0.1)
    t0 = time.time()
    if not a.steps:            # a soup as it is
        sweep_and_export(net, a, vimgs, vlabs, 0, 0, vturns)
    for step in range(1, a.steps + 1):
        idx = rng.integers(0, len(imgs), a.batch)
        x, *tgt = batch(imgs, tg, idx, rng, a.crop, inputs_of(net), turns, tmaps, a.mirrors)
        taught = tgt.pop() if tmaps is not None else teacher_heat(teacher, x) if teacher else None
        loss, parts = loss_fn(maps_1m(net, x), *tgt, teacher=taught, neg_weight=a.neg_weight,
                              hard_weight=a.hard_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f'step {step} loss {loss.item():.3f} parts {np.round(parts, 3)} {time.time() - t0:.0f} s', flush=True)
        if step % 500 == 0 or step == a.steps:
            sweep_and_export(net, a, vimgs, vlabs, time.time() - t0, step, vturns)


def sweep_and_export(net, a, vimgs, vlabs, seconds, step, vturns=None):
    sweep = {f'thr_{t:.2f}': evaluate(net, vimgs, vlabs, t, vturns) for t in np.arange(0.2, 0.601, 0.05)}
    best = max(sweep, key=lambda k: sweep[k]['f1'])
    print('validation (generated)', best, sweep[best], flush=True)
    export(net, a, sweep, float(best[4:]), seconds, step)


def export(net, a, sweep, threshold, seconds, step):
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), (out if out != OUT else HERE / 'out') / 'containers.pt')  # to fine-tune; not shipped
    net.eval()
    onnx_path = out / 'containers.onnx'
    torch.onnx.export(DeepExport(net) if isinstance(net, Deep) else net, torch.zeros(1, inputs_of(net), 256, 256),
                      str(onnx_path),
                      opset_version=13, dynamo=False,
                      input_names=['image'], output_names=['maps'],
                      dynamic_axes={'image': {2: 'h', 3: 'w'}, 'maps': {2: 'h2', 3: 'w2'}})
    net.train()
    side = {
        'model': 'containers.onnx', 'inputs': 'RGB reflectance 0..1 at work_gsd, (x - mean) * scale',
        'work_gsd': gen.WORK_GSD, 'mean': MEAN, 'scale': SCALE, 'stride': 2, 'arch': a.arch, 'subpixel': net.SUBPIXEL,
        **({'inputs': 'RGB reflectance x 0..1 at work_gsd: (x - mean) * scale, then (sqrt(x) - sqrt_mean) * scale',
            'sqrt_mean': SQRT_MEAN} if inputs_of(net) == 6 else {}),
        'outputs': OUTPUTS, 'init': a.init, **({'soup': a.soup} if a.soup else {}),
        **({'canonical_shadow': {'sun': 'turned by the generator\'s sun +-20 deg, 10 % of patches any way',
                                 'estimate': 'turned by core.sun\'s estimate from each patch'}[a.canonical]}
           if a.canonical else {}),
        'teacher': a.teacher, **({'teacher_views': a.teacher_views} if a.teacher_views else {}),
        **({'mirrors': True} if a.mirrors else {}), **({'grey': True} if a.grey else {}),
        'neg_weight': a.neg_weight, 'hard_weight': a.hard_weight,
        'script': 'bench/train_containers.py', 'generator': 'bench/container_gen.py',
        'data': f'{a.patches} generated patches of {SIZE} px (random {a.crop} px crops, '
                f'{"each turned so that its shadows fall one way" if a.canonical else "quarter turns"}'
                f'{", mirrored half of the time" if a.mirrors else ""}{", in grey" if a.grey else ""}) per seed, '
                f'seeds from {", ".join(str(1_000_000 * s) for s in [a.seed] + a.more_seeds)}; '
                f'validation {a.val} other generated patches',
        'seed': a.seed, 'steps': step, 'planned_steps': a.steps, 'batch': a.batch, 'lr': a.lr,
        'date': datetime.date.today().isoformat(), 'train_seconds': round(seconds),
        'threshold': round(threshold, 2),      # where F1 peaks on the held-out generated patches: sensitivity 0.5
        'validation_generated': sweep[f'thr_{threshold:.2f}'],
        'validation_generated_by_threshold': sweep,
        'torch': torch.__version__,
    }
    (out / 'containers.json').write_text(json.dumps(side, indent=1) + '\n')


if __name__ == '__main__':
    main()
