"""The view in the address bar, both ways: a shared link's query -> the view it opens, and a view -> its query.
The page writes the address bar with the same rule (explorer/static/rules.js shareQuery / parseQuery);
tests/golden_rules.json holds cases both sides are checked against.

    ?models=pretrained/ae-2d,pretrained/vae-2d&tab=samples&z=0.5000,-1.0000&plane=1&bg=manifold&link=same+z
     &label=3&projector=1
"""
from __future__ import annotations

from .. import rules
from ..actions import BACKGROUNDS
from .text import plain

MAX_MODELS = 6


def parse_view_query(query: dict, known_models, default: list[str], tab_ids) -> tuple[dict, list[tuple[str, str]]]:
    """A shared link's view: the values that make sense, and (name, value) of each one that does not (ignored,
    never an error). Model names without a folder are shipped models (``vae-2d`` is ``pretrained/vae-2d``)."""
    view, ignored = {}, []
    if query.get("models"):
        keys = [k if "/" in k else f"pretrained/{k}" for k in (v.strip() for v in str(query["models"]).split(","))
                if k]
        ignored += [("models", k) for k in keys if k not in known_models]
        view["models"] = [k for k in keys if k in known_models][:MAX_MODELS] or list(default)
    for name, allowed, key in (("bg", BACKGROUNDS, "background"), ("link", rules.LINKS, "link"),
                               ("tab", tuple(tab_ids), "tab")):
        if name in query:
            if query[name] in allowed:
                view[key] = query[name]
            else:
                ignored.append((name, query[name]))
    if "label" in query:
        label = rules.parse_label(query["label"])
        if label is None:
            ignored.append(("label", str(query["label"])))
        else:
            view["label"] = label
    if "projector" in query:
        if query["projector"] in ("0", "1"):
            view["projector"] = query["projector"] == "1"
        else:
            ignored.append(("projector", query["projector"]))
    if "z" in query:
        pin = rules.parse_pin(query["z"], query.get("plane"), len(view.get("models", default)))
        if pin is None:
            ignored.append(("z", query["z"]))
        else:
            view["pin"] = pin
    return view, ignored


def ignored_note(ignored: list[tuple[str, str]]) -> str:
    """What a shared link held that was ignored, as a status line (every value shown as plain text)."""
    if not ignored:
        return ""
    said = [f"no model {plain(value)} here" if name == "models" else f"{name}={plain(value)} is not known here"
            for name, value in ignored]
    return "The shared link's " + "; ".join(said) + ": ignored."


def share_query(view: dict) -> str:
    """The query of a view: {models, tab, pin (plane #, x, y) or None, background, link, label, projector}."""
    params = [("models", ",".join(view["models"]))]
    if view.get("tab"):
        params.append(("tab", view["tab"]))
    if view.get("pin") is not None:
        plane, x, y = view["pin"]
        params.append(("z", f"{rules.format_coord(x)},{rules.format_coord(y)}"))
        if plane:
            params.append(("plane", str(plane)))
    params += [("bg", view.get("background") or "none"), ("link", view.get("link") or rules.LINKS[0]),
               ("label", str(view.get("label", "auto")))]
    if view.get("projector"):
        params.append(("projector", "1"))
    return rules.url_query(params)
