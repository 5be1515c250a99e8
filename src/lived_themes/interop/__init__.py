"""REFI-QDA interop: bring coding in from NVivo, ATLAS.ti, MAXQDA or QualCoder, and send codes back for review.

``import_project`` reads a .qdpx (or bare .qde) into a Corpus; ``read_qdc`` reads a codebook exchange
file; ``export_project`` and ``write_qdc`` write them. Project files come from other people, so the
reader refuses zip-slip, entity expansion, zip bombs and sources outside the archive (archive.py, xmlsafe.py).
"""

from lived_themes.interop.archive import ArchiveLimits
from lived_themes.interop.codes import read_qdc
from lived_themes.interop.reader import UNITS, ImportResult, import_project

__all__ = ["UNITS", "ArchiveLimits", "ImportResult", "import_project", "read_qdc"]
