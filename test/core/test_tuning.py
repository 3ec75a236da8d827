"""Tuning constants live in one typed, frozen settings object per module (``TUNING``), each field with a
one-line reason; a learned model's contract (its grid, stride, sizes) is read against its sidecar file;
training scripts write data files, never Python source."""
import ast
import dataclasses
import importlib
import json
import re

import pytest

from helpers.paths import ROOT

MODULES = ['change', 'pits', 'sightings', 'voyages']


@pytest.mark.parametrize('name', MODULES)
def test_tuning_is_typed_frozen_and_every_field_has_a_reason(name):
    module = importlib.import_module(f'cargowatch.core.{name}')
    tuning = module.TUNING
    assert dataclasses.is_dataclass(tuning) and type(tuning).__dataclass_params__.frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(tuning, dataclasses.fields(tuning)[0].name, None)
    source = (ROOT / 'core' / f'{name}.py').read_text(encoding='utf-8')
    cls = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == type(tuning).__name__)
    lines = source.splitlines()
    for node in cls.body:
        if isinstance(node, ast.AnnAssign):
            reason = lines[node.lineno - 1].partition('#')[2].strip()
            assert len(reason.split()) >= 4, f'{name}.{node.target.id}: give a one-line reason'


def test_pit_network_contract_is_its_sidecar():
    from cargowatch.core import pits
    side = json.loads((ROOT / 'core' / 'models' / 'pits.json').read_text())
    assert (pits.WORK_GSD, pits.MULTIPLE) == (side['input']['work_gsd_m'], side['input']['multiple_of'])
    assert (pits.STRIDE, pits.SIZE_REF) == (side['output']['stride'], side['output']['size_ref_px'])
    # the default threshold is where F1 peaked on the held-out generated tiles, as the training script recorded
    scores = side['validation_generated']
    best = max(scores, key=lambda k: scores[k]['f1'])
    assert abs(pits.PitParams().threshold - float(best[4:])) < 1e-9 and side['threshold'] == float(best[4:])


def test_training_scripts_write_data_not_source():
    for script in sorted((ROOT / 'bench').glob('train_*.py')):
        text = script.read_text(encoding='utf-8')
        assert not re.search(r"""open\([^)]*\.py['"][^)]*['"]w""", text), script.name
        assert not re.search(r"\.py['\"]\)?\.write_text", text), script.name
        assert 'globals()' not in text and 'setattr(' not in text, script.name
