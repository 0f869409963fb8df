"""Pure image processing for uploaded photos: bytes in, bytes out (no AWS, no app imports).

Imported only by the processor function; Pillow and pillow_heif are heavy and the API function must not
pay for them. ``process_image`` validates an upload by its content and renders the served variants;
``sniff_format`` names a byte string's image format from its magic bytes.
"""

from .models import ImageRejected, ProcessedImage, Variant
from .process import process_image
from .sniff import sniff_format

__all__ = ["ImageRejected", "ProcessedImage", "Variant", "process_image", "sniff_format"]
