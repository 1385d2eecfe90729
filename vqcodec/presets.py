"""Training presets: architecture and schedule by name, image and audio side by side.

A preset is a flat dict: the model's architecture keys (train_config.ARCH_KEYS, SHAPE_KEYS and
a few optional ones) beside the schedule (steps, crops, batch, lr) and the ablation switches of
train_config.STUDY_KEYS. `vqcodec train --preset NAME` picks one; TrainConfig.from_preset
resolves it, with the run's overrides, into the hyper-parameters a run trains with. Pure data.
"""

from __future__ import annotations

# photo-v4 and its chunks (training/photo-v4): later chunks change only what their comments say.
PHOTO_V4 = dict(arch="lowres", channels=[96, 192], stage_blocks=[2, 3], latent_dim=96, groups=12,
                res_blocks=0, codebook_size=16, num_layers=3,
                prior=dict(width=32, blocks=1, phases=2), layer_dropout=False,
                lam_range=[0.005, 0.3], lam_zero=0.25, channels_last=True, bf16=True,
                rate_lr_mult=20.0, crop=128, batch_size=8, steps=7000, prior_steps=1500,
                prior_crop=128, lr=5e-4, prior_batch=8, crops_per_image=12)
PHOTO_V4_G24 = dict(PHOTO_V4, groups=24, steps=5500, prior_steps=1000)
PHOTO_V4_C3 = dict(PHOTO_V4_G24, search_weight="decoder", lam_range=[0.003, 2.0], lam_zero=0.2,
                   steps=4000)
PHOTO_V4_C4 = dict(PHOTO_V4_C3, decoder_blocks=[4, 5], steps=3000, prior_steps=500)
PHOTO_V5 = dict(PHOTO_V4_C3, arch="dct", strides=[8], channels=[192], latent_dim=192,
                stage_blocks=[4], decoder_blocks=[6], groups=24, steps=4000, prior_steps=400,
                prior_crop=256, prior_batch=2)
PHOTO_V5_C2 = dict(PHOTO_V5, steps=0, prior_steps=1500, init_prior=True, rdo=0.01,
                   target_lambdas=[0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0])
# The 48-tree line from chunk 11 on: stage 1 on the coder's codes, no dead-word restarts, and the
# lam ladder of the bench (10 lams; 12 with the top, 0.002 and 0.001, from chunk 13 on).
G48_CODER = dict(PHOTO_V5_C2, groups=48, code_search="prior", revive=False)
LAMS_10 = [0.0, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.3, 1.0]
LAMS_12 = [0.0, 0.001, 0.002, *LAMS_10[1:]]
# Chunk 14's recipe (5x5 lapped synthesis, kappa 4, the prior refitted to the coder's codes) and
# chunk 15's (the same trained at 0.1-3 bpp) and chunk 16's (at WebP's rates), which the chunks
# after them vary (why: at each preset).
G48_C14 = dict(G48_CODER, synth_kernel=5, ms_ssim_weight=0.015, prior_codes="coder",
               lowfreq_weight=4.0, steps=1200, lr=2e-4, prior_steps=600, target_lambdas=LAMS_12)
G48_C15 = dict(G48_C14, steps=800, prior_steps=400, lam_range=[0.001, 0.5], lam_zero=0.1,
               default_layers=2)
G48_C16 = dict(G48_C15, steps=1200, lam_range=[0.002, 0.3], lam_zero=0.05)

IMAGE_PRESETS: dict[str, dict] = {
    # Trains in seconds: for tests and smoke runs, not for use.
    "tiny": dict(channels=[16, 32], latent_dim=16, res_blocks=1, codebook_size=4, num_layers=2,
                 prior=dict(width=16, blocks=1, phases=2),
                 usage_decay=0.8, dead_usage=0.05, recon_weight=10.0,
                 crop=32, batch_size=8, steps=400, prior_steps=100, prior_crop=32, lr=3e-3,
                 crops_per_image=4),
    # CIFAR-10 (32x32): one latent vector per pixel, HR-VQ 8/64/512 as in the HR-VQVAE paper.
    "cifar": dict(channels=[32], strides=[1], latent_dim=16, res_blocks=1, codebook_size=8,
                  num_layers=3, prior=dict(width=32, blocks=1, phases=2), recon_weight=10.0,
                  crop=32, batch_size=64, steps=3000, prior_steps=800, prior_crop=32, lr=1e-3,
                  crops_per_image=1),
    # The same autoencoder with a flat VQ of the same bits (one layer of 512 words = 9 bits per
    # position, as 8/64/512): the HR-VQVAE paper's hierarchy-vs-flat comparison for sampling.
    # Its coding prior reads 513 one-hot planes (6 s/step): fewer prior steps, as it is only
    # a reference here (the sampling priors are what is compared).
    "cifar-flat": dict(channels=[32], strides=[1], latent_dim=16, res_blocks=1,
                       codebook_size=512, num_layers=1, nearest="matmul",
                       prior=dict(width=32, blocks=1, phases=2),
                       recon_weight=10.0, crop=32, batch_size=64, steps=3000, prior_steps=300,
                       prior_crop=32, lr=1e-3, crops_per_image=1),
    # MNIST (28x28 grey digits): stride 2, a 14x14 grid of HR-VQ 8/64/512, so the sampling
    # prior draws 3 x 196 indices in raster order.
    "mnist": dict(channels=[32, 64], strides=[2, 1], latent_dim=16, res_blocks=1,
                  codebook_size=8, num_layers=3, prior=dict(width=32, blocks=1, phases=2),
                  recon_weight=10.0, crop=28, batch_size=64, steps=2000, prior_steps=600,
                  prior_crop=28, lr=1e-3, crops_per_image=1),
    # The default for `vqcodec train` and the first shipped photo model.
    "small": dict(channels=[64, 128], latent_dim=64, res_blocks=2, codebook_size=8, num_layers=4,
                  prior=dict(width=64, blocks=2, phases=2),
                  crop=64, batch_size=16, steps=4000, prior_steps=1500, prior_crop=128, lr=1e-3,
                  crops_per_image=24),
    # The default photo model: the small architecture fine-tuned from photo-small (--init) on
    # 128 px crops, so the decoder and prior learn wider context, at a lower learning rate.
    "photo": dict(channels=[64, 128], latent_dim=64, res_blocks=2, codebook_size=8, num_layers=4,
                  prior=dict(width=64, blocks=2, phases=2),
                  crop=128, batch_size=8, steps=2000, prior_steps=2000, prior_crop=128, lr=5e-4,
                  prior_batch=8, crops_per_image=12),
    # photo fine-tuned (--init photo) without layer dropout: every sample trains all 4 layers,
    # which the ablation in training/photo/ab_study.py found buys the full-rate point most.
    "photo-v2": dict(channels=[64, 128], latent_dim=64, res_blocks=2, codebook_size=8,
                     num_layers=4, prior=dict(width=64, blocks=2, phases=2), layer_dropout=False,
                     crop=128, batch_size=8, steps=1200, prior_steps=1500, prior_crop=128,
                     lr=3e-4, prior_batch=8, crops_per_image=12),
    # photo-v4: low-resolution ConvNeXt transform (pixel-unshuffle stems, stages at 1/4 and
    # 1/8), product HR-VQ (12 trees of 8-dim words, m = 16, 3 layers: up to 2.25 bpp before the
    # prior) with an entropy-constrained choice, lam drawn per sample so one model spans the
    # rates; a (layer, group) prior. training/photo-v4 has the measurements behind each choice.
    "photo-v4": PHOTO_V4,
    # photo-v4 with each 8-dim group split in two (24 trees of 4-dim words: up to 4.5 bpp before
    # the prior): chunk 1's codes used 2.0 of its 2.25 bpp at lam 0 and the transform's
    # unquantized ceiling sat just above (30.1 vs 29.9 dB on Kodak), so the quantizer's capacity,
    # not its error, capped the top rate. Started from photo-v4-c1 (--init splits its words).
    "photo-v4-g24": PHOTO_V4_G24,
    # Chunk 3: the search weighs each group's error by the decoder's sensitivity to it (probed
    # every 100 steps), and lam spans 3 decades so the low rates are trained too.
    "photo-v4-c3": PHOTO_V4_C3,
    # Chunk 4: the transform was the ceiling at every rate, so the decoder grows from 2+3 to
    # 4+5 ConvNeXt blocks (the added ones start as identities: --init photo-v4-c3 continues
    # exactly); 51.6k -> 70.9k MACs per pixel.
    "photo-v4-c4": PHOTO_V4_C4,
    # Chunk 5: chunk 4's autoencoder as it is (no stage-1 steps) and its coding prior trained on
    # from the shipped one (init_prior) with a full cosine: chunks 3 and 4 each trained theirs
    # from scratch for only 500 steps.
    "photo-v4-c5": dict(PHOTO_V4_C4, steps=0, prior_steps=1500, init_prior=True),
    # Chunk 6: chunk 5's prior trained on, now on the codes of 256 px crops (32x32 latent grids,
    # where 128 px gave 16x16: with a 5x5 context, 44 % of a 16x16 grid's positions see a
    # border, 23 % of a 32x32's, 10 % of a Kodak image's 96x64), batch 2: a step costs the same.
    "photo-v4-c6": dict(PHOTO_V4_C4, steps=0, prior_steps=1500, init_prior=True, prior_crop=256,
                        prior_batch=2),
    # Chunk 7: the prior had flattened (chunk 6's +250 steps: -0.3 % bits; 3x3 context of earlier
    # streams: -0.05 %), so the autoencoder trains on: 2400 stage-1 steps from chunk 6 (c4's
    # autoencoder, whose validation still rose at the end of its cosine) at a lower restart lr
    # (c4's 5e-4 restart cost 0.9 dB for 1000 steps), then chunk 6's prior adapted to the new
    # codes for 500 steps on 256 px crops.
    "photo-v4-c7": dict(PHOTO_V4_C4, steps=2400, lr=2e-4, prior_steps=500, init_prior=True,
                        prior_crop=256, prior_batch=2),
    # Chunk 8: the prior and 2400 more stage-1 steps had flattened (chunks 6-7), so the decoder
    # grows from 4+5 to 4+9 ConvNeXt blocks (the added ones at 1/8, where a block is cheapest:
    # speed_decoder.json) and trains alone (train_only): the encoder, codebooks and search stay
    # chunk 6's, so every code and the coding prior (init_prior, no prior steps) are chunk 6's and
    # any gain is distortion at the same bytes. rdo / target_lambdas: chunk 6's encode defaults.
    "photo-v4-c8": dict(PHOTO_V4_C4, decoder_blocks=[4, 9], train_only="decoder", steps=4000,
                        lr=3e-4, prior_steps=0, init_prior=True, prior_crop=256, prior_batch=2,
                        rdo=0.01, target_lambdas=[0.0, 0.01, 0.03, 0.1, 0.3, 1.0]),
    # photo-v5 (training/photo-v5): the transform starts as an orthonormal colour DCT of 8x8
    # blocks (EncoderDCT), 192 latent values per block (photo-v4: 96), so nothing but the
    # quantizer caps the PSNR (photo-v4-c6's unquantized ceiling: 36.2 dB); ConvNeXt blocks at
    # 1/8 only, started as identities. Product HR-VQ of 24 trees over 8-dim groups of
    # coefficients dealt by energy rank, photo-v4-c3's search weighting and lam range. Chunk 1
    # fits one session (run folders outside the repository do not outlive it): 4000 steps and a
    # short prior, a parent for the next chunk's --init.
    "photo-v5": PHOTO_V5,
    # Chunk 2: chunk 1's autoencoder as it is and its coding prior trained on (init_prior) for
    # a full cosine on 256 px crops, as photo-v4's chunks 5-6 did for theirs (-23.5 % BD-rate
    # from chunk 4 to 6): chunk 1's prior had only 400 steps (validation bits per index
    # 1.39/1.78/1.86 where photo-v4-c6's trained prior spends 1.10/1.48/1.62). rdo and
    # target_lambdas: the encode defaults (photo-v4-c6's).
    "photo-v5-c2": PHOTO_V5_C2,
    # Chunk 3: chunk 2 trained on with a word held at zero in every codebook (zero_words), so
    # the rate search can code nothing more for a vector: chunk 2 is furthest behind photo-v4-c6
    # at low rates (19 % more bits at 28 dB on Kodak), where a deep layer must still add some
    # word and the cheapest can add error. A restart at a lower lr (photo-v4-c7's), then chunk
    # 2's prior adapted to the new codes.
    "photo-v5-c3": dict(PHOTO_V5_C2, zero_words=True, steps=2000, lr=2e-4, prior_steps=600),
    # Probe for the next design: photo-v5 with 48 trees over 4-dim groups (photo-v4's word
    # dimension) instead of 24 over 8-dim, so twice the indices per block; chunks 2-3 had the
    # same bits per index as photo-v4-c6 but ~0.9 dB less from layer 1. Chunk 1's schedule
    # (training/photo-v5/README.md: "Probe").
    "photo-v5-g48": dict(PHOTO_V5, groups=48),
    # The probe's chunk 2, as photo-v5-c2 was chunk 1's: its autoencoder as it is and its
    # 400-step coding prior trained on (init_prior) for 1500 steps on 256 px crops (chunk 2
    # bought -18 % BD-rate this way; the probe sat at chunk 1's level with chunk 1's prior).
    "photo-v5-g48-c2": dict(PHOTO_V5_C2, groups=48),
    # Its chunk 3: the decoder alone (train_only, so every code and the coding prior stay
    # chunk 2's and any gain is PSNR at the same bytes) grows a 1/4-resolution post-filter
    # (PostFilter: 2 ConvNeXt blocks of width 64, an identity at step 0, +4.9k MACs per pixel).
    # Why: the dct decoder's last layer makes each 8x8 block a linear function of its own
    # feature vector, so at low rates it draws blocks, as JPEG does; photo-v4-c6, whose decoder
    # ends at 1/4 with 4x4 cells, leads it most there. Light-table codes, not code_search
    # "prior": the coder's search costs 0.8 s per batch of 8 on this model, 4x the step
    # (training/photo-v5/speed_post.json).
    "photo-v5-g48-c3": dict(PHOTO_V5_C2, groups=48, post_blocks=2, post_width=64,
                            train_only="decoder", steps=4000, lr=3e-4, prior_steps=0),
    # Its chunk 4: the decoder alone again (no post-filter), now on the codes the coder makes
    # (code_search "prior": rdo.search_rd_groups under the coding prior's bits at a lam drawn
    # per batch), with every layer count: each chunk so far trained its decoder on the light
    # tables' choice, which spends 3-4 bits per index where the coder spends ~1.2, so `vqcodec
    # compress` hands it codes from another distribution. Bytes stay chunk 2's exactly; any
    # gain is PSNR. 1.1 s/step on both cores (the search is 0.8 s of it: speed_post.json).
    "photo-v5-g48-c4": dict(PHOTO_V5_C2, groups=48, train_only="decoder", code_search="prior",
                            layer_dropout=True, steps=1000, lr=2e-4, prior_steps=0,
                            target_lambdas=[0.0, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0]),
    # Its chunk 5: the whole autoencoder (encoder, codebooks, decoder) on the coder's codes,
    # each sample at its own lam as in every chunk before (train.py's _coder_codes), then chunk
    # 2's prior adapted to the new codes. Chunk 4 put the decoder alone on them and gained
    # +0.05 dB at low rates: the question here is whether codebooks and an encoder that learn
    # the coder's choice (not the light tables', which charge all 48 trees 3-4 bits per index
    # where the coder spends ~1.2) close the 0.2-0.4 dB g48 trails photo-v4-c6 by at 0.3-0.6 bpp.
    # No dead-word restarts (revive): at high lam the coder uses a few words per codebook, so
    # within 200 steps a third of layer 3's words looked dead though lam-0 samples still use
    # them, and restarting them would move words the coding prior knows.
    "photo-v5-g48-c5": dict(PHOTO_V5_C2, groups=48, code_search="prior", revive=False,
                            steps=800, lr=2e-4, prior_steps=600,
                            target_lambdas=[0.0, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0]),
    # Its chunk 6: chunk 5's autoencoder as it is, and its prior trained on for 600 steps on
    # the codes the coder writes (prior_codes "coder": rdo.search_rd_groups under chunk 5's
    # prior, each crop at its own lam), not the light tables' choice -- the prior of every
    # chunk so far fitted codes of 3-4 bits per index, the files hold codes of ~1.2. Stage 1
    # is skipped, so any gain is bytes at the same codes' distortion.
    "photo-v5-g48-c6": dict(PHOTO_V5_C2, groups=48, prior_codes="coder", steps=0,
                            prior_steps=600,
                            target_lambdas=[0.0, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0]),
    # Its chunk 7: both levers of chunks 5 and 6 in one run, from chunk 6. Stage 1 trains the
    # whole autoencoder on the codes the coder picks under chunk 6's prior (the one fitted to
    # the coder's codes, so the search sees the rates the files will pay), 1000 steps at lr 2e-4
    # (the batched search makes a step ~1.5x cheaper than chunk 5's); stage 2 then fits that
    # prior to the new autoencoder's coder codes, as chunk 6 did.
    "photo-v5-g48-c7": dict(PHOTO_V5_C2, groups=48, code_search="prior", revive=False,
                            prior_codes="coder", steps=1000, lr=2e-4, prior_steps=600,
                            target_lambdas=[0.0, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0]),
    # Its chunk 8: a share of MS-SSIM in the loss, where this line trails most (+21.6 % BD-rate
    # on MS-SSIM against photo-v4-c6 at chunk 6, while ahead on PSNR): chunk 7's recipe for 600
    # steps with ms_ssim_weight 0.02 (the two terms weighed about alike), the prior kept as
    # chunk 7 left it, so what the share buys and costs is measured against chunk 7 itself.
    "photo-v5-g48-c8": dict(PHOTO_V5_C2, groups=48, code_search="prior", revive=False,
                            ms_ssim_weight=0.02, steps=600, lr=2e-4, prior_steps=0,
                            target_lambdas=[0.0, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0]),
    # Its chunk 9: chunk 6's recipe on chunk 8 -- the prior fitted to the codes the coder now
    # picks (chunk 8 kept chunk 7's prior while its MS-SSIM share moved the autoencoder).
    "photo-v5-g48-c9": dict(PHOTO_V5_C2, groups=48, prior_codes="coder", steps=0,
                            prior_steps=600,
                            target_lambdas=[0.0, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0]),
    # Its chunk 10: lapped synthesis (synth_kernel 3: each 8x8 block drawn from the 3x3
    # neighbourhood of feature vectors, grown from chunk 9's block synthesis as an identity),
    # where chunk 8 found this line's MS-SSIM deficit is not only its loss: on Kodak its error
    # across block edges is 1.14-1.25x that inside blocks (photo-v4-c6: 0.94-1.02). Stage 1 on
    # the coder's codes as chunk 7, chunk 9's prior kept (a probe: the prior adapts after).
    "photo-v5-g48-c10": dict(PHOTO_V5_C2, groups=48, synth_kernel=3, code_search="prior",
                             revive=False, steps=600, lr=2e-4, prior_steps=0,
                             target_lambdas=[0.0, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0]),
    # Its chunk 11: chunk 10's lapped synthesis trained on (its validation PSNR still rose at
    # step 600), with a 0.015 share of 1 - MS-SSIM (chunk 8's 0.02 traded +2.8 % PSNR for
    # -4.0 % MS-SSIM BD-rate; this line is 17 % ahead of photo-v4-c6 on PSNR and 6 % behind on
    # MS-SSIM, at 0.45-0.8 bpp), then its prior fitted to the coder's codes (chunk 6's recipe).
    # target_lambdas gain 0.02 and 0.05, where the ladder left 0.44-0.80 and 0.19-0.44 bpp
    # without a setting for --bpp targets.
    "photo-v5-g48-c11": dict(G48_CODER, synth_kernel=3, ms_ssim_weight=0.015,
                             prior_codes="coder", steps=1200, lr=2e-4, prior_steps=600,
                             target_lambdas=LAMS_10),
    # Its chunk 12 (a probe from the default, chunk 11): how far a larger MS-SSIM share moves
    # the metric where the must is furthest (+36.8 % against WebP on MS-SSIM, −26.9 %
    # against JPEG on PSNR with 1.9 points to spare): 0.04 for 1000 steps, chunk 11's prior kept.
    "photo-v5-g48-c12": dict(G48_CODER, synth_kernel=3, ms_ssim_weight=0.04, steps=1000,
                             lr=2e-4, prior_steps=0, target_lambdas=LAMS_10),
    # Its chunk 13: a wider lapped synthesis (synth_kernel 5: each 8x8 block drawn from the 5x5
    # neighbourhood, basis functions of 40x40 px), grown from chunk 11's 3x3 as an identity, with
    # chunk 11's recipe (1200 stage-1 steps on the coder's codes, a 0.015 MS-SSIM share, the
    # prior refitted). Why: against WebP at the same bytes, chunk 11's SSIM terms are 1.4-3x
    # worse at MS-SSIM's coarse scales (1/4-1/16 of the picture: errors that span blocks), and the
    # 3x3 lapping was the one lever that bought both metrics. +16 ms of decoding for 768x512.
    # target_lambdas gain 0.002 and 0.001: chunk 11 has nothing between 1.4 bpp (lam 0.003) and
    # 3.8 (lam 0), where they give 1.6-2.6 bpp and 36-37.7 dB on Kodak.
    "photo-v5-g48-c13": dict(G48_CODER, synth_kernel=5, ms_ssim_weight=0.015,
                             prior_codes="coder", steps=1200, lr=2e-4, prior_steps=600,
                             target_lambdas=LAMS_12),
    # Its chunk 14: chunk 13 forked at step 500 (its checkpoint copied, --resume) with a
    # low-frequency emphasis in the coder's search (lowfreq_weight 4: a group's search weight
    # times 1 + 4 x the share of its response in the 8x8 block means), for the rest of stage 1
    # and the codes the prior is refitted to. Why: on Kodak at the same bytes chunk 11's error
    # in 32x32 means is 5-20x WebP's; the emphasis on chunk 11 at encode time alone (6 Kodak
    # images, lam 0.003-0.1) bought -1.7 % PSNR and -5.6 % MS-SSIM BD-rate (kappa 2: -1.5 / -4.7,
    # 8: -1.0 / -4.9).
    "photo-v5-g48-c14": G48_C14,
    # Its chunk 15: chunk 14 trained on at the rates people use. Every chunk so far drew its
    # lam log-uniform from [0.003, 2] (and 0 a fifth of the time): 29 % of the steps at lam
    # 0.3-2 (0.08-0.13 bpp on Kodak, below what anyone keeps a photo at) and none at 0.001-0.003
    # (1.5-2.9 bpp). Against WebP on Kodak chunk 14 needs +30-38 % of the bytes at 0.23-0.3 bpp,
    # +12 % at 0.4-0.9 and +25-34 % at 1.2 bpp (36.4 dB). [0.001, 0.5] with lam 0 a tenth of the
    # time spends the steps on 0.1-3 bpp; 800 steps from the shipped chunk 14, the prior
    # refitted to the new codes for 400 (a chunk that fits a session with its bench on a CPU
    # without bf16, where a step costs 1.9 s instead of 0.9).
    "photo-v5-g48-c15": G48_C15,
    # Its chunk 16: chunk 15's recipe with the steps where the bench measures against WebP
    # (its qualities 5-80: 0.23-1.2 bpp on Kodak, chunk 15's lam 0.1-0.005). Chunk 15 drew lam
    # from [0.001, 0.5]: 37 % of its steps at lam 0.05-0.5, where the gap to WebP is largest
    # (+28-30 % bytes at 0.3 bpp), but 15 % at 0.3-0.5 (0.14-0.16 bpp, below WebP's range).
    # [0.002, 0.3] with lam 0 a twentieth of the time (the top point still trained), 1200
    # stage-1 steps (chunk 15's validation still rose at step 800), the prior refitted for 400.
    "photo-v5-g48-c16": G48_C16,
    # A probe on chunk 16: its networks unchanged (no stage-1 steps), its prior refitted with 4
    # phases on layer 1 (2 on layers 2-3) for 200 steps, against the same 200 steps at 2 phases
    # (README.md: the context of 4 phases saves under 1 % of layer 1's bits here, where the 47
    # groups decoded before a stream already give most of the context; not a lever).
    "photo-v5-g48-c16-p4": dict(G48_C16, steps=0, prior_steps=200,
                                prior=dict(width=32, blocks=1, phases=[4, 2, 2])),
    # Its chunk 17: chunk 16's recipe again from chunk 16 (a new cosine from lr 2e-4).
    "photo-v5-g48-c17": G48_C16,
    # Its chunk 18: the same recipe once more from chunk 17 (chunk 17 gained 1.2 % on chunk 16);
    # shipped as the default (-5.6 % against chunk 15 on Kodak, -1.2 % MS-SSIM against WebP).
    "photo-v5-g48-c18": G48_C16,
    "tiny-dct": dict(arch="dct", strides=[2], channels=[12], latent_dim=12, stage_blocks=[1],
                     groups=3, res_blocks=0, codebook_size=4, num_layers=2,
                     prior=dict(width=8, blocks=1, phases=2), layer_dropout=False,
                     lam_range=[0.01, 0.3], lam_zero=0.25, usage_decay=0.8, dead_usage=0.05,
                     crop=32, batch_size=8, steps=60, prior_steps=20, prior_crop=32, lr=3e-3,
                     crops_per_image=4),
    # The same shape at toy size, for tests.
    "tiny-lowres": dict(arch="lowres", channels=[16, 32], stage_blocks=[1, 1], latent_dim=16,
                        groups=4, res_blocks=0, codebook_size=4, num_layers=2,
                        prior=dict(width=8, blocks=1, phases=2), layer_dropout=False,
                        lam_range=[0.01, 0.3], lam_zero=0.25, usage_decay=0.8, dead_usage=0.05,
                        crop=32, batch_size=8, steps=200, prior_steps=60, prior_crop=32, lr=3e-3,
                        crops_per_image=4),
}

AUDIO_PRESETS: dict[str, dict] = {
    # Train in seconds at 8 kHz: for tests and smoke runs, not for use. tiny-audio has the
    # STFT-frame networks of speech-stft, tiny-wave the waveform convs of speech-small.
    "tiny-audio": dict(modality="audio", arch="stft", sample_rate=8000, channels=[32],
                       strides=[32], latent_dim=4, latent_rows=2, res_blocks=2, codebook_size=4,
                       num_layers=2, prior=dict(width=16, blocks=1, phases=2), usage_decay=0.8,
                       dead_usage=0.05, crop_seconds=0.25, prior_crop_seconds=1.0,
                       batch_size=8, steps=120, prior_steps=40, lr=3e-3),
    "tiny-wave": dict(modality="audio", sample_rate=8000, base_channels=8, channels=[16, 32],
                      strides=[4, 4], latent_dim=8, res_blocks=1, codebook_size=4, num_layers=2,
                      prior=dict(width=16, blocks=1, phases=2), usage_decay=0.8,
                      dead_usage=0.05, crop_seconds=0.25, prior_crop_seconds=1.0,
                      batch_size=8, steps=120, prior_steps=40, lr=3e-3),
    # The first speech model (16 kHz, waveform convs; superseded by speech-stft, which reached
    # PESQ-WB 2.37 where this one reached 1.12 in a shorter run). Stride 2*4*4 = 32: 500
    # latent frames/s; m = 8 and 4 layers: 3 raw bits per layer and frame, 1.5/3/4.5/6 kbps
    # before the prior takes its share. An 8-dim latent: with 32 dims the codebooks collapsed
    # in short runs (perplexity 1-6 of 8 at layer 1, mel loss stuck at 4.5); with 8 they stay
    # in use and the mel loss falls as fast as without any quantizer. Usage memory of ~10
    # batches so dead codewords restart early.
    "speech-small": dict(modality="audio", sample_rate=16000, base_channels=16,
                         channels=[32, 64, 128], strides=[2, 4, 4], latent_dim=8, res_blocks=2,
                         codebook_size=8, num_layers=4, prior=dict(width=64, blocks=2, phases=2),
                         usage_decay=0.9, dead_usage=0.05, crop_seconds=1.0,
                         prior_crop_seconds=2.0, batch_size=16, steps=12000, prior_steps=3000,
                         lr=2e-3),
    # The shipped speech model. Everything at the STFT frame rate (Vocos-like,
    # autoencoder.SpecEncoder1d/SpecDecoder1d): hop 160 = 100 frames/s, 5 latent vectors per
    # frame, m = 8 and 4 layers: 15 raw bits per frame and layer, 1.5/3/4.5/6 kbps before the
    # prior takes its share. About 10x less compute per second of audio than speech-small's
    # waveform convs.
    "speech-stft": dict(modality="audio", arch="stft", sample_rate=16000, channels=[192],
                        strides=[160], latent_dim=8, latent_rows=5, res_blocks=6,
                        codebook_size=8, num_layers=4, prior=dict(width=64, blocks=2, phases=2),
                        usage_decay=0.9, dead_usage=0.05, crop_seconds=1.0,
                        prior_crop_seconds=2.0, batch_size=16, steps=14000, prior_steps=2000,
                        lr=1e-3),
    # General audio (issue 20, training/music-stft): speech-stft's STFT-frame design at 24 kHz
    # (a 12 kHz audio band; 48 kHz would double every layer's cost for content this CPU cannot
    # train or code in real time), hop 240 = 100 frames/s, 16 latent vectors per frame, m = 16
    # and 4 layers: 64 raw bits per frame and layer = 6.4 kbps per channel and layer before the
    # prior. Stereo is coded as mid and side (audio_codec), each a mono signal of this model.
    # A prior of width 48 and one block: on this grid (16 rows x 100 frames/s x 2 channels)
    # speech-stft's 64/2 prior alone made decoding 0.33x real time on one core (48/1: 0.17x).
    # bf16 autocast: 1.32 s/step against 2.06 in float32 (training/music-stft/speed_step.json).
    "music-stft": dict(modality="audio", arch="stft", sample_rate=24000, channels=[256],
                       strides=[240], latent_dim=8, latent_rows=16, res_blocks=8,
                       codebook_size=16, num_layers=4, prior=dict(width=48, blocks=1, phases=2),
                       stereo="mid-side", usage_decay=0.9, dead_usage=0.05, crop_seconds=1.0,
                       prior_crop_seconds=2.0, batch_size=16, steps=3000, prior_steps=1000,
                       lr=1e-3, bf16=True),
}
# music-stft's campaign (training/music-stft/run2.sh): one 12000-step cosine trained in chunks
# (--stop-at, --resume) on training/music/fetch.py's split; at step 3000 a copy of the run forks
# into music-stft-2-gan (the same schedule with the adversarial losses from there on), so what
# they buy is measured against the same run at the same steps and rates.
# default_layers: what a file gets without --layers (the bench of the shipped model: layers 3-4
# add +0.01 ViSQOL for 25 kbps on the held-out tracks, training/music-stft/README.md).
AUDIO_PRESETS["music-stft-2"] = dict(AUDIO_PRESETS["music-stft"], steps=12000, prior_steps=2000,
                                     default_layers=2)
AUDIO_PRESETS["music-stft-2-gan"] = dict(AUDIO_PRESETS["music-stft-2"], adv_weight=1.0,
                                         fm_weight=2.0, adv_start=3000, disc_lr=3e-4,
                                         disc_width=32)
# Speech above 6 kbps (issue 20, training/speech-stft-2): music-stft-2's networks at speech-stft's
# 16 kHz and 100 frames/s, 10 latent vectors per frame at m = 16: 4 kbps per layer before the
# prior, so two layers land near 7 kbps, under the 8 kbps of the PESQ-WB must, and four
# reach Opus's 12-15 kbps. speech-stft's unquantized ceiling is PESQ-WB 2.41 with 5 vectors per
# frame and 6 blocks of width 192: the wider latent and transform are what this run tests.
AUDIO_PRESETS["speech-stft-2"] = dict(
    {k: v for k, v in AUDIO_PRESETS["music-stft-2"].items() if k != "stereo"},  # mono speech
    sample_rate=16000, strides=[160], latent_rows=10)
# Its second chunk (training/speech-stft-2): run 1's checkpoint trained on for 4000 steps under
# a new cosine from lr 3e-4 (run 1's validation distance was still falling when its schedule
# ended), then run 1's prior adapted for 800 steps.
AUDIO_PRESETS["speech-stft-2-c2"] = dict(AUDIO_PRESETS["speech-stft-2"], steps=4000, lr=3e-4,
                                         init_prior=True, prior_steps=800)
# speech-stft-2 with the phase-aware complex-spectrum term (train_audio.complex_loss): its
# unquantized decode capped at PESQ-WB 3.0 with a waveform SNR of 1.5 dB, the phase never found
# by the magnitude and mel terms alone (training/speech-stft-3: an A/B first, then the full run).
AUDIO_PRESETS["speech-stft-3"] = dict(AUDIO_PRESETS["speech-stft-2"], complex_weight=1.0)
# Its fine-tune toward two layers (~7 kbps, the issue's <= 8 kbps point), from the full run's
# model (--init): there the words cost two layers 0.6 PESQ-WB of the unquantized decode, and the
# default draw trains two layers on 1/8 of each batch; keep_weights gives them 5/8, 1/8 to each of
# the other rates so they keep working. A new cosine from lr 3e-4, then the parent's prior adapted.
AUDIO_PRESETS["speech-stft-3-2l"] = dict(AUDIO_PRESETS["speech-stft-3"], steps=3000, lr=3e-4,
                                         keep_weights=[1, 5, 1, 1], init_prior=True,
                                         prior_steps=800)
# The run that replaces the full run lost with its machine (training/speech-stft-3, "The rerun"):
# the full run's 12000 steps from scratch, with the draw weighted to two layers from the first
# step (half of each batch; a quarter at the full four, an eighth each at one and three: the
# default gives two layers an eighth and four layers five), and a 1500-step prior.
AUDIO_PRESETS["speech-stft-3a"] = dict(AUDIO_PRESETS["speech-stft-3"],
                                       keep_weights=[1, 4, 1, 2], prior_steps=1500)
# Its second chunk: a second cosine from lr 3e-4 on its model (--init), as speech-stft-2-c2,
# then its prior adapted.
AUDIO_PRESETS["speech-stft-3a-c2"] = dict(AUDIO_PRESETS["speech-stft-3a"], steps=4000, lr=3e-4,
                                          init_prior=True, prior_steps=600)

# Every preset by name (the lookup of --preset; the order of `choose from ...`).
PRESETS: dict[str, dict] = {**IMAGE_PRESETS, **AUDIO_PRESETS}
DEFAULT_PRESET = {"image": "small", "audio": "speech-stft"}


def preset_modality(hp: dict) -> str:
    """The modality a preset trains: "audio" when it says so, else "image"."""
    return hp.get("modality", "image")
