"""The studio's ipywidgets panels. They hold widgets and call back; no pipeline logic lives here.

- ``Scrubber``: play button, frame slider, frame number and timecode, previous/next key, and the
  timeline (keyed frames, frames without a face).
- ``ControlPanel``: the editor choice and one row per Look parameter (``deage.studio.controls``):
  label, slider (or drop-down, check box, text), unit, "auto" box, key button.
- ``FacePicker``: one check box and thumbnail per face track.
- ``LookFile``: save / load the Look as JSON.
- ``RenderPanel``: output path, frame range, render button, progress bar, inline video.

Every widget a test or a person needs to find carries a CSS class ``deage-...``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import ipywidgets as w

from deage.face.learned_masks import MASK_KEYS, available
from deage.look import Look
from deage.studio import controls as ctl
from deage.studio.views import encode_jpeg, timecode, timeline_html

ROW = w.Layout(align_items="center", margin="0", min_height="28px")
LABEL_W = "136px"


def css_name(key: str) -> str:
    """The CSS class of a control's row: ``deage-ctl-edit-years`` for ``edit.years``."""
    return "deage-ctl-" + key.replace(".", "-").replace("_", "-")


class _Quiet:
    """A re-entrant "updating from code" flag so observers ignore their own programmatic changes."""

    def __init__(self) -> None:
        self.depth = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def __bool__(self) -> bool:
        return self.depth > 0


# ---------------------------------------------------------------------------------------- scrubber


class Scrubber:
    """Frame slider with play, frame number + timecode, key navigation and a timeline.

    Args:
        frame_count: frames in the clip.
        fps: frame rate (timecode, playback speed).
        on_frame: called with the new frame index when the frame changes (by a person or by play).
    """

    def __init__(self, frame_count: int, fps: Fraction | float, on_frame: Callable[[int], None]) -> None:
        self.frame_count = int(frame_count)
        self.fps = fps
        self._on_frame = on_frame
        self._keyed: list[int] = []
        self._marked: list[int] = []
        self._no_face: list[int] = []
        last = max(self.frame_count - 1, 0)
        self.slider = w.IntSlider(value=0, min=0, max=last, step=1, readout=False, continuous_update=True,
                                  layout=w.Layout(flex="1 1 auto", width="auto", margin="0 4px"))
        self.slider.add_class("deage-frame-slider")
        self.play = w.Play(value=0, min=0, max=last, step=1, interval=max(int(1000 / float(fps)), 10),
                           show_repeat=True, layout=w.Layout(width="auto"))
        self.play.add_class("deage-play")
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.prev_key = w.Button(icon="step-backward", tooltip="previous keyed frame", layout=w.Layout(width="34px"))
        self.next_key = w.Button(icon="step-forward", tooltip="next keyed frame", layout=w.Layout(width="34px"))
        self.label = w.HTML(layout=w.Layout(width="230px", flex="0 0 230px"))
        self.label.add_class("deage-frame-label")
        self.timeline = w.HTML(layout=w.Layout(width="100%"))
        self.timeline.add_class("deage-timeline-box")
        self.slider.observe(self._changed, "value")
        self.prev_key.on_click(lambda _: self.jump_key(-1))
        self.next_key.on_click(lambda _: self.jump_key(+1))
        self.widget = w.VBox([
            w.HBox([self.play, self.prev_key, self.next_key, self.slider, self.label], layout=ROW),
            self.timeline,
        ], layout=w.Layout(width="100%"))
        self.widget.add_class("deage-scrubber")
        self._draw()

    @property
    def value(self) -> int:
        return int(self.slider.value)

    @value.setter
    def value(self, index: int) -> None:
        self.slider.value = max(0, min(int(index), self.frame_count - 1))

    def _changed(self, change: dict[str, Any]) -> None:
        self._draw()
        self._on_frame(int(change["new"]))

    def set_marks(self, keyed: list[int], marked: list[int] | None = None, no_face: list[int] | None = None) -> None:
        """Keyed frames (diamonds), keys of the focused parameter (bright), frames without a face (grey)."""
        self._keyed = sorted(set(keyed))
        self._marked = sorted(set(marked or []))
        if no_face is not None:
            self._no_face = sorted(set(no_face))
        self.prev_key.disabled = not any(k < self.value for k in self._keyed)
        self.next_key.disabled = not any(k > self.value for k in self._keyed)
        self._draw()

    def jump_key(self, direction: int) -> None:
        """Go to the previous (-1) or next (+1) keyed frame, if any."""
        here = self.value
        candidates = [k for k in self._keyed if (k < here if direction < 0 else k > here)]
        if candidates:
            self.value = max(candidates) if direction < 0 else min(candidates)

    def _draw(self) -> None:
        i = self.value
        key = " ◆" if i in self._keyed else ""
        self.label.value = (f'<span style="font-family:monospace;white-space:nowrap">'
                            f'frame <b>{i}</b> / {self.frame_count - 1} · '
                            f'{timecode(i, self.fps)}{key}</span>')
        self.timeline.value = timeline_html(self.frame_count, i, self._keyed, self._no_face, self._marked)
        self.prev_key.disabled = not any(k < i for k in self._keyed)
        self.next_key.disabled = not any(k > i for k in self._keyed)


# ---------------------------------------------------------------------------------------- controls


class _Row:
    """Widgets of one control: the value widget (labelled, with its unit), "auto" box, key button."""

    def __init__(self, control: ctl.Control) -> None:
        self.control = control
        c = control
        common: dict[str, Any] = dict(description=_label_html(c, False), description_allow_html=True,
                                      tooltip=c.help or c.label, style={"description_width": LABEL_W})
        if c.kind in ("float", "int"):
            cls = w.FloatSlider if c.kind == "float" else w.IntSlider
            kwargs: dict[str, Any] = dict(min=c.low, max=c.high, step=c.step, value=c.clamp(c.low or 0.0),
                                          continuous_update=True, readout=True)
            if c.kind == "float":
                kwargs["readout_format"] = _format(c.step)
            else:
                kwargs = {k: int(v) if isinstance(v, float) else v for k, v in kwargs.items()}
            self.value = cls(**kwargs, **common, layout=w.Layout(width="auto", flex="1 1 auto"))
        elif c.kind == "choice":
            options = [("auto", None)] if c.optional else []
            options += [(str(v), v) for v in c.choices]
            self.value = w.Dropdown(options=options, **common, layout=w.Layout(width="auto", flex="1 1 auto"))
        elif c.kind == "bool":
            self.value = w.Checkbox(value=bool(c.default), indent=True, **common,
                                    layout=w.Layout(width="auto", flex="1 1 auto"))
        else:
            self.value = w.Text(value="" if c.default is None else str(c.default), continuous_update=False,
                                **common, layout=w.Layout(width="auto", flex="1 1 auto"))
        self.auto = w.Checkbox(value=False, description="auto", indent=False,
                               layout=w.Layout(width="56px", flex="0 0 56px",
                                               display="" if c.optional and c.keyable else "none"))
        self.key = w.Button(description="◇", tooltip="set a key at this frame",
                            layout=w.Layout(width="38px", flex="0 0 38px", padding="0"),
                            disabled=not c.keyable)
        if not c.keyable:
            self.key.layout.visibility = "hidden"
        self.key.add_class("deage-key-button")
        self.box = w.HBox([self.value, self.auto, self.key], layout=ROW)
        self.box.add_class("deage-control")
        self.box.add_class(css_name(c.key))


def snap(value: float, low: float, step: float | None) -> float:
    """``value`` on the grid ``low + k * step``, rounded to the step's decimals (as the browser's
    slider computes it, so the two sides agree exactly)."""
    if not step:
        return float(value)
    decimals = max(0, -int(math.floor(math.log10(step) + 1e-9))) + 1
    return round(low + round((value - low) / step) * step, decimals)


def _attr(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def _format(step: float | None) -> str:
    if not step or step >= 1:
        return ".0f"
    if step >= 0.1:
        return ".1f"
    return ".2f"


def _group(control: ctl.Control) -> str:
    if control.group:
        return control.group
    if control.section == "blend":
        return "blend"
    if "." in control.name:
        return control.name.partition(".")[0]
    return "fine-tune" if control.optional else "look"


class ControlPanel:
    """Editor choice plus a row per Look parameter, bound to a Look with keyframes.

    A person moving a slider changes the Look: the parameter's value, or, when the parameter has
    keys, its key at the current frame (auto-key). The key button sets a key at this frame (◇ no
    key here, ◆ a key here: click to remove it). ``show_frame`` puts the values the Look has at a
    frame (keys interpolated) on the sliders. ``on_change(look)`` is called after every change.
    """

    def __init__(self, look: Look, editors: list[str], on_change: Callable[[Look], None]) -> None:
        self._look = look
        self._frame = 0
        self._on_change = on_change
        self._quiet = _Quiet()
        self.rows: dict[str, _Row] = {}
        self.focus: str | None = None
        self.apparent_age: tuple[int, float] | None = None  # (track id, years) the "auto" values are for
        self.editor = w.Dropdown(options=editors, value=look.editor if look.editor in editors else editors[0],
                                 description="editor", layout=w.Layout(width="260px"))
        self.editor.add_class("deage-editor")
        self.editor.observe(self._editor_changed, "value")
        self.masks = {key: self._mask_menu(key) for key in MASK_KEYS}
        self.tabs = w.Tab(layout=w.Layout(width="100%"))
        self.age_note = w.HTML("", layout=w.Layout(width="100%"))
        self.age_note.add_class("deage-age-note")
        self.widget = w.VBox([self.editor, self.age_note, self.tabs], layout=w.Layout(width="100%"))
        self.widget.add_class("deage-controls")
        self._build()

    # ---- state -----------------------------------------------------------------------------------
    @property
    def look(self) -> Look:
        return self._look

    def set_look(self, look: Look) -> None:
        """Show ``look`` (rebuilds the rows when its editor differs)."""
        rebuild = look.editor != self._look.editor
        self._look = look
        with self._quiet():
            if self.editor.value != look.editor and look.editor in self.editor.options:
                self.editor.value = look.editor
        if rebuild:
            self._build()
        self._show_masks()
        self.show_frame(self._frame)

    def _mask_menu(self, key: str) -> w.Dropdown:
        """A menu of the ``masks.<key>`` models whose files are present, and "none"."""
        menu = w.Dropdown(description=key, layout=w.Layout(width="260px"))
        menu.add_class(f"deage-mask-{key}")
        self._mask_options(menu, key)
        menu.observe(lambda change, k=key: self._mask_changed(k, change), "value")
        return menu

    def _mask_options(self, menu: w.Dropdown, key: str) -> None:
        current = self._look.masks.get(key, "")
        options = [("none", ""), *((name, name) for name in available(key))]
        if current and current not in [v for _, v in options]:
            options.append((f"{current} (file missing)", current))
        with self._quiet():
            menu.options = options
            menu.value = current

    def _show_masks(self) -> None:
        for key, menu in self.masks.items():
            self._mask_options(menu, key)

    def _mask_changed(self, key: str, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self._look.set_mask(key, change["new"])
        self._changed()

    def control(self, key: str) -> ctl.Control:
        if key not in self.rows:
            raise KeyError(f"no control {key!r}; the controls are: {', '.join(self.rows)}")
        return self.rows[key].control

    def set(self, key: str, value: Any) -> None:
        """Set a control as a person would (through its widget; ``None`` ticks "auto")."""
        row = self.rows[self.control(key).key]
        if value is None and row.control.optional and row.control.keyable:
            row.auto.value = True
        else:
            if row.auto.value:
                row.auto.value = False
            row.value.value = value

    def set_apparent_age(self, track_id: int | None, age: float | None) -> None:
        """Show the "auto" values the preset gives face ``track_id``, which looks ``age`` years old
        (``MakeupParams.for_apparent_age``: hollows from 40, no shape work on a child); None: the
        values for an adult of unknown age."""
        wanted = None if track_id is None or age is None else (int(track_id), float(age))
        if wanted == self.apparent_age:
            return
        self.apparent_age = wanted
        self.show_frame(self._frame)

    def _resolved(self, look: Look, c: ctl.Control) -> Any:
        return ctl.resolved_value(look, c, self.apparent_age[1] if self.apparent_age else None)

    def _show_age_note(self) -> None:
        from deage.edit.registry import EDITORS

        spec = EDITORS.get(self._look.editor)
        follows = spec is not None and hasattr(spec.params_class(), "for_apparent_age")
        if not follows:
            text = ""
        elif self.apparent_age is None:
            text = '"auto" values for an adult of unknown age: analyse the faces to see those of the face edited'
        else:
            track_id, age = self.apparent_age
            text = (f'"auto" values for face {track_id}, who looks {age:.0f}; each face gets those for its '
                    f'own apparent age')
        html = f'<span style="color:#888;font-size:11px">{_attr(text)}</span>' if text else ""
        if self.age_note.value != html:
            self.age_note.value = html

    # ---- building --------------------------------------------------------------------------------
    def _build(self) -> None:
        controls = ctl.editor_controls(self._look.editor) + ctl.blend_controls()
        self.rows = {c.key: _Row(c) for c in controls}
        groups: dict[str, list[w.Widget]] = {}
        for row in self.rows.values():
            groups.setdefault(_group(row.control), []).append(row.box)
            row.value.observe(lambda change, r=row: self._value_changed(r, change), "value")
            row.auto.observe(lambda change, r=row: self._auto_changed(r, change), "value")
            row.key.on_click(lambda _b, r=row: self.toggle_key(r.control.key))
        order = ["look", "wrinkles", "fine-tune", "blend", "masks"]
        names = sorted(groups, key=lambda g: (order.index(g) if g in order else len(order), g))
        if not names:
            names, groups = ["look"], {"look": [w.HTML('<i>this editor has no parameters</i>')]}
        elif ctl.editor_controls(self._look.editor):  # an editor that works on faces
            groups["masks"] = [*self.masks.values(), w.HTML(
                '<span style="color:#888;font-size:11px">models from weights/: the occluder keeps hands and '
                'objects in front of the face out of the edit; the parser replaces the skin-colour model</span>')]
            names.append("masks")
        self.tabs.children = [w.VBox(groups[g], layout=w.Layout(width="100%")) for g in names]
        for i, name in enumerate(names):
            self.tabs.set_title(i, name)
        self.tabs.selected_index = 0
        self.show_frame(self._frame)

    # ---- frame -----------------------------------------------------------------------------------
    def show_frame(self, index: int) -> None:
        """Put the Look's values at frame ``index`` on the widgets, and the key buttons' states."""
        self._frame = int(index)
        resolved = self._look.at(self._frame)
        with self._quiet():
            for row in self.rows.values():
                c = row.control
                keyed = c.key in self._look.keyframes
                value = ctl.get_value(resolved, c)
                row.auto.value = value is None and c.optional and c.keyable
                row.auto.disabled = keyed
                shown = self._resolved(resolved, c) if value is None else value
                self._put(row, shown)
                if c.kind in ("float", "int"):
                    row.value.disabled = bool(row.auto.value)
                here = keyed and any(int(k[0]) == self._frame for k in self._look.keyframes[c.key])
                row.key.description = "◆" if here else ("◈" if keyed else "◇")
                row.key.tooltip = ("remove the key at this frame" if here else
                                   "add a key at this frame" if keyed else "start keyframing: key this value here")
                row.key.button_style = "warning" if here else ""
                label = _label_html(c, keyed)
                if row.value.description != label:
                    row.value.description = label
        self._show_age_note()

    @staticmethod
    def _put(row: _Row, value: Any) -> None:
        c = row.control
        if value is None:
            return
        if c.kind == "float":
            # On the slider's step grid: the browser's slider snaps any other value and, with
            # continuous updates, sends the snapped value back as if a person had moved it.
            target = snap(c.clamp(float(value)), c.low or 0.0, c.step)
            if abs(float(row.value.value) - target) >= (c.step or 0.0) / 2:  # else it is shown already
                row.value.value = target
        elif c.kind == "int":
            row.value.value = int(round(c.clamp(float(value))))
        elif c.kind == "choice":
            if value in c.choices:
                row.value.value = value
        elif c.kind == "bool":
            row.value.value = bool(value)
        else:
            row.value.value = str(value)

    # ---- changes by a person ---------------------------------------------------------------------
    def _value_changed(self, row: _Row, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        c = row.control
        value = change["new"]
        if c.kind == "float":
            value = snap(float(value), c.low or 0.0, c.step)
        self.focus = c.key
        if c.key in self._look.keyframes:
            self._look.set_key(c.key, self._frame, float(value))
        else:
            ctl.set_value(self._look, c, value)
        self._changed()

    def _auto_changed(self, row: _Row, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        c = row.control
        self.focus = c.key
        ctl.set_value(self._look, c, None if change["new"] else row.value.value)
        self._changed()

    def _editor_changed(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self._look.editor = change["new"]
        self._look.edit = {}
        self._look.keyframes = {k: v for k, v in self._look.keyframes.items() if not k.startswith("edit.")}
        self._build()
        self._changed()

    def toggle_key(self, key: str, frame: int | None = None) -> None:
        """Add a key for ``key`` at ``frame`` (default: the current frame) holding the value shown,
        or remove the key that is there."""
        c = self.control(key)
        frame = self._frame if frame is None else int(frame)
        self.focus = key
        keys = self._look.keyframes.get(key, [])
        if any(int(k[0]) == frame for k in keys):
            held = self._resolved(self._look.at(frame), c)
            self._look.remove_key(key, frame)
            if key not in self._look.keyframes and held is not None:
                ctl.set_value(self._look, c, float(held))  # the last key removed: keep its value
        else:
            value = self._resolved(self._look.at(frame), c)
            self._look.set_key(key, frame, float(value if value is not None else c.low or 0.0))
        self._changed()

    def _changed(self) -> None:
        self.show_frame(self._frame)
        self._on_change(self._look)


def _label_html(c: ctl.Control, keyed: bool) -> str:
    """A control's label; orange when the parameter has keys."""
    colour = "#d08000" if keyed else "inherit"
    unit = f' <span style="color:#888;font-size:10px">{_attr(c.unit)}</span>' if c.unit else ""
    return f'<span title="{_attr(c.help or c.label)}" style="color:{colour}">{_attr(c.label)}</span>{unit}'


# ---------------------------------------------------------------------------------------- faces


class FacePicker:
    """One check box per face track, with a thumbnail; ticking chooses which faces are edited."""

    def __init__(self, on_change: Callable[[list[int] | str], None]) -> None:
        self._on_change = on_change
        self._quiet = _Quiet()
        self.boxes: dict[int, w.Checkbox] = {}
        self.infos: dict[int, w.HTML] = {}
        self._rows: dict[int, dict[str, Any]] = {}
        self._ages: dict[int, float] = {}
        self.all = w.Button(description="all", layout=w.Layout(width="48px"), tooltip="edit every face")
        self.largest = w.Button(description="largest", layout=w.Layout(width="70px"),
                                tooltip="edit the largest face only")
        self.all.on_click(lambda _: self._on_change("all"))
        self.largest.on_click(lambda _: self._on_change("largest"))
        self.cards = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.note = w.HTML('<span style="color:#888">faces appear after the analysis</span>')
        self.widget = w.VBox([w.HBox([w.HTML("<b>faces</b>", layout=w.Layout(width="50px")), self.all, self.largest,
                                      self.note], layout=ROW), self.cards])
        self.widget.add_class("deage-faces")

    def set_tracks(self, rows: list[dict[str, Any]], thumbnails: dict[int, Any], selected: list[int]) -> None:
        """``rows``: ``Analysis.summary()``; ``thumbnails``: track id -> RGB uint8 crop."""
        cards = []
        self.boxes, self.infos = {}, {}
        self._rows = {int(row["id"]): row for row in rows}
        for row in rows:
            tid = int(row["id"])
            box = w.Checkbox(value=tid in selected, description=f"#{tid}", indent=False, layout=w.Layout(width="70px"))
            box.observe(lambda change: self._ticked(), "value")
            self.boxes[tid] = box
            parts: list[w.Widget] = []
            if tid in thumbnails:
                parts.append(w.Image(value=encode_jpeg(thumbnails[tid], 85), format="jpeg",
                                     layout=w.Layout(width="72px", height="72px", object_fit="cover")))
            info = self.infos[tid] = w.HTML(self._info_html(tid))
            card = w.VBox(parts + [box, info], layout=w.Layout(margin="2px 6px", align_items="center"))
            card.add_class("deage-face-card")
            cards.append(card)
        self.cards.children = cards
        self.note.value = ('<span style="color:#888">no face found in the clip</span>' if not rows else
                           f'<span style="color:#888">{len(rows)} track(s)</span>')

    def show_ages(self, ages: dict[int, float]) -> None:
        """Add "looks N" to the cards of the tracks in ``ages`` (track id -> apparent age, years)."""
        self._ages = {int(t): float(a) for t, a in ages.items()}
        for tid, info in self.infos.items():
            html = self._info_html(tid)
            if info.value != html:
                info.value = html

    def _info_html(self, tid: int) -> str:
        row = self._rows[tid]
        age = f' · looks {self._ages[tid]:.0f}' if tid in self._ages else ""
        return (f'<span style="font-size:11px;color:#888">frames {row["first_frame"]}–{row["last_frame"]}'
                f' ({row["frames"]}){age}</span>')

    def show_selected(self, selected: list[int]) -> None:
        with self._quiet():
            for tid, box in self.boxes.items():
                box.value = tid in selected

    def _ticked(self) -> None:
        if self._quiet:
            return
        chosen = [tid for tid, box in self.boxes.items() if box.value]
        self._on_change("all" if chosen and len(chosen) == len(self.boxes) else chosen)


# ---------------------------------------------------------------------------------------- look file


class LookFile:
    """Path box with Save and Load buttons."""

    def __init__(self, path: Path, on_save: Callable[[Path], None], on_load: Callable[[Path], None]) -> None:
        self.path = w.Text(value=str(path), description="look", layout=w.Layout(flex="1 1 auto", width="auto"))
        self.save = w.Button(description="save", icon="save", layout=w.Layout(width="80px"))
        self.load = w.Button(description="load", icon="folder-open", layout=w.Layout(width="80px"))
        self.save.on_click(lambda _: on_save(Path(self.path.value).expanduser()))
        self.load.on_click(lambda _: on_load(Path(self.path.value).expanduser()))
        self.widget = w.HBox([self.path, self.save, self.load], layout=ROW)
        self.widget.add_class("deage-look-file")


# ---------------------------------------------------------------------------------------- render


class RenderPanel:
    """Output path, frame range, Render button, progress bar and the rendered clip's inline player."""

    def __init__(self, output: Path, frame_count: int, on_render: Callable[[Path, tuple[int, int]], None]) -> None:
        last = max(frame_count - 1, 0)
        self.output = w.Text(value=str(output), description="output", layout=w.Layout(flex="1 1 auto", width="auto"))
        self.frames = w.IntRangeSlider(value=(0, last), min=0, max=last, description="frames",
                                       continuous_update=False, layout=w.Layout(width="340px"))
        self.button = w.Button(description="render", icon="film", button_style="primary",
                               layout=w.Layout(width="100px"))
        self.button.add_class("deage-render-button")
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(flex="1 1 auto", width="auto"))
        self.progress.add_class("deage-render-progress")
        self.label = w.HTML(layout=w.Layout(width="260px"))
        self.video = w.Video(format="mp4", autoplay=False, loop=True, controls=True,
                             layout=w.Layout(max_width="720px", width="100%", display="none"))
        self.video.add_class("deage-render-video")
        self.button.on_click(lambda _: on_render(Path(self.output.value).expanduser(),
                                                 (int(self.frames.value[0]), int(self.frames.value[1]) + 1)))
        self.widget = w.VBox([
            w.HBox([self.output, self.frames, self.button], layout=ROW),
            w.HBox([self.progress, self.label], layout=ROW),
            self.video,
        ], layout=w.Layout(width="100%"))
        self.widget.add_class("deage-render")

    def show_video(self, data: bytes | None) -> None:
        """Show the rendered clip (mp4 bytes), or hide the player (None)."""
        if data is None:
            self.video.layout.display = "none"
            return
        self.video.value = data
        self.video.layout.display = ""
