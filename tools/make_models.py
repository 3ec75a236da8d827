"""Build the models shipped in models/ (*.model3) from the algorithms' own parameter and output names, so the
models stay in step with the algorithms. Run after changing an algorithm's parameters:

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/make_models.py [OUT_DIR (default models/)]

Each model is checked against the registered algorithms (every parameter and output it wires must exist)
before it is written; the provider (provider.py) loads the files as cargowatch:<name>.
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
os.environ['QT_HASH_SEED'] = '0'  # Qt writes XML attributes in hash order: the same file on every run

from qgis.core import (QgsApplication, QgsProcessingModelAlgorithm,  # noqa: E402
                       QgsProcessingModelChildAlgorithm as Child, QgsProcessingModelChildParameterSource as Src,
                       QgsProcessingModelOutput, QgsProcessingModelParameter, QgsProcessingParameterDateTime,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterFile,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString)
from qgis.PyQt.QtCore import QPointF  # noqa: E402

APP = QgsApplication([], False)
APP.initQgis()
sys.path[:0] = ['/usr/share/qgis/python/plugins', str(ROOT / 'tools')]
from processing.core.Processing import Processing  # noqa: E402
Processing.initialize()
import fuzzing  # noqa: E402
fuzzing.import_checkout()  # the checkout as the package cargowatch, whatever its folder is called
from cargowatch.algorithms.record_observation import DATE_ONLY  # noqa: E402
from cargowatch.compat import Q  # noqa: E402
from cargowatch.provider import CargoWatchProvider  # noqa: E402

PROVIDER = CargoWatchProvider()
QgsApplication.processingRegistry().addProvider(PROVIDER)

MODELS = ROOT / 'models'


def param(model, definition, help_text, x, y):
    definition.setHelp(help_text)
    model.addModelParameter(definition, QgsProcessingModelParameter(definition.name()))
    model.parameterComponent(definition.name()).setPosition(QPointF(x, y))


def child(model, child_id, alg_id, description, sources, outputs, x, y):
    """A step running ``alg_id``; ``sources`` maps its parameters to Src lists, ``outputs`` maps model output
    names to (step output, description)."""
    c = Child(alg_id)
    c.setChildId(child_id)
    c.setDescription(description)
    c.setPosition(QPointF(x, y))
    alg = QgsApplication.processingRegistry().algorithmById(alg_id)
    if alg is None:
        raise SystemExit(f'{alg_id} is not registered')
    for name, src in sources.items():
        if alg.parameterDefinition(name) is None:
            raise SystemExit(f'{alg_id} has no parameter {name}')
        c.addParameterSources(name, src if isinstance(src, list) else [src])
    for p in alg.parameterDefinitions():  # the rest at their defaults, as the model designer fills them in
        if p.name() not in sources and not p.isDestination() and p.defaultValue() is not None:
            c.addParameterSources(p.name(), [static(p.defaultValue())])
    outs = {}
    for name, (child_output, label) in outputs.items():
        if alg.outputDefinition(child_output) is None:
            raise SystemExit(f'{alg_id} has no output {child_output}')
        o = QgsProcessingModelOutput(name, label)
        o.setChildId(child_id)
        o.setChildOutputName(child_output)
        o.setPosition(QPointF(x + 220, y + 60 * (len(outs) - len(outputs) / 2)))
        outs[name] = o
    c.setModelOutputs(outs)
    model.addChildAlgorithm(c)
    return c


def m(name):
    return Src.fromModelParameter(name)


def out(step, name):
    return Src.fromChildOutput(step, name)


def static(value):
    return Src.fromStaticValue(value)


def help_map(model, display, text, params):
    """Model help: description, creator, each parameter's own help, and the display name (the model's name
    is its id)."""
    content = {'ALG_DESC': text, 'ALG_CREATOR': 'CargoWatch', 'ALG_HELP_CREATOR': 'CargoWatch',
               'DISPLAY_NAME': display}
    for p in model.parameterDefinitions():
        if p.help():
            content[p.name()] = p.help()
    content.update(params)
    model.setHelpContent(content)


def depot_growth():
    model = QgsProcessingModelAlgorithm('depotgrowth', 'Models', 'models')
    param(model, QgsProcessingParameterRasterLayer('BEFORE', 'Before (first date)'),
          'Image of the depot on the first date.', 80, 80)
    param(model, QgsProcessingParameterRasterLayer('AFTER', 'After (second date)'),
          'Image of the same depot on the second date (grid, resolution and CRS may differ).', 80, 160)
    param(model, QgsProcessingParameterFeatureSource('AOI', 'Depot perimeter (optional)', [Q.SRC_POLYGON],
                                                     optional=True),
          'Compare only inside these polygons.', 80, 240)
    param(model, QgsProcessingParameterFile('STORE', 'Sites GeoPackage', extension='gpkg'),
          'The CargoWatch sites GeoPackage (the panel\'s annotation file) holding the site.', 80, 320)
    param(model, QgsProcessingParameterString('SITE_NAME', 'Site name'),
          'The site (an existing one in the sites GeoPackage) the observation is recorded on.', 80, 400)
    param(model, QgsProcessingParameterDateTime('DATE', 'Date of the after image', DATE_ONLY),
          'The observation (pit count of the after image) is recorded on this date.', 80, 480)
    child(model, 'changes', 'cargowatch:detectchanges', 'Pit changes',
          {'BEFORE': m('BEFORE'), 'AFTER': m('AFTER'), 'KIND': static(1), 'TOLERANCE': static(3.0),
           'AOI': m('AOI'), 'SENSITIVITY': static(0.5)},
          {'CHANGES': ('OUTPUT', 'Pits new, removed or kept'), 'NEW_COUNT': ('NEW_COUNT', 'New pits'),
           'REMOVED_COUNT': ('REMOVED_COUNT', 'Removed pits'), 'KEPT_COUNT': ('KEPT_COUNT', 'Pits kept'),
           'BEFORE_COUNT': ('BEFORE_COUNT', 'Pits on the first date'),
           'AFTER_COUNT': ('AFTER_COUNT', 'Pits on the second date')}, 420, 200)
    child(model, 'observation', 'cargowatch:recordobservation', 'Dated observation',
          {'STORE': m('STORE'), 'SITE_NAME': m('SITE_NAME'), 'DATE': m('DATE'),
           'PITS': out('changes', 'AFTER_COUNT'),
           'SOURCE': static('cargowatch:depotgrowth'),
           'NOTE': Src.fromExpression("concat(@Pit_changes_NEW_COUNT, ' new and ', @Pit_changes_REMOVED_COUNT, "
                                      "' removed storage pits since the before image')")},
          {'OBSERVATION_ID': ('OBSERVATION_ID', 'Observation id')}, 420, 440)
    model.setParameterOrder(['BEFORE', 'AFTER', 'AOI', 'STORE', 'SITE_NAME', 'DATE'])
    help_map(model, 'Depot growth between two dates', (
        'Storage pits dug at a depot between two dates, recorded on the site. Runs <i>Objects appeared or removed '
        'between two dates</i> (storage pits: the pit detector on each image, misregistration estimated and '
        'corrected, pits paired within 3 m) and records the pit count of the after image, with the new and '
        'removed pits in the note, as a dated observation on the site (<i>Record a dated observation on a '
        'site</i>), so the panel and the site report show the depot over time.<br><b>Outputs</b>: the pits layer '
        '(status new, removed, kept), NEW_COUNT, REMOVED_COUNT, KEPT_COUNT, BEFORE_COUNT, AFTER_COUNT, '
        'OBSERVATION_ID.<br><b>Limits</b>: those of the pit detector (faint, grassed-over pits; pits under trees '
        'or roofs are not seen); a pit missed on one date counts as new or removed: look at the confidence. '
        'Every run adds an observation.'), {})
    return model


def port_activity():
    model = QgsProcessingModelAlgorithm('portactivity', 'Models', 'models')
    param(model, QgsProcessingParameterRasterLayer('RASTER', 'Image of the port'),
          'Very-high-resolution image (0.15-0.8 m per pixel) of the port.', 80, 80)
    param(model, QgsProcessingParameterFeatureSource('YARD', 'Container yard area', [Q.SRC_POLYGON]),
          'Polygons of the container yard: containers are counted only inside.', 80, 160)
    param(model, QgsProcessingParameterFeatureSource('POSITIONS', 'AIS positions', [Q.SRC_POINT]),
          'Output of Import AIS positions (points with mmsi and time).', 80, 240)
    param(model, QgsProcessingParameterFeatureSource('SITE', 'Port (site polygons)', [Q.SRC_POLYGON]),
          'The port\'s polygon(s) with a name field: calls are stays inside, dark periods touch it.', 80, 320)
    param(model, QgsProcessingParameterNumber('NEAR_NM', 'Dark period touches the port within (nm)',
                                              Q.DOUBLE, 2.0, minValue=0.0),
          'A dark period touches the port when its last position before or first after is this close to it.',
          80, 400)
    child(model, 'containers', 'cargowatch:countcontainers', 'Containers in the yard',
          {'INPUT': m('RASTER'), 'AOI': m('YARD'), 'VIEWS': static(2)},     # four views: a yard, not a scene
          {'CONTAINERS': ('OUTPUT', 'Containers'), 'COUNT': ('COUNT', 'Containers counted'),
           'TEU': ('TEU', 'TEU counted')}, 420, 80)
    child(model, 'voyages', 'cargowatch:countvoyages', 'Port calls',
          {'INPUT': m('POSITIONS'), 'SITES': m('SITE'), 'OUTPUT': static('TEMPORARY_OUTPUT')},
          {'CALLS': ('CALLS', 'Port calls'), 'CALL_COUNT': ('CALL_COUNT', 'Port calls'),
           'DARK_COUNT': ('DARK_COUNT', 'Dark periods during which a vessel could have called')}, 420, 240)
    child(model, 'gaps', 'cargowatch:detectgaps', 'Dark periods',
          {'INPUT': m('POSITIONS'), 'SITES': m('SITE')}, {}, 420, 400)
    child(model, 'touching', 'native:extractbyexpression', 'Dark periods touching the port',
          {'INPUT': out('gaps', 'OUTPUT'),
           'EXPRESSION': Src.fromExpression("'\"site_before_nm\" <= ' || to_string(@NEAR_NM) || "
                                            "' OR \"site_after_nm\" <= ' || to_string(@NEAR_NM)")},
          {'DARK_PERIODS': ('OUTPUT', 'Dark periods touching the port')}, 700, 400)
    child(model, 'gapstats', 'qgis:basicstatisticsforfields', 'Dark period statistics',
          {'INPUT_LAYER': out('touching', 'OUTPUT'), 'FIELD_NAME': static('hours')},
          {'GAP_COUNT': ('COUNT', 'Dark periods touching the port'),
           'DARK_HOURS': ('SUM', 'Hours dark (sum)')}, 980, 400)
    model.setParameterOrder(['RASTER', 'YARD', 'POSITIONS', 'SITE', 'NEAR_NM'])
    help_map(model, 'Port activity', (
        'What a port did: the containers standing in its yard on the image (<i>Count shipping containers</i> '
        'inside the yard area, with four views of the image: slower, more accurate) and, from AIS, the port calls of vessels at it and the dark periods touching it '
        '(<i>Port calls and voyages between sites</i>, <i>Detect AIS dark periods</i>: a gap whose last '
        'position before or first position after lies within the given distance of the port).<br><b>Outputs</b>: '
        'containers layer, COUNT, TEU; port calls layer, CALL_COUNT; DARK_COUNT (dark periods during which a '
        'vessel could have called unseen); dark periods touching the port, GAP_COUNT, DARK_HOURS.<br>'
        '<b>Limits</b>: the container count is of visible container tops on that date (stacked boxes below are '
        'not counted); AIS shows only vessels that transmitted and were received; a dark period says "not '
        'seen", not "hiding".'), {})
    return model


def main():
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else MODELS
    folder.mkdir(exist_ok=True)
    for build in (depot_growth, port_activity):
        model = build()
        ok, errors = model.validate()
        if not ok:
            raise SystemExit(f'{model.name()}: ' + '; '.join(errors))
        path = folder / f'{model.name()}.model3'
        if not model.toFile(str(path)):
            raise SystemExit(f'could not write {path}')
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
