"""vqcodec: learned image and audio compression.

HR-VQVAE (hierarchical residual vector quantization) + a bit-exact PixelCNN prior + rANS.

    >>> import vqcodec
    >>> model = vqcodec.load_model()                  # the shipped default image model
    >>> data = vqcodec.compress(image_uint8, model)     # bytes of a .vqc file
    >>> image = vqcodec.decompress(data, model)

The names below are imported lazily, so `vqcodec.container` (pure Python + numpy) can be used
without importing torch.
"""

from importlib import import_module

__version__ = "0.1.0"
_API = {"CodecError": "api", "compress": "api", "compress_many": "api", "decompress": "api",
        "decompress_many": "api", "compress_file": "api", "decompress_file": "api",
        "folder_job": "api", "info": "api", "list_models": "models", "load_model": "models",
        "compress_audio": "audio_codec", "decompress_audio": "audio_codec"}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'vqcodec' has no attribute {name!r}")
