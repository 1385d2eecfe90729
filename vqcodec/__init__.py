"""vqcodec: learned image and audio compression.

HR-VQVAE (hierarchical residual vector quantization) + a bit-exact PixelCNN prior + rANS.

    >>> import vqcodec
    >>> model = vqcodec.load_model()                  # the shipped default image model
    >>> data = vqcodec.compress(image_uint8, model)     # bytes of a .vqc file
    >>> image = vqcodec.decompress(data, model)

    >>> data, warning = vqcodec.compress_to_target(image_uint8, model, vqcodec.Target("bpp", 0.3))
    >>> codes = vqcodec.encode_codes("photo.png")      # HR-VQ indices; vqcodec.read_codes(npz)

Package map, callers first (one module an idea; no import cycle: tests/test_imports.py):

    cli            the `vqcodec` command: the Typer app; its commands in cli_files (compress,
                   decompress, truncate, info, codes), cli_models (models, train, train-sampler,
                   sample), cli_bench; cli_options / cli_run: shared options / consoles,
                   one line per error, --json on stdout
    api            facade: compress/decompress/info over arrays, bytes and files; picks the codec
    targets        rate and quality goals (--bpp, --kbps, --psnr, --max-size): encode once, cut
    codes / data   the HR-VQ indices out (.npz) / a folder of .vqc files as a torch Dataset
    bench, cards   the benchmarks / the models' cards for `models`: bench re-exports
                   image_bench, audio_bench (rate-distortion), batch_bench (throughput) and
                   bench_results (RD frontier, BD-rate, JSON and plots)
    train          the two-stage training loop: train(TrainConfig) = setup, stage 1, stage 2, export
    train_run, train_config   a run's setup and state (DDP, log, resume, --init) / TrainConfig
    train_image, train_audio   the tasks (one protocol): data, losses, metrics per modality
    presets        the training presets by name, image and audio side by side
    train_sampler, sampler_data   training the sampling prior on a model's codes / labelled
                   image sets (.npz, class folders) and their codes
    batch          folder jobs: discovery, resume, per-file failures; shards (which machine
                   codes which file), batch_summary (results, summary table, progress bar)
    naming         output names (a/b.png <-> a/b.png.vqc) and .vqc header sniffing
    image_codec    images: tiles -> segments (same-size tiles share passes), and back (compress verbs)
    audio_codec    audio: chunks with margins -> segments, and back (compress/decompress verbs)
    rdo, sample    rate-distortion choice of words / new images: the sampling prior when the
                   model has one, else the checkerboard coding prior
    segments       the shared segment coder: codes <-> rANS streams under the exact prior,
                   index hashes, a file's checks against its model, the model a file names
    models         model folders: config, identity, loading, the registry (DEFAULTS)
    network        Codec: the networks (encoder, HR-VQ, decoder, training prior) from a config
    autoencoder, quantizer, product_vq, prior, group_prior   the networks: E/D, HR-VQ, prior
    sampler        the float sampling prior: a gated PixelCNN over the codes, raster order;
                   its networks in sampler_net
    coding         rANS (constriction) streams
    media, audio, pipes, files   image / audio I/O, stdin/stdout, atomic outputs
    container      the .vqc format (numpy + struct only): the bytes; vqc_file: the file as
                   objects and the rules both directions check; limits, bombs: the decoder's budget
    errors, metrics   CodecError and the one-line helpers / PSNR

Data flow::

    image/audio --media/audio--> array --api--> image_codec | audio_codec
        --Encoder, HR-VQ--> codes --segments: exact prior + rANS (coding)--> streams
        --container--> .vqc;  and back the same way, streams --> codes --> Decoder --> file

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
