"""The static site: the board snapshot rendered to HTML, downloads and copies of the records.

``from ftbench.site import build_site`` is the entry point (``ftbench build``). Modules, in the
order a build uses them: ``stamp`` (skip when nothing changed), ``parallel`` (forked workers),
``context``, ``pages``, ``model_page``, ``language_model``, ``measurement`` and ``tables``
(page contexts, pure), ``charts`` and ``downloads`` (pure), ``sanitize`` (contributor
markdown), ``render`` (Jinja2), ``write``.
Nothing outside ``ftbench.cli`` imports this package.
"""

from ftbench.site.build import build_site
from ftbench.site.stamp import MANIFEST
from ftbench.site.write import BuildReport

__all__ = ["MANIFEST", "BuildReport", "build_site"]
