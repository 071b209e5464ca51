"""What the tabs share while the app is built: the page's components by name, and how a handler's answer (a dict
by output name) reaches them. Handlers return {"status": text, "live": view, …}; the wiring lists the names a
handler may answer, and this module maps them to components. So no handler depends on the position of another's
outputs, and a handler leaves whatever it does not name as it is."""
from __future__ import annotations

import functools

import gradio as gr

from .. import live
from .session import Session

MOUNT_JS = (live.STATIC / "mount.js").read_text()


def mounted(module: str, value="", **kwargs) -> gr.HTML:
    """A gr.HTML whose contents are drawn by one of the page's ES modules (explorer/static/``module``: its
    mount(element, props, trigger, watch)); its value is that module's JSON."""
    url = live.static_url(module)  # in the template too: an update of the value can arrive before the props
    return gr.HTML(value, html_template=f'<div class="le-host" data-module="{url}"></div>', js_on_load=MOUNT_JS,
                   apply_default_css=False, module_url=url, **kwargs)


def ticking(timer: gr.Timer, **listener):
    """``timer.tick(**listener)`` whose failure stops the timer: an error (a value the handler refuses, a
    component's own check) is shown once, never again on every tick until the tab closes."""
    event = timer.tick(**listener)
    event.failure(lambda: gr.Timer(active=False), None, [timer], api_visibility="private", show_progress="hidden")
    return event


class Page:
    """The app's components, set as attributes by app.py and the tab modules while they lay themselves out
    (page.models, page.status, page.live, page.scatter…)."""

    def component(self, name: str):
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(f"no component {name!r} on the page") from None

    def handler(self, fn, outputs=()) -> dict:
        """An event listener's fn and outputs for ``fn``, which answers a dict by output name (any of ``outputs``,
        or fewer). The page's Session, when ``fn`` takes it, is given back too: Gradio keeps a state alive (its
        time to live) only while handlers return it."""
        components = {name: self.component(name) for name in outputs}

        @functools.wraps(fn)
        def run(*args, **kwargs):
            answer = fn(*args, **kwargs) or {}
            out = {components[name]: value for name, value in answer.items()}
            session = next((a for a in args if isinstance(a, Session)), None)
            out[self.session] = session if session is not None else gr.skip()  # (never an empty dict: Gradio
            return out  # would take it for one output's value)
        return {"fn": run, "outputs": [*components.values(), self.session]}

    def when_shown(self, tab_id: str, **listener):
        """A tab's pictures: drawn when the tab opens, and again when the shown models change while it is open
        (never a picture of models no longer shown). ``listener`` is an event's fn, inputs (the Session among
        them) and outputs; returns the two events."""
        fn = listener["fn"]

        @functools.wraps(fn)
        def if_open(*args, **kwargs):
            session = next(a for a in args if isinstance(a, Session))
            return fn(*args, **kwargs) if session.tab == tab_id else {self.session: session}
        opened = self.tab_of[tab_id].select(**listener, api_visibility="private")
        changed = self.models.change(**{**listener, "fn": if_open}, api_visibility="private")
        return opened, changed
