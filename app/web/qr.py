"""QR codes drawn on the server, as inline SVG (segno), so a link can be scanned from a screen.

No script and no style attribute: the strict CSP holds, and the code shows without JavaScript.
"""

import segno
from markupsafe import Markup


def qr_svg(text: str, *, title: str) -> Markup:
    """The QR code of `text` as an <svg> element sized by its viewBox (CSS sets the width).

    Dark modules on a white quiet zone whatever the page's colours, so a camera reads it.
    """
    code = segno.make(text, error="m", micro=False)
    svg = code.svg_inline(scale=1, border=4, dark="#000", light="#fff", title=title,
                          svgclass="qr", lineclass=None, omitsize=True)
    # segno escapes the title (tested); the rest is its own markup, no user text in it.
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704
