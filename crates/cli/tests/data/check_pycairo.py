"""Check a built pycairo wheel: draw into an ARGB32 surface and read the pixels back (native
byte order: the uint32 0xAARRGGBB per pixel), then a PNG round trip through the grafted
libpng."""

import io
import platform
import struct
import sys

import cairo

surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, 4, 2)
ctx = cairo.Context(surface)
ctx.set_source_rgb(1, 0, 0)
ctx.rectangle(0, 0, 2, 2)
ctx.fill()
ctx.set_source_rgba(0, 0, 1, 1)
ctx.rectangle(2, 0, 2, 2)
ctx.fill()
surface.flush()
data = bytes(surface.get_data())
pixels = [struct.unpack_from("=I", data, 4 * x)[0] for x in range(4)]
assert pixels == [0xFFFF0000, 0xFFFF0000, 0xFF0000FF, 0xFF0000FF], [hex(p) for p in pixels]
png = io.BytesIO()
surface.write_to_png(png)
assert png.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
again = cairo.ImageSurface.create_from_png(io.BytesIO(png.getvalue()))
assert bytes(again.get_data()) == data
print(f"pycairo ok: cairo {cairo.cairo_version_string()} {platform.machine()} {sys.byteorder}")
