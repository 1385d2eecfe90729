"""Model cards: what each shipped model is for, in a line, and the rates it gives.

A card is ``weights/<name>/card.json``: ``{"summary": ..., "rates": ..., "listed": true}``. It
sits beside the model, not in its config.json, because a model's identity hashes config.json
(every .vqc records that identity): a card can be reworded without orphaning a single file.
``listed`` says whether ``vqcodec models`` shows the model by default (the defaults and models
useful on their own); the rest (earlier defaults kept so that their files decode, training
parents) appear with ``--all``.
"""

from __future__ import annotations

import json
from pathlib import Path

from .models import list_models

CARD = "card.json"


def read_card(folder: Path) -> dict:
    """The card of a model folder; an empty one if it has none or it is unreadable."""
    try:
        card = json.loads((Path(folder) / CARD).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return card if isinstance(card, dict) else {}


def model_cards(include_all: bool = False) -> list[dict]:
    """list_models() with each card's summary, rates and listed; unlisted ones only if asked.

    The defaults are always listed; a model without a card is listed only with include_all."""
    out = []
    for m in list_models():
        card = read_card(Path(m["path"]))
        listed = bool(m["default"] or card.get("listed", False))
        if listed or include_all:
            out.append(dict(m, summary=str(card.get("summary", "")),
                            rates=str(card.get("rates", "")), listed=listed))
    # defaults first, then the other listed ones, then the rest; by name within each
    return sorted(out, key=lambda m: (not m["default"], not m["listed"], m["name"]))
