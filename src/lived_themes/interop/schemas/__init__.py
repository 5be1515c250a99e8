"""The REFI-QDA XSDs shipped with the package (MIT, see LICENSE here), so exports can be checked offline.

``validate`` needs ``xmlschema`` (the ``dev`` extra); it is imported only when called.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SCHEMAS = {"project": "Project.xsd", "codebook": "Codebook.xsd"}


def schema_path(kind: str) -> Path:
    """The shipped XSD for ``project`` or ``codebook``."""
    if kind not in SCHEMAS:
        raise ValueError(f"kind must be one of {sorted(SCHEMAS)}")
    return Path(str(files(__name__).joinpath(SCHEMAS[kind])))


def validate(xml: bytes | str, kind: str = "project") -> None:
    """Raise ``xmlschema.XMLSchemaValidationError`` when ``xml`` (a .qde or .qdc document) breaks the standard."""
    import xmlschema

    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    xmlschema.XMLSchema(str(schema_path(kind))).validate(text)
