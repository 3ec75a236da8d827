"""cargowatch:batchcount (algorithms/batch_count.py): the batch handed to a Dask scheduler or run here, an
unreachable scheduler, an empty list, Dask missing."""
import sys

import processing
import pytest
from qgis.core import QgsProcessingException

from cargowatch.core import batch, containers
from helpers.batch_archive import archive, client, read_layer, single_machine  # noqa: F401 (fixtures)



def test_algorithm_hands_the_batch_to_a_scheduler(archive, client, tmp_path):
    lst = tmp_path / 'list.txt'
    lst.write_text('\n'.join([archive['ports'][0], archive['broken']]))
    out = str(tmp_path / 'alg.gpkg')
    res = processing.run('cargowatch:batchcount', {'KIND': 0, 'SCENES': str(lst), 'OUTPUT': out,
                                                   'SCHEDULER': client.scheduler.address})
    whole = single_machine('containers', archive['ports'][0])
    assert (res['COUNT'], res['TEU']) == containers.summarise(whole) and res['FAILED'] == 1
    assert len(read_layer(out, 'containers')) == len(whole)
    assert res['DETECTIONS'] == f'{out}|layername=containers'
    serial = processing.run('cargowatch:batchcount', {'KIND': 0, 'SCENES': str(lst), 'SCHEDULER': '',
                                                      'OUTPUT': str(tmp_path / 'here.gpkg')})
    assert (serial['COUNT'], serial['FAILED']) == (res['COUNT'], 1)


def test_unreachable_scheduler_and_empty_list(tmp_path):
    pytest.importorskip('distributed', reason='dask[distributed] is not installed (requirements-dev.txt)')
    with pytest.raises(batch.CargoWatchError, match='Cannot reach the Dask scheduler at tcp://127.0.0.1:9'):
        batch.connect('tcp://127.0.0.1:9', timeout=2)
    lst = tmp_path / 'list.txt'
    lst.write_text('\n')
    with pytest.raises(QgsProcessingException, match='names no scene'):
        processing.run('cargowatch:batchcount', {'KIND': 1, 'SCENES': str(lst), 'OUTPUT': str(tmp_path / 'o.gpkg')})


def test_algorithm_without_dask_says_what_to_install(archive, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'distributed', None)        # `import distributed` fails
    lst = tmp_path / 'list.txt'
    lst.write_text(archive['ports'][1] + '\n')
    with pytest.raises(QgsProcessingException, match=r'pip install "dask\[distributed\]"'):
        processing.run('cargowatch:batchcount', {'KIND': 0, 'SCENES': str(lst), 'SCHEDULER': 'tcp://127.0.0.1:9',
                                                 'OUTPUT': str(tmp_path / 'o.gpkg')})
    res = processing.run('cargowatch:batchcount', {'KIND': 0, 'SCENES': str(lst), 'OUTPUT': str(tmp_path / 'o.gpkg')})
    assert res['COUNT'] == containers.summarise(single_machine('containers', archive['ports'][1]))[0]
