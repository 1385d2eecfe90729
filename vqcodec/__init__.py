"""vqcodec: learned image and audio compression.

HR-VQVAE (hierarchical residual vector quantization) + a bit-exact PixelCNN prior + rANS.

    >>> import vqcodec
    >>> model = vqcodec.load_model()                  # the shipped default image model
    >>> data = vqcodec.compress(image_uint8, model)     # bytes of a .vqc file
    >>> image = vqcodec.decompress(data, model)
"""

from .api import CodecError, compress, compress_file, decompress, decompress_file, info
from .models import list_models, load_model

__all__ = ["CodecError", "compress", "compress_file", "decompress", "decompress_file", "info",
           "list_models", "load_model"]
__version__ = "0.1.0"
