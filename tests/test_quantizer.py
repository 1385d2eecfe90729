"""HR-VQ: per-path codebooks, residual search, lookup, truncation, dead-code revival."""

import torch

from vqcodec.quantizer import HRVQ


def brute_force(q: HRVQ, z: torch.Tensor) -> torch.Tensor:
    """Reference search written from the paper's definition, one vector at a time."""
    out = []
    for v in z.movedim(1, -1).reshape(-1, q.dim):
        r, path, ks = v.clone(), 0, []
        for i in range(q.n):
            book = q.codebooks[i][path]
            k = int(((r - book) ** 2).sum(-1).argmin())
            r = r - book[k]
            path = path * q.m + k
            ks.append(k)
        out.append(ks)
    return torch.tensor(out)


def test_codebook_shapes_grow_as_m_to_the_layer():
    q = HRVQ(dim=5, codebook_size=3, num_layers=4)
    assert [tuple(c.shape) for c in q.codebooks] == [(1, 3, 5), (3, 3, 5), (9, 3, 5), (27, 3, 5)]
    assert q.search_cost() == (12, 81)


def test_search_matches_definition_and_lookup_sums_residuals():
    torch.manual_seed(0)
    q = HRVQ(dim=4, codebook_size=3, num_layers=3)
    z = torch.randn(2, 4, 3, 5)
    codes = q.search(z)
    assert codes.shape == (2, 3, 3, 5)
    ref = brute_force(q, z)
    assert torch.equal(codes.movedim(1, -1).reshape(-1, 3), ref)
    # The residual after all layers is z minus the sum of the chosen codewords.
    e = q.lookup(codes)
    assert e.shape == (2, 3, 4, 3, 5)
    assert torch.allclose(q.decode_codes(codes), e.sum(1))
    # Each deeper layer can only reduce (or keep) the error in expectation.
    with torch.no_grad():
        errs = [float((z - q.decode_codes(codes[:, :k])).pow(2).mean()) for k in (1, 2, 3)]
    assert errs[2] <= errs[0]


def test_parent_selects_codebook():
    q = HRVQ(dim=2, codebook_size=2, num_layers=2)
    with torch.no_grad():
        q.codebooks[0].copy_(torch.tensor([[[0.0, 0.0], [10.0, 0.0]]]))
        q.codebooks[1].copy_(torch.tensor([[[0.0, 1.0], [0.0, -1.0]], [[1.0, 0.0], [-1.0, 0.0]]]))
    z = torch.tensor([[0.0, 0.9], [10.8, 0.0]]).T.reshape(1, 2, 1, 2)
    codes = q.search(z)
    assert codes[0, :, 0, 0].tolist() == [0, 0]  # parent 0 -> codebook 0 -> (0, 1)
    assert codes[0, :, 0, 1].tolist() == [1, 0]  # parent 1 -> codebook 1 -> (1, 0)


def test_forward_straight_through_and_truncation():
    torch.manual_seed(1)
    q = HRVQ(dim=4, codebook_size=4, num_layers=3)
    z = torch.randn(2, 4, 6, 6, requires_grad=True)
    zq, loss, codes = q(z, keep=torch.tensor([1, 3]))
    zq.sum().backward()
    assert torch.allclose(z.grad, torch.ones_like(z))  # straight-through
    assert loss.item() > 0
    with torch.no_grad():
        assert torch.allclose(zq[0], q.decode_codes(codes[:1, :1])[0], atol=1e-5)
        assert torch.allclose(zq[1], q.decode_codes(codes[1:])[0], atol=1e-5)


def test_dead_codewords_are_revived_on_routed_residuals():
    torch.manual_seed(2)
    q = HRVQ(dim=3, codebook_size=4, num_layers=2)
    with torch.no_grad():
        q.codebooks[0][0, 1:] = 1e6  # three words nobody will pick
    q.train()
    z = torch.randn(4, 3, 8, 8)
    q(z)
    assert q.stats()[0]["dead"] >= 3
    revived = q.revive_dead()
    assert revived[0] >= 3
    assert float(q.codebooks[0].detach().abs().max()) < 1e3  # moved onto real residuals
    q(z)
    assert q.stats()[0]["perplexity"] > 1.5


def test_loaded_codebooks_are_not_restarted_as_dead():
    """After loading weights (usage not stored), words one batch misses are not dead yet."""
    torch.manual_seed(3)
    q = HRVQ(dim=3, codebook_size=4, num_layers=3)
    q.mark_used()
    q.train()
    q(torch.randn(1, 3, 2, 2))  # 4 vectors: most of the 4 + 16 deeper words go unvisited
    before = [cb.detach().clone() for cb in q.codebooks]
    assert q.revive_dead() == [0, 0, 0]
    assert all(torch.equal(a, b) for a, b in zip(before, q.codebooks, strict=True))


def test_residual_vq_shares_one_codebook_per_layer():
    """The paper's baseline: the word chosen above does not select the codebook below."""
    from vqcodec.quantizer import ResidualVQ

    torch.manual_seed(0)
    q = ResidualVQ(dim=4, sizes=[3, 5])
    assert [tuple(c.shape) for c in q.codebooks] == [(1, 3, 4), (1, 5, 4)]
    z = torch.randn(2, 4, 3, 3)
    codes = q.search(z)
    r = z.movedim(1, -1).reshape(-1, 4)
    for i, size in enumerate([3, 5]):
        book = q.codebooks[i][0]
        k = torch.cdist(r, book).argmin(1)
        assert torch.equal(codes[:, i].reshape(-1), k) and int(k.max()) < size
        r = r - book[k]
    assert torch.allclose(q.decode_codes(codes).movedim(1, -1).reshape(-1, 4),
                          z.movedim(1, -1).reshape(-1, 4) - r, atol=1e-5)
    # Training forward, usage tracking and revival work with unequal codebook sizes.
    q.train()
    zq, loss, c2 = q(z.requires_grad_())
    loss.backward()
    assert torch.equal(c2, codes) and q.usage(1).numel() == 5
    assert sum(q.revive_dead(threshold=2.0)) > 0


def test_ema_update_moves_words_to_the_mean_of_their_residuals():
    torch.manual_seed(3)
    q = HRVQ(dim=3, codebook_size=2, num_layers=2, update="ema")
    z = torch.randn(4, 3, 6, 6, requires_grad=True)
    _, loss, codes = q(z)
    loss.backward()
    assert z.grad is not None and z.grad.any()  # the commitment term still trains the encoder
    z = z.detach()
    # No codebook term in the loss: codebooks get no gradient, only the EMA moves them.
    assert all(cb.grad is None or not cb.grad.any() for cb in q.codebooks)
    for _ in range(2000):  # with the same batch every time, the EMA converges to the means
        _, _, codes = q(z)
    r = z.movedim(1, -1).reshape(-1, 3)
    k1 = codes[:, 0].reshape(-1)
    for k in range(2):
        if (k1 == k).any():
            assert torch.allclose(q.codebooks[0][0, k], r[k1 == k].mean(0), atol=1e-3)
    import pytest
    with pytest.raises(ValueError, match="loss' or 'ema"):
        HRVQ(dim=3, codebook_size=2, num_layers=2, update="kmeans")


def test_matmul_search_finds_the_same_words_as_gather():
    """nearest="matmul" (flat VQ sized codebooks) searches the one-codebook top layer by a
    matrix product; the deeper layers and every default model search as before."""
    torch.manual_seed(4)
    a = HRVQ(dim=6, codebook_size=64, num_layers=2)
    b = HRVQ(dim=6, codebook_size=64, num_layers=2, nearest="matmul")
    b.load_state_dict(a.state_dict())
    z = torch.randn(3, 6, 20, 20)
    assert torch.equal(a.search(z), b.search(z))
    import pytest
    with pytest.raises(ValueError, match="gather' or 'matmul"):
        HRVQ(dim=3, codebook_size=2, num_layers=1, nearest="cdist")
