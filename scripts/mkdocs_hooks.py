"""MkDocs hook: the nav lists only pages that exist, and every existing page is in the nav.

Several pages are written alongside the code they describe, sometimes after the nav in
mkdocs.yml names them. A nav entry whose file is missing is dropped (with a note in the build
log) instead of failing ``mkdocs build --strict``; a page missing from the nav is appended under
"More", so that no page is unreachable.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.lightkit")


def _existing(nav: list[Any], docs: Path, seen: set[str]) -> list[Any]:
    kept: list[Any] = []
    for item in nav:
        if isinstance(item, dict):
            ((title, target),) = item.items()
            if isinstance(target, list):
                children = _existing(target, docs, seen)
                if children:
                    kept.append({title: children})
            elif isinstance(target, str) and "://" not in target and not (docs / target).is_file():
                log.info("nav: %s (%s) does not exist yet; left out", title, target)
            else:
                seen.add(str(target))
                kept.append(item)
        elif isinstance(item, str):
            if (docs / item).is_file():
                seen.add(item)
                kept.append(item)
            else:
                log.info("nav: %s does not exist yet; left out", item)
    return kept


def on_config(config: Any, **kwargs: Any) -> Any:
    """Drop nav entries whose page is missing; append pages the nav does not list."""
    docs = Path(config["docs_dir"])
    seen: set[str] = set()
    nav = _existing(config["nav"] or [], docs, seen)
    extra = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    missing = [page for page in extra if page not in seen]
    if missing:
        nav.append({"More": missing})
    config["nav"] = nav
    return config
