"""Placeholder until the page-rules module lands: the rules the page and the server both compute."""
from .actions import LINKS, OUTSIDE_FRACTION, Target, click_targets, code_scale, conditional_label, is_outside, nearest, outside_radius  # noqa: F401
