"""One colour and one marker per method, the same in every figure and on every page.

Colours come from the Okabe-Ito palette (distinguishable with the common colour
blindnesses). The reference methods each reserve one; any other name (a
third-party agent) gets a colour and a marker from :data:`FALLBACK_COLORS` and
:data:`FALLBACK_MARKERS`, picked by a hash of the name, so it is the same in
every run and never one of the reserved colours.

>>> method_style("maml").color == method_style("MAML").color
True
>>> method_style("my_agent") == method_style("my_agent")
True
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MethodStyle:
    """How figures draw a method: its display label, a matplotlib colour and a marker."""

    label: str
    color: str
    marker: str

    def plot_kwargs(self) -> dict[str, str]:
        """``color``, ``marker`` and ``label`` for ``Axes.plot`` / ``Axes.errorbar``."""
        return {"color": self.color, "marker": self.marker, "label": self.label}


#: Reserved styles, keyed by the method's normalized name (:func:`method_key`).
METHOD_STYLES: dict[str, MethodStyle] = {
    "maml": MethodStyle("MAML", "#0072B2", "o"),  # blue
    "rl2": MethodStyle("RL²", "#D55E00", "s"),  # vermillion
    "pearl": MethodStyle("PEARL", "#009E73", "^"),  # bluish green
    "multitask": MethodStyle("multi-task PPO", "#CC79A7", "D"),  # reddish purple
    "transformer": MethodStyle("in-context transformer", "#E69F00", "P"),  # orange
    # MAML's control of the MAML paper: a policy pretrained on all training tasks, fine-tuned by the same steps.
    "mamlpretrained": MethodStyle("pretrained + fine-tune", "#882255", "v"),  # wine
    "oracle": MethodStyle("oracle", "#000000", "*"),
    "random": MethodStyle("random", "#999999", "X"),
}
#: Other spellings of the reserved methods (normalized).
ALIASES: dict[str, str] = {
    "multitaskppo": "multitask",
    "incontexttransformer": "transformer",
    "incontext": "transformer",
}
#: Colours for any other method: none is reserved above, and none is a grey the oracle or random lines use.
FALLBACK_COLORS: tuple[str, ...] = ("#56B4E9", "#8C564B", "#BCBD22", "#17BECF", "#9467BD", "#7F2704", "#1B7837")
#: Markers for any other method: none is reserved above.
FALLBACK_MARKERS: tuple[str, ...] = ("v", "<", ">", "p", "h", "8")


def method_key(name: str) -> str:
    """A method name normalized for lookup: lower case, ``²`` as ``2``, only letters and digits."""
    key = re.sub(r"[^a-z0-9]", "", name.lower().replace("²", "2"))
    return ALIASES.get(key, key)


def method_style(name: str) -> MethodStyle:
    """The style of method ``name``: reserved for the reference methods, else derived from a hash of the name."""
    reserved = METHOD_STYLES.get(method_key(name))
    if reserved is not None:
        return reserved
    # hashlib, not hash(): str hashes are salted per process, and the colour must be the same in every run.
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    color = FALLBACK_COLORS[digest % len(FALLBACK_COLORS)]
    marker = FALLBACK_MARKERS[(digest // len(FALLBACK_COLORS)) % len(FALLBACK_MARKERS)]
    return MethodStyle(name, color, marker)
