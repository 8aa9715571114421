"""lightkit-diagnostics: callbacks that watch training health, as a lightkit plugin.

``LayerStatsMonitor`` lives in :mod:`lightkit_diagnostics.layer_stats`, which lightkit imports
only when a command selects it.
"""

__all__: list[str] = []
