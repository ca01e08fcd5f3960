"""A small HTML builder that escapes by default.

Every value that reaches a page passes through :func:`esc` unless it is already
:class:`Html` (markup this module built). Text and attribute values are escaped with
quotes, so data from the log (names, details, event bodies) can never become markup.
Tag and attribute names are fixed in code, never taken from data.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

# Elements without content or end tag.
_VOID = frozenset({"br", "col", "hr", "img", "input", "link", "meta", "source"})

Child = object  # str, int, Html, None (skipped) or an iterable of children


class Html(str):
    """Markup that is safe to emit as it is."""

    __slots__ = ()


def esc(value: object) -> Html:
    """``value`` as markup: escaped text unless it already is :class:`Html`."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def join(children: Iterable[Child]) -> Html:
    """Children in order: each escaped, nested iterables flattened, ``None`` skipped."""
    parts: list[str] = []
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, str | int):
            parts.append(esc(child))
        elif isinstance(child, Iterable):
            parts.append(join(child))
        else:
            raise TypeError(f"cannot render {type(child).__name__} as HTML")
    return Html("".join(parts))


def _attribute(name: str, value: object) -> str:
    name = name.rstrip("_").replace("_", "-")  # class_ -> class, data_fen -> data-fen
    if value is True:
        return f" {name}"
    return f' {name}="{esc(value)}"'


def el(tag: str, *children: Child, **attributes: object) -> Html:
    """``<tag attributes>children</tag>``; attributes that are None or False are left out."""
    attrs = "".join(_attribute(name, value) for name, value in attributes.items()
                    if value is not None and value is not False)
    if tag in _VOID:
        if children:
            raise ValueError(f"<{tag}> takes no children")
        return Html(f"<{tag}{attrs}>")
    return Html(f"<{tag}{attrs}>{join(children)}</{tag}>")
