"""What the page draws, as plain functions of the scores: gauges, the session timeline, the tinted
utterance list, and the face reader's box on the picture.

Everything here is HTML/SVG text built on the server, so the browser only swaps markup of a fixed size
(no charting library to re-create each hop: nothing flickers), and the same functions draw the live
page and the file tab. The camera picture is the exception: a small page script paints each frame onto
one canvas (:func:`picture_js`). Colour always comes with words or a number beside it.
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
canvas.picture[hidden] { display: none; }
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


def _paths(rows: list[Scores], head: str, value, x, y) -> str:
    """An SVG path through the rows' values, broken where a value is missing."""
    parts, pen_down = [], False
    for s in rows:
        v = value(s, head)
        if v is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x(s.end):.0f},{y(v):.0f}")
        pen_down = True
    return "".join(parts)


def _tip(s: Scores) -> str:
    """A point's hover text (plain: the page shows it with CSS, one element a point, no markup inside)."""
    values = " · ".join(f"{h} {v:+.1f}" for h in HEADS if (v := shown(s, h)) is not None)
    words = s.recent or s.transcript
    text = f"{s.end:.1f} s  {values or 'no score'}" + (f"\n“{words}”" if words else "")
    return html.escape(text + (" (still being spoken)" if s.provisional else ""), quote=True).replace("\n", "&#10;")


def timeline(
    rows: Sequence[Scores], utterances: Sequence[Scores] = (), span: float | None = None, now: float | None = None
) -> str:
    """The session's scores over time: every head smoothed (solid) and raw (dotted), the neutral band,
    each utterance shaded over its span; hovering a point shows its time, scores and words.

    ``span`` seconds before ``now`` (the newest window's end) are shown, or everything when None."""
    end = now if now is not None else (rows[-1].end if rows else 0.0)
    start = max(0.0, end - span) if span else (rows[0].start if rows else 0.0)
    end = max(end, start + 10.0)
    view = _thin([s for s in rows if s.end >= start], MAX_POINTS)
    W, H = 1000.0, 600.0

    def x(t: float) -> float:
        return (t - start) / (end - start) * W

    def y(v: float) -> float:
        return (3.0 - max(-3.0, min(3.0, v))) / 6.0 * H

    svg = [f'<svg viewBox="0 0 {W:.0f} {H:.0f}" preserveAspectRatio="none">']
    svg.append(
        f'<rect x="0" y="{y(NEUTRAL):.1f}" width="{W:.0f}" height="{y(-NEUTRAL) - y(NEUTRAL):.1f}" fill="#f0f0f0"/>'
    )
    svg += _spans(utterances, start, x, H)
    for v in (-2, -1, 1, 2):
        svg.append(
            f'<line x1="0" x2="{W:.0f}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e4e4e4" vector-effect="non-scaling-stroke"/>'
        )
    svg.append(
        f'<line x1="0" x2="{W:.0f}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999" vector-effect="non-scaling-stroke"/>'
    )
    for h in HEADS:
        width = 2.6 if h == "fused" else 1.6
        raw = _paths(view, h, lambda s, k: getattr(s, k), x, y)
        smooth = _paths(view, h, shown, x, y)
        if raw and raw != smooth:
            svg.append(f'<path class="raw" data-head="{h}" d="{raw}" fill="none" stroke="{COLOURS[h]}" stroke-width="1" '
                       'stroke-dasharray="2 3" opacity="0.7" vector-effect="non-scaling-stroke"/>')  # fmt: skip
        if smooth:
            svg.append(f'<path class="smooth" data-head="{h}" d="{smooth}" fill="none" stroke="{COLOURS[h]}" '
                       f'stroke-width="{width}" vector-effect="non-scaling-stroke"/>')  # fmt: skip
    svg.append("</svg>")
    points = _points(view, lambda t: x(t) / W, lambda v: y(v) / H)
    labels, ticks = _axes(start, end, lambda t: x(t) / W, lambda v: y(v) / H)
    legend = "".join(f'<i style="background:{COLOURS[h]}"></i>{h}' for h in HEADS)
    legend += "".join(f" ({d.name}: − {d.low}, + {d.high})" for d in DIMENSIONS)
    return (
        f'<div class="tl" data-windows="{len(view)}" data-utterances="{len(utterances)}">'
        f'<div class="tl-area">{"".join(svg)}{points}</div>{labels}{ticks}</div>'
        f'<div class="tl-legend">{legend} &nbsp;— solid: smoothed, dotted: raw; shaded columns: utterances '
        "(tinted by their score); grey band: neutral; hover a point for its words</div>"
    )


def _points(rows: Sequence[Scores], fx, fy) -> str:
    """A hover point per window with a fused score (``fx``, ``fy``: time and score -> 0..1). A point under a
    newer one could not be hovered, so it is left out."""
    fused = [(s, v) for s in rows if (v := shown(s, "fused")) is not None]
    hover, drawn_x = [], math.inf
    for s, v in reversed(_thin(fused, MAX_HOVER)):
        if drawn_x - fx(s.end) * 1000.0 >= MIN_POINT_GAP:
            hover.append((s, v))
            drawn_x = fx(s.end) * 1000.0
    return "".join(
        f'<div class="tl-pt" style="left:{fx(s.end) * 100:.2f}%;top:{fy(v) * 100:.2f}%" data-tip="{_tip(s)}"></div>'
        for s, v in reversed(hover)
    )


def _spans(utterances: Sequence[Scores], start: float, x, height: float) -> list[str]:
    """Each utterance shaded over its span, tinted by its score (those closer than a few pixels skipped)."""
    out, drawn_x = [], -math.inf
    for u in utterances:
        x0, x1 = max(0.0, x(u.start)), x(u.end)
        if u.end < start or x0 - drawn_x < MIN_SPAN_GAP:  # a long session: utterances closer than a few pixels
            continue
        drawn_x = x0
        out.append(
            f'<rect class="utt-span" x="{x0:.0f}" y="0" width="{max(1.0, x1 - x0):.0f}" height="{height:.0f}" '
            f'fill="{tint(u.fused, 0.25)}"/><line class="utt-start" x1="{x0:.0f}" x2="{x0:.0f}" y1="0" y2="{height:.0f}"/>'
        )
    return out


def _axes(start: float, end: float, fx, fy) -> tuple[str, str]:
    """The score labels and the time ticks around the plot (``fx``, ``fy``: time and score -> 0..1)."""
    labels = "".join(
        f'<div class="tl-y" style="top:calc(8px + (100% - 32px) * {fy(v):.4f})">{v:+d}{" " + w if w else ""}</div>'
        for v, w in ((3, "pos."), (2, ""), (1, ""), (0, ""), (-1, ""), (-2, ""), (-3, "neg."))
    ).replace("+0", "0")
    step = next(s for s in (5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if (end - start) / s <= 10)
    ticks = "".join(
        f'<div class="tl-x" style="left:calc(46px + (100% - 56px) * {fx(t):.4f})">{_clock(t)}</div>'
        for t in np.arange(math.ceil(start / step) * step, end + 1e-6, step)
    )
    return labels, ticks


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


def picture(rgb: np.ndarray | None, quality: int = 80) -> str:
    """The picture as an inline JPEG for :data:`PICTURE_JS` to paint, or a placeholder while there is none.

    Not an ``<img>``: a browser keeps every decoded image it was shown under a new address (measured:
    the page's memory grew by a decoded frame a second, and a forced collection gave none of it back),
    so the page paints each frame onto one canvas and lets it go."""
    import base64

    import cv2

    if rgb is None:
        return '<div class="picture none">no picture yet</div>'
    ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return '<div class="picture none">the picture could not be encoded</div>'
    return f'<div class="picture-data" data-jpeg="{base64.b64encode(jpeg.tobytes()).decode()}"></div>'


def picture_js(elem_id: str) -> str:
    """The page script that paints :func:`picture`'s frames onto one canvas in the element ``elem_id``."""
    return """<script>
(() => {
  const id = "ELEM_ID";
  const paint = async (holder) => {
    const b64 = holder.dataset.jpeg;
    holder.removeAttribute("data-jpeg");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
    const block = document.getElementById(id);
    if (!block) { bitmap.close(); return; }
    let canvas = block.querySelector("canvas.picture");
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.className = "picture";
      block.prepend(canvas);
    }
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
    }
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    canvas.hidden = false;
    bitmap.close();
  };
  new MutationObserver(() => {
    document.querySelectorAll(`#${id} [data-jpeg]`).forEach(paint);
    const canvas = document.querySelector(`#${id} canvas.picture`);
    if (canvas && document.querySelector(`#${id} .picture.none`)) canvas.hidden = true;
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
</script>""".replace("ELEM_ID", elem_id)


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
