"""A griffe extension for the API pages: Sphinx roles in docstrings (``:func:`load_corpus```) become code spans.

The package's docstrings name other objects the Sphinx way; mkdocstrings renders Markdown, where the
role would show as raw text. A code span keeps the name readable without a link that might not resolve.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):`~?\.?([^`]+)`")


class SphinxRolesToCode(griffe.Extension):
    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"`\1`", obj.docstring.value)

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:  # module docstrings are attached after on_instance
        self.on_instance(obj=obj)
