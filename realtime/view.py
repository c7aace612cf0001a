"""What the page draws, as plain functions of the scores: gauges, the session timeline, the tinted
utterance list, and the face reader's box on the picture.

Gauges, speakers and the transcript are HTML/SVG text built on the server, so the browser only swaps
markup of a fixed size (no charting library to re-create each hop: nothing flickers). The live picture and
the live timeline are the exceptions: their markup stays the same for the session, and a small page script
(:func:`live_js`) paints the newest frame and draws the timeline's data (:func:`timeline_data`, the same
data the file tab's SVG is drawn from) onto canvases, fetched from addresses of their own, so a page left
open does not grow. Colour always comes with words or a number beside it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from realtime.modalities import COLOURS, DIMENSION, DIMENSIONS, SCORES, modality_of
from realtime.scorer import Scores
from realtime.speakers import colour_of

if TYPE_CHECKING:
    from dmsil.features.face import FaceFrame

HEADS = SCORES
NEUTRAL = 0.5
"""Scores inside +-NEUTRAL read as neutral (the same edge as :func:`verdict`)."""
MAX_POINTS = 600
"""Points drawn per line at most: a long session is thinned evenly, so an update stays small."""
MIN_SPAN_GAP = 5.0
"""Utterance shadings start at least this far apart (of the timeline's 1000 units): at most 200 drawn."""
MAX_HOVER = 240
"""Points that show their words on hover, at most (evenly spaced)."""
MIN_POINT_GAP = 9.0
"""Hover points at least this far apart (of the timeline's 1000 units, about a point's 9 px): a newer
result just after an older one (new words within the hop) would cover it, so the older is left out."""
MAX_UTTERANCES = 100
"""Utterances the live transcript lists (the newest); the saved session holds them all."""
SPANS = {"last minute": 60.0, "last 5 minutes": 300.0, "whole session": None}
"""The timeline's span choices (seconds shown; None: all of it)."""
ORDERS = ("newest last", "newest first")

CSS = """
.gauges { display: grid; gap: 6px; }
.gauge { display: grid; grid-template-columns: 4.2em 1fr 13em; align-items: center; gap: 8px; height: 28px; }
.gauge .name { font-weight: 600; }
.gauge .words { font-variant-numeric: tabular-nums; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.gauge.unavailable { color: #888; }
.gauge.unavailable .words { font-style: italic; }
canvas.picture { display: block; width: 100%; height: auto; max-height: 480px; object-fit: contain; background: #333; }
canvas.picture[hidden], .picture.none[hidden], .tl-tip[hidden] { display: none; }
.picture.none { height: 240px; display: flex; align-items: center; justify-content: center; background: #333; color: #ccc; }
.tl { position: relative; height: 280px; font-size: 11px; user-select: none; }
.tl-area { position: absolute; left: 46px; right: 10px; top: 8px; bottom: 24px; }
.tl-area svg { position: absolute; inset: 0; width: 100%; height: 100%; overflow: visible; }
.tl-area svg .utt-start { stroke: #9a9a9a; stroke-dasharray: 4 3; vector-effect: non-scaling-stroke; }
.tl-y, .tl-x { position: absolute; color: #666; white-space: nowrap; }
.tl-y { left: 0; width: 40px; text-align: right; transform: translateY(-50%); }
.tl-x { bottom: 4px; transform: translateX(-50%); }
.tl-pt { position: absolute; width: 9px; height: 9px; margin: -5px 0 0 -5px; border-radius: 50%;
         background: #111; border: 1px solid #fff; }
.tl-pt:hover::after { content: attr(data-tip); position: absolute; bottom: 14px; left: 50%;
              transform: translateX(-50%); width: max-content; max-width: 340px; padding: 4px 7px;
              background: #222; color: #fff; border-radius: 4px; font-size: 12px; z-index: 10;
              white-space: pre-line; pointer-events: none; }
.tl.live canvas.tl-canvas { position: absolute; inset: 0; width: 100%; height: 100%; }
.tl-tip { position: absolute; transform: translate(-50%, calc(-100% - 8px)); width: max-content; max-width: 340px;
          padding: 4px 7px; background: #222; color: #fff; border-radius: 4px; font-size: 12px; z-index: 10;
          white-space: pre-line; pointer-events: none; }
.tl-legend { font-size: 12px; color: #444; margin-top: 2px; }
.tl-legend i { display: inline-block; width: 18px; height: 3px; vertical-align: middle; margin: 0 4px 0 10px; }
.utts { list-style: none; padding: 0; margin: 0; height: 360px; overflow-y: auto; }
.utt { padding: 5px 8px; margin: 3px 0; border-radius: 4px; border-left: 4px solid #999; }
.utt .meta { font-size: 11px; color: #444; margin-right: 6px; font-variant-numeric: tabular-nums; }
.utt.speaking { font-style: italic; border-left-style: dashed; }
.utt .who, .speakers .who { font-weight: 600; }
.speakers { display: flex; flex-wrap: nowrap; gap: 6px; height: 30px; overflow: hidden; margin-top: 6px;
            font-size: 13px; align-items: center; }
.speakers .chip { padding: 3px 8px; border-radius: 12px; border: 2px solid #999; white-space: nowrap;
                  font-variant-numeric: tabular-nums; }
"""
"""The page's styles for this module's markup (handed to Gradio once)."""


def verdict(score: float | None, head: str = "") -> str:
    """Words for a score on -3..3: how negative or positive, or for a dimension (arousal) how far toward
    its ends ("calm" .. "excited")."""
    if score is None:
        return ""
    d = DIMENSION.get(head)
    if d is not None:
        scale = (
            (-2.0, f"very {d.low}"),
            (-NEUTRAL, d.low),
            (NEUTRAL, "in between"),
            (2.0, d.high),
            (9, f"very {d.high}"),
        )
    else:
        scale = ((-2.0, "strongly negative"), (-NEUTRAL, "negative"), (NEUTRAL, "neutral"), (2.0, "positive"),
                 (9, "strongly positive"))  # fmt: skip
    return next(word for edge, word in scale if score < edge)


def tint(score: float | None, strength: float = 0.45) -> str:
    """A background for a score: red below the neutral band, green above, grey inside, deeper when stronger."""
    if score is None or abs(score) < NEUTRAL:
        return "rgba(128,128,128,0.12)"
    alpha = 0.12 + strength * min(1.0, (abs(score) - NEUTRAL) / (3.0 - NEUTRAL))
    return f"rgba(200,40,40,{alpha:.2f})" if score < 0 else f"rgba(30,150,60,{alpha:.2f})"


def _edge(score: float | None, head: str = "") -> str:
    if head in DIMENSION and score is not None:
        return COLOURS[head]
    if score is None or abs(score) < NEUTRAL:
        return "#999"
    return "#c62828" if score < 0 else "#1e8e3e"


def shown(s: Scores, head: str) -> float | None:
    """The score the page shows for a head: smoothed where there is one, else raw."""
    return s.smooth.get(head, getattr(s, head)) if s.smooth else getattr(s, head)


# -- gauges ------------------------------------------------------------------------------------------


def _x(score: float, width: float) -> float:
    return (max(-3.0, min(3.0, score)) + 3.0) / 6.0 * width


LEARNING = {"audio": "learning this voice", "video": "learning this face"}


def gauge(head: str, score: float | None, raw: float | None, why: str | None, sure: float = 1.0, note: str = "") -> str:
    """One head on -3..+3: a track with the neutral band shaded, a bar from 0 to the score, the number and
    its word; greyed with its reason when unavailable. The bar fades as the score's confidence ``sure``
    falls (a sentence's first words, a face not learned yet), and ``note`` says why where there is a word for it."""
    w = 300.0
    ticks = "".join(
        f'<line x1="{_x(v, w):.1f}" x2="{_x(v, w):.1f}" y1="4" y2="22" stroke="#bbb" stroke-width="1"/>'
        for v in (-3, -2, -1, 1, 2, 3)
    )
    band = f'<rect x="{_x(-NEUTRAL, w):.1f}" y="6" width="{_x(NEUTRAL, w) - _x(-NEUTRAL, w):.1f}" height="14" fill="#d8d8d8"/>'
    track = f'<rect x="0" y="9" width="{w:.0f}" height="8" rx="3" fill="#eee"/>'
    zero = f'<line x1="{w / 2}" x2="{w / 2}" y1="2" y2="24" stroke="#666" stroke-width="1.5"/>'
    if score is None:
        svg = f'<svg viewBox="0 0 {w:.0f} 26" preserveAspectRatio="none" height="26" width="100%">{track}{band}{zero}</svg>'
        words = f"unavailable: {html.escape(why or 'no data')}"
        return (
            f'<div class="gauge unavailable" data-head="{head}"><span class="name">{head}</span>{svg}'
            f'<span class="words" title="{html.escape(why or "")}">{words}</span></div>'
        )
    x, color = _x(score, w), _edge(score, head)
    opacity = f'opacity="{0.3 + 0.7 * max(0.0, min(1.0, sure)):.2f}"'
    bar = f'<rect x="{min(x, w / 2):.1f}" y="9" width="{abs(x - w / 2):.1f}" height="8" fill="{color}" {opacity}/>'
    mark = f'<rect x="{x - 2.5:.1f}" y="2" width="5" height="22" rx="1.5" fill="{color}" stroke="#fff" {opacity}/>'
    svg = (
        f'<svg viewBox="0 0 {w:.0f} 26" preserveAspectRatio="none" height="26" width="100%">'
        f"{track}{band}{ticks}{zero}{bar}{mark}</svg>"
    )
    raw_note = f" <small>(raw {raw:+.2f})</small>" if raw is not None and abs(raw - score) >= 0.005 else ""
    extra = f" <small>{html.escape(note)}</small>" if note else ""
    return (
        f'<div class="gauge" data-head="{head}" data-score="{score:.3f}" data-confidence="{sure:.2f}">'
        f'<span class="name">{head}</span>{svg}'
        f'<span class="words">{score:+.2f} {verdict(score, head)}{raw_note}{extra}</span></div>'
    )


def _note(s: Scores, head: str) -> str:
    """What the page says beside a gauge: the neutral still being learned, or how sure the score is."""
    modality = modality_of(head)
    if modality in s.learning:
        return LEARNING[modality]
    sure = s.confidence.get(modality)
    return f"{sure:.0%} sure" if sure is not None and sure < 0.95 else ""


def gauges(latest: Scores | None) -> str:
    """The fused score, one gauge per modality and one per dimension (arousal) for the newest window (all
    waiting before the first)."""
    if latest is None:
        rows = [gauge(h, None, None, "waiting for the first window") for h in HEADS]
    else:
        rows = [
            gauge(
                h,
                shown(latest, h),
                getattr(latest, h),
                "no trained modality present" if h == "fused" else str(latest.missing.get(modality_of(h), "")),
                latest.confidence.get(modality_of(h), 1.0),
                _note(latest, h),
            )
            for h in HEADS
        ]
    return (
        '<div class="gauges" aria-label="scores on -3 (strongly negative) to +3 (strongly positive); '
        'arousal on -3 (very calm) to +3 (very excited)">' + "".join(rows) + "</div>"
    )


# -- speakers ----------------------------------------------------------------------------------------

SPEAKER_MEMORY = 5
"""A speaker's gauge: the mean fused score of their last few utterances."""


def parse_names(text: str) -> dict[str, str]:
    """``"S1=Ann, S2=Bob"`` -> ``{"S1": "Ann", "S2": "Bob"}`` (what a viewer types to name the voices)."""
    pairs = (part.split("=", 1) for part in text.split(",") if "=" in part)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() and v.strip()}


def who(speaker: str | None, names: dict[str, str] | None = None) -> str:
    """A speaker as the page shows them: the typed name, in the speaker's colour (empty without one)."""
    if not speaker:
        return ""
    name = html.escape((names or {}).get(speaker, speaker))
    return f'<span class="who" data-speaker="{html.escape(speaker)}" style="color:{colour_of(speaker)}">{name}</span>'


def speakers(utterances: Sequence[Scores], names: dict[str, str] | None = None) -> str:
    """One gauge per speaker heard so far, in order of first speech: the mean fused score of their last
    :data:`SPEAKER_MEMORY` utterances, tinted by it. One line always, so the page does not move."""
    said: dict[str, list[float]] = {}
    for u in utterances:
        if u.speaker:
            scores = said.setdefault(u.speaker, [])
            if u.fused is not None:
                scores.append(u.fused)
    if not said:
        return '<div class="speakers">speakers: none told apart yet</div>'
    chips = []
    for speaker, scores in said.items():
        mean = float(np.mean(scores[-SPEAKER_MEMORY:])) if scores else None
        label = f"{mean:+.2f} {verdict(mean)}" if mean is not None else "not scored yet"
        chips.append(
            f'<span class="chip" data-speaker="{html.escape(speaker)}" data-score="{"" if mean is None else f"{mean:.3f}"}" '
            f'style="background:{tint(mean)};border-color:{colour_of(speaker)}">{who(speaker, names)} {label}</span>'
        )
    return f'<div class="speakers">{"".join(chips)}</div>'


# -- timeline ----------------------------------------------------------------------------------------


def _thin(rows: Sequence, most: int) -> list:
    """At most about ``most`` rows, evenly spaced, the newest always kept."""
    picked = list(rows[:: max(1, math.ceil(len(rows) / most))])
    if rows and picked[-1] is not rows[-1]:
        picked.append(rows[-1])
    return picked


def _line(rows: list[Scores], head: str, value, fx, fy) -> list[list[tuple[float, float]]]:
    """The rows' values as (x, y) runs in 0..1, broken where a value is missing."""
    runs: list[list[tuple[float, float]]] = []
    pen_down = False
    for s in rows:
        v = value(s, head)
        if v is None:
            pen_down = False
            continue
        if not pen_down:
            runs.append([])
        runs[-1].append((round(fx(s.end), 3), round(fy(v), 3)))
        pen_down = True
    return runs


def _tip(s: Scores) -> str:
    """A point's hover text, plain (each drawing escapes it its own way)."""
    values = " · ".join(f"{h} {v:+.1f}" for h in HEADS if (v := shown(s, h)) is not None)
    words = s.recent or s.transcript
    text = f"{s.end:.1f} s  {values or 'no score'}" + (f"\n“{words}”" if words else "")
    return text + (" (still being spoken)" if s.provisional else "")


def timeline_data(
    rows: Sequence[Scores], utterances: Sequence[Scores] = (), span: float | None = None, now: float | None = None
) -> dict:
    """What a timeline draws, as plain data with x (time) and y (score) in 0..1: every head smoothed
    (solid) and raw (dotted), the neutral band, each utterance's span tinted by its score, a hover point
    per window with its words, the axes. :func:`timeline` draws it as SVG (the file tab), the live page as
    a canvas it fetches this from (:func:`live_timeline`), so an update sends numbers, not markup.

    ``span`` seconds before ``now`` (the newest window's end) are shown, or everything when None."""
    end = now if now is not None else (rows[-1].end if rows else 0.0)
    start = max(0.0, end - span) if span else (rows[0].start if rows else 0.0)
    end = max(end, start + 10.0)
    view = _thin([s for s in rows if s.end >= start], MAX_POINTS)

    def fx(t: float) -> float:
        return (t - start) / (end - start)

    def fy(v: float) -> float:
        return (3.0 - max(-3.0, min(3.0, v))) / 6.0

    lines = []
    for h in HEADS:
        raw, smooth = _line(view, h, lambda s, k: getattr(s, k), fx, fy), _line(view, h, shown, fx, fy)
        if raw and raw != smooth:
            lines.append({"head": h, "colour": COLOURS[h], "raw": True, "width": 1.0, "runs": raw})
        if smooth:
            lines.append({"head": h, "colour": COLOURS[h], "raw": False, "width": 2.6 if h == "fused" else 1.6,
                          "runs": smooth})  # fmt: skip
    step = next(s for s in (5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if (end - start) / s <= 10)
    return {
        "windows": len(view),
        "utterances": len(utterances),
        "band": [fy(NEUTRAL), fy(-NEUTRAL)],
        "grid": [fy(v) for v in (-2, -1, 1, 2)],
        "zero": fy(0.0),
        "spans": _spans(utterances, start, fx),
        "lines": lines,
        "points": _points(view, fx, fy),
        "labels": [
            [fy(v), f"{v:+d}{' ' + w if w else ''}".replace("+0", "0")]
            for v, w in ((3, "pos."), (2, ""), (1, ""), (0, ""), (-1, ""), (-2, ""), (-3, "neg."))
        ],  # fmt: skip
        "ticks": [[round(fx(t), 3), _clock(t)] for t in np.arange(math.ceil(start / step) * step, end + 1e-6, step)],
    }


LEGEND = (
    "".join(f'<i style="background:{COLOURS[h]}"></i>{h}' for h in HEADS)
    + "".join(f" ({d.name}: − {d.low}, + {d.high})" for d in DIMENSIONS)
    + " &nbsp;— solid: smoothed, dotted: raw; shaded columns: utterances (tinted by their score); grey band: "
    "neutral; hover a point for its words"
)


def timeline(
    rows: Sequence[Scores], utterances: Sequence[Scores] = (), span: float | None = None, now: float | None = None
) -> str:
    """:func:`timeline_data` drawn as SVG with a hover point per window (the file tab: drawn once)."""
    d = timeline_data(rows, utterances, span, now)
    W, H = 1000.0, 600.0
    svg = [f'<svg viewBox="0 0 {W:.0f} {H:.0f}" preserveAspectRatio="none">']
    top, bottom = d["band"]
    svg.append(f'<rect x="0" y="{top * H:.1f}" width="{W:.0f}" height="{(bottom - top) * H:.1f}" fill="#f0f0f0"/>')
    for x0, x1, fill in d["spans"]:
        svg.append(
            f'<rect class="utt-span" x="{x0 * W:.0f}" y="0" width="{max(1.0, (x1 - x0) * W):.0f}" height="{H:.0f}" '
            f'fill="{fill}"/><line class="utt-start" x1="{x0 * W:.0f}" x2="{x0 * W:.0f}" y1="0" y2="{H:.0f}"/>'
        )
    for y, stroke in [*((g, "#e4e4e4") for g in d["grid"]), (d["zero"], "#999")]:
        svg.append(f'<line x1="0" x2="{W:.0f}" y1="{y * H:.1f}" y2="{y * H:.1f}" stroke="{stroke}" '
                   'vector-effect="non-scaling-stroke"/>')  # fmt: skip
    for line in d["lines"]:
        path = "".join(
            f"{'L' if i else 'M'}{x * W:.0f},{y * H:.0f}" for run in line["runs"] for i, (x, y) in enumerate(run)
        )
        dash = 'stroke-dasharray="2 3" opacity="0.7" ' if line["raw"] else ""
        svg.append(f'<path class="{"raw" if line["raw"] else "smooth"}" data-head="{line["head"]}" d="{path}" '
                   f'fill="none" stroke="{line["colour"]}" stroke-width="{line["width"]:g}" {dash}'
                   'vector-effect="non-scaling-stroke"/>')  # fmt: skip
    svg.append("</svg>")
    points = "".join(
        f'<div class="tl-pt" style="left:{x * 100:.2f}%;top:{y * 100:.2f}%" '
        f'data-tip="{html.escape(tip, quote=True).replace(chr(10), "&#10;")}"></div>'
        for x, y, tip in d["points"]
    )
    labels = "".join(f'<div class="tl-y" style="top:calc(8px + (100% - 32px) * {y:.4f})">{text}</div>'
                     for y, text in d["labels"])  # fmt: skip
    ticks = "".join(f'<div class="tl-x" style="left:calc(46px + (100% - 56px) * {x:.4f})">{text}</div>'
                    for x, text in d["ticks"])  # fmt: skip
    return (
        f'<div class="tl" data-windows="{d["windows"]}" data-utterances="{d["utterances"]}">'
        f'<div class="tl-area">{"".join(svg)}{points}</div>{labels}{ticks}</div>'
        f'<div class="tl-legend">{LEGEND}</div>'
    )


def live_timeline(url: str) -> str:
    """The live page's timeline: a canvas the page script (:func:`live_js`) draws from ``url`` (the
    :func:`timeline_data` of the session now) every update. The markup stays the same for the session, so
    Gradio leaves it alone: a page open for hours does not grow with markup re-created every second."""
    return (
        f'<div class="tl live" data-live-timeline="{html.escape(url, quote=True)}"><canvas class="tl-canvas"></canvas>'
        f'<div class="tl-tip" hidden></div></div><div class="tl-legend">{LEGEND}</div>'
    )


def _points(rows: Sequence[Scores], fx, fy) -> list[tuple[float, float, str]]:
    """A hover point (x, y, words) per window with a fused score. A point under a newer one could not be
    hovered, so it is left out."""
    fused = [(s, v) for s in rows if (v := shown(s, "fused")) is not None]
    hover, drawn_x = [], math.inf
    for s, v in reversed(_thin(fused, MAX_HOVER)):
        if drawn_x - fx(s.end) * 1000.0 >= MIN_POINT_GAP:
            hover.append((round(fx(s.end), 3), round(fy(v), 3), _tip(s)))
            drawn_x = fx(s.end) * 1000.0
    return hover[::-1]


def _spans(utterances: Sequence[Scores], start: float, fx) -> list[tuple[float, float, str]]:
    """Each utterance's span (x from, x to, tint by its score); those closer than a few pixels skipped."""
    out, drawn_x = [], -math.inf
    for u in utterances:
        x0, x1 = max(0.0, fx(u.start)), fx(u.end)
        if u.end < start or (x0 - drawn_x) * 1000.0 < MIN_SPAN_GAP:  # a long session: utterances a few pixels apart
            continue
        drawn_x = x0
        out.append((round(x0, 3), round(x1, 3), tint(u.fused, 0.25)))
    return out


def _clock(t: float) -> str:
    t = int(round(t))
    return f"{t // 60}:{t % 60:02d}" if t >= 60 else f"{t} s"


# -- utterances --------------------------------------------------------------------------------------


def utterance_list(
    utterances: Sequence[Scores], speaking: Scores | None = None, newest_first: bool = False,
    names: dict[str, str] | None = None,
) -> str:  # fmt: skip
    """The transcript as one line per utterance, tinted by its fused score (the number and word beside it),
    with its speaker; ``speaking`` is the window of a sentence still under way, shown last, untinted, as
    provisional."""
    items = []
    for u in utterances:
        score = u.fused
        label = (
            f"{score:+.2f} {verdict(score)}"
            if score is not None
            else "not scored: " + str(next(iter(u.missing.values()), ""))
        )
        if u.text_class is not None:
            label += " · words {} {:.0%}".format(*u.text_class)
        items.append(
            f'<li class="utt" data-score="{"" if score is None else f"{score:.3f}"}" '
            f'style="background:{tint(score)};border-left-color:{_edge(score)}">'
            f'<span class="meta">{_clock(u.start)}–{_clock(u.end)} · {html.escape(label)}</span>'
            f"{who(u.speaker, names) + ' ' if u.speaker else ''}{html.escape(u.transcript)}</li>"
        )
    if (
        speaking is not None
        and speaking.transcript
        and not (utterances and utterances[-1].transcript == speaking.transcript)
    ):
        score = shown(speaking, "fused")
        label = "speaking" + (f" · so far {score:+.2f} {verdict(score)}" if score is not None else "")
        items.append(
            f'<li class="utt speaking"><span class="meta">{label}</span>{html.escape(speaking.transcript)}</li>'
        )
    if not items:
        return '<ol class="utts"><li class="utt">nothing said yet</li></ol>'
    earlier = max(0, len(items) - MAX_UTTERANCES)
    items = items[earlier:]
    if earlier:
        items.insert(0, f'<li class="utt earlier">{earlier} earlier utterances: in the saved session</li>')
    if newest_first:
        items.reverse()
    return f'<ol class="utts">{"".join(items)}</ol>'


# -- the picture -------------------------------------------------------------------------------------


def live_picture(url: str) -> str:
    """The live page's picture: a canvas the page script (:func:`live_js`) paints the newest frame onto,
    fetched from ``url``. Not an ``<img>``: a browser keeps every decoded image it was shown under a new
    address (measured: the page grew by a decoded frame a second, and a forced collection gave none of it
    back). Not inline either: a frame a second in the markup grew the page about 3.5 MB a minute
    (scripts/bench_page_memory.py), so the markup stays the same for the session."""
    return (
        f'<div class="picture live" data-live-picture="{html.escape(url, quote=True)}">'
        '<canvas class="picture" hidden></canvas><div class="picture none">no picture yet</div></div>'
    )


def jpeg(rgb: np.ndarray, quality: int = 80) -> bytes | None:
    """An RGB picture as JPEG bytes (None when it cannot be encoded)."""
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes() if ok else None


LIVE_EVERY_MS = 1000
"""How often the page script fetches the picture (as often as the gauges are updated; a page in a
background tab fetches nothing)."""
TIMELINE_EVERY = 5
"""The timeline is fetched every this many rounds: it is the session's history (the gauges show now),
and drawing its data every second grew Chromium's renderer about 4 MB a minute
(scripts/bench_page_memory.py; the picture alone, every second, did not grow)."""


_LIVE_JS = """<script>
(() => {
  const busy = new WeakSet();
  const once = async (el, work) => {
    if (busy.has(el)) return;
    busy.add(el);
    try { await work(); } catch (e) { /* the server restarting, a stopped session: the next round tries again */ }
    busy.delete(el);
  };
  const paint = (box) => once(box, async () => {
    const res = await fetch(box.dataset.livePicture, { cache: "no-store" });
    const canvas = box.querySelector("canvas.picture"), none = box.querySelector(".picture.none");
    if (res.status !== 200) { canvas.hidden = true; none.hidden = false; return; }
    const bitmap = await createImageBitmap(await res.blob());
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
    }
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    canvas.hidden = false;
    none.hidden = true;
  });
  const M = { left: 46, right: 10, top: 8, bottom: 24 };
  const draw = (box, d) => {
    const canvas = box.querySelector("canvas.tl-canvas");
    const dpr = window.devicePixelRatio || 1, W = box.clientWidth, H = box.clientHeight;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr);
      canvas.height = Math.round(H * dpr);
    }
    const g = canvas.getContext("2d"), w = W - M.left - M.right, h = H - M.top - M.bottom;
    const X = (x) => M.left + x * w, Y = (y) => M.top + y * h;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    g.fillStyle = "#f0f0f0";
    g.fillRect(M.left, Y(d.band[0]), w, Y(d.band[1]) - Y(d.band[0]));
    for (const [x0, x1, fill] of d.spans) {
      g.fillStyle = fill;
      g.fillRect(X(x0), M.top, Math.max(1, (x1 - x0) * w), h);
    }
    const rule = (x0, y0, x1, y1, colour, dash) => {
      g.beginPath(); g.setLineDash(dash); g.strokeStyle = colour; g.lineWidth = 1;
      g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke();
    };
    for (const [x0] of d.spans) rule(X(x0), M.top, X(x0), M.top + h, "#9a9a9a", [4, 3]);
    for (const y of d.grid) rule(M.left, Y(y), M.left + w, Y(y), "#e4e4e4", []);
    rule(M.left, Y(d.zero), M.left + w, Y(d.zero), "#999", []);
    for (const line of d.lines) {
      g.beginPath(); g.setLineDash(line.raw ? [2, 3] : []); g.globalAlpha = line.raw ? 0.7 : 1;
      g.strokeStyle = line.colour; g.lineWidth = line.width;
      for (const run of line.runs) run.forEach(([x, y], i) => (i ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))));
      g.stroke();
    }
    g.globalAlpha = 1; g.setLineDash([]);
    for (const [x, y] of d.points) {
      g.beginPath(); g.arc(X(x), Y(y), 4, 0, 2 * Math.PI);
      g.fillStyle = "#111"; g.fill(); g.strokeStyle = "#fff"; g.stroke();
    }
    g.fillStyle = "#666"; g.font = "11px sans-serif"; g.textBaseline = "middle"; g.textAlign = "right";
    for (const [y, text] of d.labels) g.fillText(text, M.left - 6, Y(y));
    g.textAlign = "center"; g.textBaseline = "alphabetic";
    for (const [x, text] of d.ticks) g.fillText(text, X(x), H - 6);
    box.dataset.windows = d.windows;
    box.dataset.utterances = d.utterances;
    box.dataset.spans = d.spans.length;
    box.dataset.heads = [...new Set(d.lines.map((l) => l.head))].join(" ");
    box.points = d.points.map(([x, y, tip]) => [X(x), Y(y), tip]);
  };
  const chart = (box) => once(box, async () => {
    const res = await fetch(box.dataset.liveTimeline, { cache: "no-store" });
    if (res.status === 200) draw(box, await res.json());
    if (!box.hovering) {
      box.hovering = true;
      const tip = box.querySelector(".tl-tip");
      box.addEventListener("mousemove", (e) => {
        const r = box.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
        let best = null, near = 64;
        for (const p of box.points || []) {
          const d2 = (p[0] - mx) ** 2 + (p[1] - my) ** 2;
          if (d2 < near) { near = d2; best = p; }
        }
        tip.hidden = !best;
        if (best) {
          tip.textContent = best[2];
          tip.style.left = `${best[0]}px`;
          tip.style.top = `${best[1]}px`;
        }
      });
      box.addEventListener("mouseleave", () => { tip.hidden = true; });
    }
  });
  let round = 0;
  setInterval(() => {
    if (document.hidden) return;
    document.querySelectorAll("[data-live-picture]:not([data-live-picture=''])").forEach(paint);
    const charts = document.querySelectorAll("[data-live-timeline]:not([data-live-timeline=''])");
    charts.forEach((box) => { if (round % TIMELINE_EVERY === 0 || !box.points) chart(box); });
    round += 1;
  }, LIVE_EVERY_MS);
})();
</script>"""
"""The page script of :func:`live_js`, its intervals still to be filled in."""


def live_js() -> str:
    """The page script: every :data:`LIVE_EVERY_MS` it paints the newest picture and draws the timeline
    (:func:`live_picture`, :func:`live_timeline`) from their own addresses, one fetch at a time each, and
    lets every frame and every timeline go once drawn; hovering the timeline shows a point's words."""
    return _LIVE_JS.replace("LIVE_EVERY_MS", str(LIVE_EVERY_MS)).replace("TIMELINE_EVERY", str(TIMELINE_EVERY))


def overlay(rgb: np.ndarray, face: FaceFrame | None, draw_face: bool = True) -> np.ndarray:
    """The picture with the tracked face's box and landmarks drawn (``draw_face``), or "no face" written on
    it when the face reader found none; ``face`` None (no reading yet) leaves it as it is."""
    import cv2

    out = np.ascontiguousarray(rgb[..., :3]).copy()
    if face is None:
        return out
    scale = max(1.0, out.shape[0] / 360)
    if face.box is None:
        text = "no face" if face.n_faces == 0 else "face not readable"
        cv2.rectangle(out, (0, 0), (int(150 * scale), int(34 * scale)), (40, 40, 40), -1)
        cv2.putText(out, text, (int(8 * scale), int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale,
                    (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)  # fmt: skip
        return out
    if draw_face:
        x0, y0, x1, y1 = face.box
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 220, 90), max(2, int(2 * scale)))
        for px, py in face.marks if face.marks is not None else []:
            cv2.circle(out, (int(px), int(py)), max(2, int(2 * scale)), (255, 220, 0), -1, cv2.LINE_AA)
        if face.n_faces > 1:
            cv2.putText(out, f"{face.n_faces} faces: reading the largest", (x0, max(12, y0 - 6)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, (0, 220, 90), 1, cv2.LINE_AA)  # fmt: skip
    return out
