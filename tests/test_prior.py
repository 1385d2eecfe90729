"""The integer prior: exact, batch- and thread-invariant, close to the float network it came from."""

import subprocess
import sys
import textwrap

import torch

from vqcodec.prior import (
    LOGIT_SCALE,
    ExactPrior,
    Prior,
    context_input,
    export_integer,
    phase_map,
)


def trained_prior(m=4, n=3, phases=2, seed=0) -> Prior:
    torch.manual_seed(seed)
    p = Prior(m, n, width=16, blocks=1, phases=phases)
    # Structured codes (a layer copies its left neighbour 80 % of the time) so there is something
    # to learn; a few steps are enough to move the weights off their init.
    codes = torch.randint(0, m, (8, n, 12, 12))
    codes[..., 1:] = torch.where(torch.rand(8, n, 12, 11) < 0.8, codes[..., :-1], codes[..., 1:])
    opt = torch.optim.Adam(p.parameters(), 3e-3)
    for _ in range(30):
        loss, _ = p.loss(codes)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return p


def exact_of(p: Prior) -> ExactPrior:
    return ExactPrior(export_integer(p), p.m, p.n, len(p.nets[0].blocks), p.phases)


def test_phase_maps_cover_the_grid():
    for phases in (1, 2, 4):
        pm = phase_map(5, 7, phases)
        assert set(pm.unique().tolist()) == set(range(phases))
    pm = phase_map(2, 2, 2)
    assert pm.tolist() == [[0, 1], [1, 0]]


def test_context_input_hides_unknown_codes():
    codes = torch.randint(0, 4, (1, 3, 4, 4))
    known = phase_map(4, 4, 2) < 1
    x = context_input(codes, 2, known, 4)
    assert x.shape == (1, 2 * 4 + 4 + 1, 4, 4)
    cur = x[0, 8:12]
    assert cur[:, ~known].sum() == 0  # nothing of the unknown phase leaks in
    assert torch.equal(cur.argmax(0)[known], codes[0, 2][known])


def test_integer_logits_track_the_float_network():
    p = trained_prior()
    ex = exact_of(p)
    codes = torch.randint(0, 4, (2, 3, 9, 9))
    with torch.no_grad():
        for layer in range(3):
            x = context_input(codes, layer, phase_map(9, 9, 2) < 1, 4)
            diff = (p.nets[layer](x) - ex.logits(x, layer).double() * LOGIT_SCALE).abs().max()
            assert diff <= 4 * LOGIT_SCALE  # only rounding of the rescaling multipliers differs


def test_probabilities_are_batch_and_position_invariant():
    p = trained_prior(phases=4)
    ex = exact_of(p)
    codes = torch.randint(0, 4, (1, 3, 10, 13))
    ref = [ex.phase_probs(codes, i, ph) for i in range(3) for ph in range(4)]
    batch = torch.cat([torch.randint(0, 4, (2, 3, 10, 13)), codes, torch.randint(0, 4, (1, 3, 10, 13))])
    got = [ex.phase_probs(batch, i, ph)[2:3] for i in range(3) for ph in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(ref, got, strict=True))
    assert all(r.dtype == torch.int64 and int(r.min()) >= 1 for r in ref)


def test_float64_fallback_gives_identical_probabilities():
    ex = exact_of(trained_prior())
    fp = ex.fingerprint()
    ex.force_f64 = True
    assert ex.fingerprint() == fp
    ex.verify(fp)


def test_verify_rejects_a_wrong_fingerprint():
    ex = exact_of(trained_prior())
    try:
        ex.verify("0" * 64)
    except RuntimeError as e:
        assert "fingerprint" in str(e)
    else:
        raise AssertionError("verify accepted a wrong fingerprint")


def test_fingerprint_identical_across_thread_counts(tmp_path):
    p = trained_prior()
    torch.save(export_integer(p), tmp_path / "prior.pt")
    script = textwrap.dedent(f"""
        import sys, torch
        torch.set_num_threads(int(sys.argv[1]))
        from vqcodec.prior import ExactPrior
        t = torch.load({str(tmp_path / "prior.pt")!r})
        print(ExactPrior(t, 4, 3, 1, 2).fingerprint())
    """)
    outs = {subprocess.run([sys.executable, "-c", script, str(k)], capture_output=True, text=True,
                           check=True).stdout.strip() for k in (1, 2)}
    assert len(outs) == 1 and exact_of(p).fingerprint() in outs
