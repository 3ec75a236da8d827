#!/bin/sh
# A separate venv with MovingPandas for the cross-check and the side-by-side benchmark.
# MovingPandas is NOT a runtime dependency of CargoWatch: nothing in core/ or algorithms/ imports it.
# Usage: sh bench/setup_mp.sh   (idempotent; the venv is gitignored: bench/.venv-mp)
set -e
cd "$(dirname "$0")"
if [ ! -x .venv-mp/bin/python ]; then
    /usr/bin/python3 -m venv .venv-mp
fi
.venv-mp/bin/python -c "import movingpandas" 2>/dev/null || \
    .venv-mp/bin/pip install --quiet --disable-pip-version-check movingpandas
.venv-mp/bin/python -c "import movingpandas, pandas, geopandas; print('movingpandas', movingpandas.__version__, 'pandas', pandas.__version__, 'geopandas', geopandas.__version__)"
