"""A site's counts over time (containers, TEU, pits), drawn with matplotlib's Qt backend (PyQt5 or PyQt6)."""

import datetime as _dt

from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

try:
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure
    import matplotlib.dates as mdates
except Exception:  # noqa: BLE001 - no matplotlib (or no Qt backend): the dock says so instead of a chart
    FigureCanvasQTAgg = None

SERIES = (('containers', '#1f77b4', 'o'), ('teu', '#2ca02c', 's'), ('pits', '#d62728', '^'))


def tr(text):
    return QCoreApplication.translate('CargoWatchChart', text)


class SiteChart(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.setMinimumHeight(170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        if FigureCanvasQTAgg is None:
            self.canvas = None
            msg = QLabel(tr('Install matplotlib (Debian: python3-matplotlib) to see counts over time.'))
            msg.setWordWrap(True)
            msg.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lay.addWidget(msg)
            return
        self.figure = Figure(figsize=(4, 2.2), dpi=90, facecolor='none')
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setStyleSheet('background: transparent')
        lay.addWidget(self.canvas)
        self.plot([], '')

    def plot(self, observations, title=''):
        """observations: objects with .date (ISO str), .containers, .teu, .pits."""
        if self.canvas is None:
            return
        fig = self.figure
        fig.clear()
        ax = fig.add_subplot(111)
        for side in ('top', 'right'):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=7, colors='#444444')
        ax.grid(True, axis='y', color='#dddddd', linewidth=0.6)
        ax.set_axisbelow(True)
        drawn = 0
        for key, color, marker in SERIES:
            pts = [(_dt.date.fromisoformat(str(o.date)[:10]), getattr(o, key)) for o in observations
                   if getattr(o, key) is not None]
            if not pts:
                continue
            pts.sort()
            x, y = zip(*pts)
            ax.plot(x, y, marker=marker, color=color, linewidth=1.6, markersize=4, label={'containers': tr('Containers'), 'teu': tr('TEU'), 'pits': tr('Pits')}[key])
            ax.annotate(f'{y[-1]:,.0f}', (x[-1], y[-1]), textcoords='offset points', xytext=(4, 4), fontsize=7,
                        color=color, fontweight='bold')
            drawn += 1
        if drawn:
            loc = mdates.AutoDateLocator(minticks=3, maxticks=6)
            ax.xaxis.set_major_locator(loc)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
            ax.legend(fontsize=7, frameon=False, loc='upper left', ncol=3)
            ax.set_ylim(bottom=0)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, tr('No observations yet') if title else tr('Select a site'), ha='center',
                    va='center', transform=ax.transAxes, color='#888888', fontsize=8)
        if title:
            ax.set_title(title, fontsize=8.5, loc='left', color='#222222', fontweight='bold')
        fig.tight_layout(pad=0.6)
        self.canvas.draw_idle()
        self.drawn_series = drawn
