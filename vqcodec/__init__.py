"""vqcodec: learned image and audio compression.

HR-VQVAE (hierarchical residual vector quantization) + a bit-exact PixelCNN prior + rANS.

    >>> import vqcodec
    >>> model = vqcodec.load_model()                  # the shipped default image model
    >>> data = vqcodec.compress(image_uint8, model)     # bytes of a .vqc file
    >>> image = vqcodec.decompress(data, model)

    >>> data, warning = vqcodec.compress_to_target(image_uint8, model, vqcodec.Target("bpp", 0.3))
    >>> codes = vqcodec.encode_codes("photo.png")      # HR-VQ indices; vqcodec.read_codes(npz)

Map: cli -> api (arrays, bytes, files) / targets (rate goals) / codes (indices out) / data
(VQCDataset) -> audio_codec, coding, prior, quantizer, autoencoder, models -> container (.vqc).
The names below are imported lazily, so `vqcodec.container` (pure Python + numpy) can be used
without importing torch.
"""

from importlib import import_module

__version__ = "0.1.0"
_API = {"CodecError": "api", "compress": "api", "compress_many": "api", "decompress": "api",
        "decompress_many": "api", "compress_file": "api", "decompress_file": "api",
        "folder_job": "api", "info": "api", "list_models": "models", "load_model": "models",
        "compress_audio": "audio_codec", "decompress_audio": "audio_codec",
        "Target": "targets", "compress_to_target": "targets",
        "compress_audio_to_target": "targets", "truncate_bytes": "targets",
        "encode_codes": "codes", "read_codes": "codes", "write_codes": "codes"}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'vqcodec' has no attribute {name!r}")
