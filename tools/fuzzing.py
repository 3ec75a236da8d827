"""What the fuzzers in tools/ (fuzz_ais.py, fuzz_raster.py) share: the checkout importable as the package
'cargowatch', one attempt under a time limit sorted into read / refused / failed, the loop over the cases
and the command line."""
import argparse
import contextlib
import hashlib
import os
import signal
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_checkout():
    """Make this checkout importable as 'cargowatch' whatever its folder is called (as `make deps` does for the venv)."""
    pkg = os.path.join(tempfile.gettempdir(), 'cargowatch-' + hashlib.sha1(ROOT.encode()).hexdigest()[:10])
    os.makedirs(pkg, exist_ok=True)
    if not os.path.islink(os.path.join(pkg, 'cargowatch')):
        os.symlink(ROOT, os.path.join(pkg, 'cargowatch'))
    if pkg not in sys.path:
        sys.path.insert(0, pkg)


class Hang(Exception):
    """A case ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise Hang in the block after ``seconds`` (SIGALRM: main thread on Unix only; elsewhere no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, 'SIGALRM'):
        yield
        return

    def on_alarm(_sig, _frame):
        raise Hang('still running after {} s'.format(seconds))
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def attempt(fn, limit_s=None):
    """fn() under a time limit -> (result or None, error text or None). A CargoWatchError (a clear refusal for
    the analyst) gives (None, None); any other exception, or a hang, gives its text with where it was raised."""
    from cargowatch.core.errors import CargoWatchError
    try:
        with time_limit(limit_s):
            return fn(), None
    except CargoWatchError:
        return None, None
    except Exception as e:  # noqa: BLE001 - a fuzzer's whole point: any other exception is the failure
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return None, '{}: {} ({}:{})'.format(type(e).__name__, e, os.path.basename(tb.filename), tb.lineno)


def run_cases(run_case, first, cases, report=None):
    """run_case(i) -> 'read' / 'refused' / failure dict, for i in first..first+cases-1
    -> (failures, outcomes {'read': n, 'refused': n}, slowest (seconds, case))."""
    failures = []
    outcomes = {'read': 0, 'refused': 0}
    slowest = (0.0, None)
    for i in range(first, first + cases):
        t0 = time.perf_counter()
        f = run_case(i)
        slowest = max(slowest, (time.perf_counter() - t0, i))
        if isinstance(f, str):
            outcomes[f] += 1
        else:
            failures.append(f)
            if report:
                report(f)
    return failures, outcomes, slowest


def main(title, doc, run, default_cases, describe, argv=None):
    """Command line of a fuzzer: run(cases, seed, workdir, first, report) as its module defines it;
    describe(failure) -> the text after 'case N'. Prints each failure, then the number of cases and failures;
    returns the exit status (1 when any case failed)."""
    ap = argparse.ArgumentParser(description=doc.split('\n\n')[0])
    ap.add_argument('--cases', type=int, default=default_cases)
    ap.add_argument('--seed', default='0')
    ap.add_argument('--case', type=int, default=None, help='replay this one case')
    ap.add_argument('--keep', default=None, help='folder for the failing files (default: a temporary one)')
    a = ap.parse_args(argv)
    workdir = a.keep or tempfile.mkdtemp(prefix='fuzz_')
    os.makedirs(workdir, exist_ok=True)
    first, cases = (a.case, 1) if a.case is not None else (0, a.cases)
    kinds = {}

    def report(f):
        print('FAIL case {} ({}): {} -> {}'.format(f['case'], describe(f), f['error'], f['file']), flush=True)
        kind = f['error'].split(':')[0]
        kinds[kind] = kinds.get(kind, 0) + 1

    t0 = time.perf_counter()
    failures, outcomes, slowest = run(cases, a.seed, workdir, first, report)
    print('{}: {} cases (seed {}): {} read, {} refused with a clear error, {} failures{}; {:.1f} s, slowest case {} '
          '({:.2f} s)'.format(title, cases, a.seed, outcomes['read'], outcomes['refused'], len(failures),
                              ' ' + str(kinds) if kinds else '', time.perf_counter() - t0, slowest[1], slowest[0]))
    return 1 if failures else 0
