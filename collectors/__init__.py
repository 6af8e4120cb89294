"""Source plug-ins: one module per source, all behind :class:`collectors.base.Collector`.

``COLLECTORS`` maps a ``type`` value of ``forensics.toml`` to its class. A new
source is one module with one ``Collector`` subclass, registered here.
"""

from __future__ import annotations

from collectors.base import Collector, RejectSink, SourceReport
from forensics.window import Window


def collector_types() -> dict[str, type[Collector]]:
    """Return the collector class for every known source ``type``."""
    from collectors.elasticsearch import ElasticsearchCollector
    from collectors.files import FilesCollector

    return {cls.type: cls for cls in (FilesCollector, ElasticsearchCollector)}


__all__ = ["Collector", "RejectSink", "SourceReport", "Window", "collector_types"]
