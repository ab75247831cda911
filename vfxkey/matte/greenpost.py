"""GreenPost: pull alpha and a clean foreground from a chroma-screen image.

After DiffuMatting's GreenPost (arXiv 2403.06168, §1.2 of the reference notes), without
its learned refiner. One shot goes through these steps, in this order:

0. **Temporal filter and denoise.** In a sequence, each pixel is averaged with the same
   pixel of the previous input frames (TEMPORAL_FRAMES of them, given by the caller)
   wherever it differs from them by no more than the sensor noise measured on the
   shot's screen: a locked-off area stops boiling, while motion, a cut or a light change
   keeps the frame's own pixels. Then an edge-preserving bilateral filter scaled to the
   sensor noise measured in the frame, so grain does not become alpha noise. The matte is pulled from the
   smoothed image; the foreground colour is unmixed from the image as shot (grain kept).
1. **Screen colour.** K-Means on the pixels most likely to be screen (those whose
   dominant channel clearly leads) finds the colour the screen really has — a studio
   green, a blue, or the (8, 162, 24) that image models paint for "#00FF00". This is the
   shot's `Screen`: measured once (``measure_screen``), stored (``Screen.to_json``) and
   passed to the ``Keyer`` of every chunk, so every chunk keys with the same screen. Each
   frame's own screen is found too (``frame_screen``: the most common chromaticity of
   its screen-like pixels); a frame whose screen is another colour or exposure than the
   shot's (``screen_change`` over REFIT_SHIFT tolerances or REFIT_STOPS: a cut, a change
   of light, another take) is keyed against a screen measured on itself and gets the
   ``refit`` verdict; stills keyed without a shot's screen each get their own.
2. **Clean plate.** The screen is modelled per pixel at low resolution from the pixels
   that match the screen colour, and filled under the subject: a quadratic surface of
   the light (gradient, vignette) carries on under it, and push-pull interpolation adds
   the local rest. The plate follows uneven light, vignetting and hue drift. It is
   measured on each frame alone, so a frame's key never depends on which frames were
   keyed before it.
3. **Unmixing.** Each pixel is ``I = alpha * F + (1 - alpha) * B`` with ``B`` the plate.
   A colour-difference key against the plate (Vlahos, solved per channel so that it is
   exact for any mix of a neutral foreground) finds the surely opaque interior;
   thin structures coloured like the screen (a green plant) are found as local extremes
   of the distance to the plate. The foreground colour behind the other pixels is pushed
   out from those seeds, each counted by how nearly it stands as far from the plate as the
   farthest seed near it (the least mixed with the screen: a warm translucent mix passes
   the colour difference as opaque), and the seeds' outer rim is unmixed too. In the
   uncertain band and that rim, alpha and the foreground brightness
   are solved per pixel by least squares, ``F`` keeping the seeds' chromaticity (a
   shading model), wherever that model explains the pixel.
4. **Refinement** of the uncertain band with a colour guided filter (He et al., a fast
   local-linear approximation of closed-form matting; it measures better than pymatting's
   closed-form on the same band, bench/keying/refine.py). The refinement's faint tails
   over the screen fall under the noise floor measured on the bare screen and go to 0
   again. Then soft "clip black" / "clip white": alpha is stretched away from 0.5 so
   ``clip_black`` reads 0 and ``clip_white`` (0.95) reads opaque (a solid subject whose
   colour leans towards the screen, or carries spill, otherwise unmixes a little
   transparent); the artist's garbage matte clears alpha and the core matte fills it.
5. **Despeckle.** Opaque or transparent islands smaller than ``despeckle`` pixels go.
6. **Foreground and despill.** Spill (screen light bounced onto the subject near its
   edges) mixes the plate into the foreground, ``S = (1 - w) F + w B``. The share ``w``
   grows with the screen's share of the pixel's surroundings (a strand with screen all
   round takes more than the edge of a solid subject), so it is modelled as a multiple
   of that share; the radius and the multiple are measured on the opaque pixels near the
   edge, against the subject's colour deeper inside (the shading model of step 3), and
   the model carries the spill into the soft band, where it cannot be told from
   transparency pixel by pixel. Then
   ``F = B + (I - B) / (alpha (1 - w))`` with ``I`` the image as shot (after step 0's
   temporal filter, before its bilateral one). Without spill the
   premultiplied colour is ``I - (1 - alpha) * B``, exact for the plate. Removing the
   screen's share keeps a subject's own colour (a yellow-green plant stays yellow-green),
   which the classic channel clamp (capping the screen channel at the others) does not.
   A soft pixel that is no mix of the nearby subject and the screen (rim light, glare,
   sharpening: a pale outline once comped) leans to the subject's colour the lower its
   alpha (``_towards_subject``); and where alpha is so low that the grain divided by it
   exceeds COLOUR_NOISE, the straight colour is held to 1: where the key says screen
   there is neither alpha nor colour (the ``screen_residue`` verdict checks it).

All arrays are float32 scene-linear in the working space; alpha is straight 0..1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace

import cv2
import numpy as np

from vfxkey.errors import InputError, SettingError
from vfxkey.matte.metrics import count_distinct, gsg, kmeans

_NAMED_SCREENS = {"green": 1, "blue": 2}
KNEE, WHITE = 0.5, 0.95  # clip black/white stretch alpha away from KNEE; WHITE is the default clip white
SEED_SCALE = 4  # the subject colours behind soft pixels are pushed out at 1/SEED_SCALE resolution
MAX_SHADING = 2.0  # the shading model trusts a foreground up to this many times brighter than its reference
SLOPE_SPAN, CURVE_SPAN = 0.03, 0.08  # how widely the screen must spread (std of x or y, frame = 1) to fit a light slope / curvature
CORE_CONTRAST = 0.25  # a thin structure's core lies at least this far off the plate, relative to its brightness
FLOOR_SAMPLE = 50_000  # step 3: the noise floor and the noise's peak are read on an even grid of about this many pixels
SEED_REACH, SEED_PURITY = 6, 32  # step 3: seeds count by (distance to plate / its max within SEED_REACH px) ** SEED_PURITY
SEED_RING = 2  # step 3: the opaque interior's outer SEED_RING px are unmixed too, not taken as opaque
# (SEED_REACH, SEED_PURITY and SEED_RING chosen on bench/keying's dev split: bench/keying/README.md)
MAX_SPILL = 0.3  # at most this share of a subject pixel's colour is taken for screen spill
SPILL_RADII = (0.005, 0.01, 0.02, 0.04)  # how far a subject's surroundings count for its spill (sigma, fraction of the diagonal)
SPILL_MEASURE_SIZE = 960  # the shot's spill radius is measured on its reference frames shrunk to this size at most


@dataclass(frozen=True)
class KeySettings:
    """How to key a shot. The defaults key studio and generated screens well.

    Attributes:
        screen: ``"auto"`` (find green or blue), ``"green"``, ``"blue"``, or a
            scene-linear RGB triple of the screen colour (the shot spec reader parses ``#RRGGBB`` as
            sRGB-encoded and linearises it). With a name the colour itself is still
            measured from the image; only the channel is fixed. A triple selects the
            pixels of that chromaticity, whose colour is then measured (the triple is
            used as it is when too few pixels match).
        despill: strength 0..1 of the spill removal: the measured share of the screen in
            the subject's colour is taken out this many times.
        despeckle: islands of alpha (opaque specks in the screen, holes in the subject)
            whose solid part (alpha >= 0.5, resp. < 0.5) covers fewer than this many
            pixels are removed, soft rim included; 0 keeps everything.
        plate_scale: the clean plate is modelled at 1/plate_scale of the image size.
        temporal: strength 0..1 of the temporal filter: the weight of each of the
            previous frames given to ``Keyer.key`` where the image has not changed from
            them by more than the screen's noise; 0 keys every frame alone.
        denoise: strength of the edge-preserving (bilateral) smoothing the matte is
            pulled from, as a multiple of the sensor noise measured in the frame; 0 turns
            it off. The foreground colour is unmixed from the unsmoothed image (after the
            temporal filter when ``temporal`` > 0, which averages grain where nothing moves).
        refine_radius: radius of the guided-filter refinement, in pixels of its
            1/3-resolution fit (0 turns it off).
        clip_black: alpha at or below this reads 0 (0..0.5; 0: only the noise floor
            measured on the screen clears alpha); between it and 0.5 alpha is stretched.
        clip_white: alpha at or above this reads 1 (0.5..1); between 0.5 and it alpha is
            stretched.
    """

    screen: str | tuple[float, float, float] = "auto"
    despill: float = 1.0
    despeckle: int = 0
    plate_scale: int = 8
    temporal: float = 1.0
    denoise: float = 4.0
    refine_radius: int = 2
    clip_black: float = 0.0
    clip_white: float = WHITE

    def __post_init__(self) -> None:
        if isinstance(self.screen, str) and self.screen not in ("auto", *_NAMED_SCREENS):
            raise SettingError(f"{self.screen!r}: must be 'auto', 'green', 'blue' or an RGB triple",
                               setting="screen")
        if not 0.0 <= self.despill <= 1.0:
            raise SettingError(f"{self.despill}: must be within 0..1", setting="despill")
        if self.despeckle < 0:
            raise SettingError(f"{self.despeckle}: must be >= 0 pixels", setting="despeckle")
        if self.denoise < 0:
            raise SettingError(f"{self.denoise}: must be >= 0", setting="denoise")
        if not 0.0 <= self.temporal <= 1.0:
            raise SettingError(f"{self.temporal}: must be within 0..1", setting="temporal")
        if not 0.0 <= self.clip_black < KNEE < self.clip_white <= 1.0:
            raise SettingError(f"{self.clip_black} (clip_white {self.clip_white}): clip_black must be within "
                               f"0..{KNEE} and clip_white within {KNEE}..1 (exclusive of {KNEE})", setting="clip_black")


@dataclass
class KeyResult:
    """One keyed frame.

    Attributes:
        alpha: ``(H, W)`` float32 in 0..1.
        foreground: ``(H, W, 3)`` float32 straight foreground colour, scene-linear,
            with the screen spill taken out.
        qc: ``screen_rgb`` (scene-linear triple of the screen colour used),
            ``frame_screen_rgb`` (the colour of the screen this frame shows,
            ``frame_screen``; None when it shows too little), ``screen_shift`` and
            ``screen_exposure`` (``screen_change`` of the frame's screen from the shot's:
            chromaticity distance in tolerances, stops; None without a shot's screen or a
            frame screen), ``screen_refit`` (True when the frame's screen differs and the
            frame was keyed against a screen measured on itself), ``gsg`` (distance of the
            image's dominant colour to the screen colour), ``soft_fraction`` (fraction of
            pixels with 0.02 < alpha < 0.98), ``verdicts`` (``refit``, ``blank_key``,
            ``full_key``, ``inverted_key``, ``screen_residue``: what a farm post-task can
            act on) and ``warnings`` (one line per verdict, for people).
    """

    alpha: np.ndarray
    foreground: np.ndarray
    qc: dict = field(default_factory=dict)

    def premultiplied_rgba(self) -> np.ndarray:
        """``(H, W, 4)`` float32: foreground times alpha, then alpha (scene-linear)."""
        premultiplied = cv2.multiply(self.foreground, cv2.merge([self.alpha] * 3))  # OpenCV: contiguous, threaded
        return cv2.merge([premultiplied, self.alpha])


WORKING_SPACE = "Linear Rec.709 (sRGB)"  # vfxkey.io.colour's default working space (not imported: matte needs no OCIO)
SCREEN_FORMAT = "vfxkey.screen/1"  # the "format" of a stored Screen
SCREEN_LEAD = 0.05  # a pixel is screen-like when green or blue leads the other channels by this much (chromaticity)
FRAME_SCREEN_SHARE, FRAME_SCREEN_RADIUS = 0.02, 0.015  # frame_screen: least screen-like share; chromaticity radius
EDGE_REACH = 0.01  # step 6: an edge pixel is this close (fraction of the diagonal) to both subject and screen
COLOUR_PRIOR = 0.5  # step 6: below this alpha a soft pixel the mix model does not explain takes mostly the subject's colour
COLOUR_NOISE = 0.1  # the straight colour is held to <= 1 where the grain it carries (noise / alpha) exceeds this
RESIDUE_SHARE = 1e-4  # screen_residue verdict: more than this share of the frame has colour above alpha < 0.01
REFIT_SHIFT, REFIT_STOPS = 1.0, 0.4  # a frame whose screen is this far off the shot's (tolerances; stops) is refit
TEMPORAL_FRAMES = 4  # previous input frames the temporal filter averages with
# The smallest image keyed, a side in pixels: OpenCV reads a 1x1 or 4x1 array as a scalar, and a
# line of pixels holds no screen around a subject to key against.
MIN_SIDE = 2
TEMPORAL_SAME, TEMPORAL_CHANGED = 1.3, 2.0  # change from a previous frame, x that of noise alone: same / changed


@dataclass(frozen=True)
class Screen:
    """A shot's screen, measured once and passed to the ``Keyer`` of every chunk.

    Attributes:
        rgb: scene-linear colour of the bare screen, in ``working_space``.
        channel: the screen's channel: 1 green, 2 blue.
        chroma_tolerance: distance in rg-chromaticity (r, g over r + g + b) from the
            screen's that still counts as bare screen.
        noise: standard deviation of the sensor noise on the bare screen of the image(s)
            it was measured on (Immerkaer's estimate), linear units; the temporal filter
            tells noise from change by it.
        working_space: the scene-linear colour space ``rgb`` is in (the images' space).
        source: where it was measured, for people (e.g. ``"shot.1001.png (frame 1001)"``).
        spill_radius: how far a subject's surroundings count for the screen light it
            takes (step 6), as a fraction of the image diagonal: one of SPILL_RADII,
            measured on the same images, or None to choose it on each frame.
    """

    rgb: tuple[float, float, float]
    channel: int
    chroma_tolerance: float
    noise: float
    working_space: str = WORKING_SPACE
    source: str = ""
    spill_radius: float | None = None

    def __post_init__(self) -> None:
        if len(self.rgb) != 3 or not all(np.isfinite(c) and c >= 0 for c in self.rgb):
            raise InputError(f"screen rgb must be three finite values >= 0, got {self.rgb!r}")
        if self.channel not in (1, 2):
            raise InputError(f"screen channel must be 1 (green) or 2 (blue), got {self.channel!r}")
        if not 0.0 < self.chroma_tolerance <= 1.0:
            raise InputError(f"screen chroma_tolerance must be within 0..1, got {self.chroma_tolerance!r}")
        if not (np.isfinite(self.noise) and self.noise >= 0.0):
            raise InputError(f"screen noise must be >= 0, got {self.noise!r}")
        if self.spill_radius is not None and self.spill_radius not in SPILL_RADII:
            raise InputError(f"screen spill_radius must be one of {SPILL_RADII} or null, got {self.spill_radius!r}")

    def to_json(self) -> str:
        """JSON text; floats are written exactly (``from_json`` gives back an equal Screen)."""
        return json.dumps({"format": SCREEN_FORMAT, **asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Screen":
        """The Screen ``to_json`` wrote; :class:`InputError` naming what is wrong otherwise."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not a screen file (bad JSON: {exc})") from None
        if not isinstance(data, dict) or data.pop("format", None) != SCREEN_FORMAT:
            raise InputError(f"not a screen file (no \"format\": \"{SCREEN_FORMAT}\")")
        fields = {"rgb", "channel", "chroma_tolerance", "noise", "working_space", "source", "spill_radius"}
        if set(data) - fields or {"rgb", "channel", "chroma_tolerance", "noise"} - set(data):
            raise InputError(f"screen file fields must be {sorted(fields)}, got {sorted(data)}")
        return cls(**{**data, "rgb": tuple(float(c) for c in data["rgb"])})


def measure_screen(
    images: np.ndarray | Sequence[np.ndarray], settings: KeySettings = KeySettings(), *,
    working_space: str = WORKING_SPACE, source: str = "",
) -> Screen:
    """Measure a shot's screen (step 1) on one image or on several frames of the shot together.

    Args:
        images: ``(H, W, 3)`` float32 scene-linear straight image(s) in ``working_space``.
        settings: ``settings.screen`` fixes the channel or colour; ``settings.denoise`` the
            smoothing the colour is measured on (as ``Keyer.key`` smooths).
        source: where the images come from, kept in ``Screen.source`` for people.

    Raises :class:`InputError` when no screen of the asked kind is found.
    """
    images = [_checked(image) for image in ([images] if isinstance(images, np.ndarray) else images)]
    smoothed = [_denoise(image, settings.denoise)[0] for image in images]
    screen = _screen_of(images, smoothed, settings.screen, working_space, source)
    # The spill's reach (step 6) is the shot's too, so the despill does not flicker: the
    # radius chosen most often when the images are keyed against this screen (at most
    # SPILL_MEASURE_SIZE across: the radius is a fraction of the diagonal).
    keyer = Keyer(replace(settings, temporal=0.0), screen)
    radii = [keyer.key(_at_most(image, SPILL_MEASURE_SIZE)).qc["spill_radius"] for image in images]
    radii = [radius for radius in radii if radius is not None]
    return replace(screen, spill_radius=max(set(radii), key=radii.count) if radii else None)


def _at_most(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` shrunk (area average) so that neither side exceeds ``size`` pixels."""
    scale = size / max(image.shape[:2])
    if scale >= 1.0:
        return image
    shrunk = tuple(max(MIN_SIDE, round(side * scale)) for side in (image.shape[1], image.shape[0]))  # still keyable
    return cv2.resize(image, shrunk, interpolation=cv2.INTER_AREA)


def frame_screen(rgb: np.ndarray) -> np.ndarray | None:
    """The colour (scene-linear triple) of the screen this frame shows, or None when it shows too little.

    The frame's screen is the most common chromaticity among its screen-like pixels
    (green or blue leads the other channels by SCREEN_LEAD in chromaticity), whatever
    screen the shot was measured on: the peak of their rg-chromaticity histogram (bins
    of 0.01, smoothed over three); its colour is the median of the screen-like pixels
    within FRAME_SCREEN_RADIUS (chromaticity) of the peak. None when under
    FRAME_SCREEN_SHARE of the frame is screen-like. ``rgb`` scene-linear, smoothed (step 0).
    """
    sample = _sample(rgb, 10_000)
    screen_like = sample[(_screen_lead(sample) > SCREEN_LEAD) & (sample.sum(axis=-1) > 1e-3)]
    if len(screen_like) < FRAME_SCREEN_SHARE * len(sample):
        return None
    chroma = _chromaticity(screen_like)[:, :2]
    bins = np.minimum((chroma * 100).astype(np.int32), 99)
    histogram = np.zeros((100, 100), np.float32)
    np.add.at(histogram, (bins[:, 0], bins[:, 1]), 1.0)
    peak = np.unravel_index(np.argmax(cv2.GaussianBlur(histogram, (3, 3), 0)), histogram.shape)
    near = np.linalg.norm(chroma - (np.asarray(peak) + 0.5) / 100, axis=-1) < FRAME_SCREEN_RADIUS
    return np.median(screen_like[near], axis=0).astype(np.float32)


def screen_change(frame_rgb: np.ndarray, screen: Screen) -> tuple[float, float]:
    """How far a frame's screen colour (``frame_screen``) is from the shot's ``screen``:
    its chromaticity distance in units of the screen's ``chroma_tolerance``, and its
    exposure in stops (log2 of the ratio of r + g + b). Both scene-linear."""
    shift = np.linalg.norm(_chromaticity(frame_rgb)[:2] - _chromaticity(np.asarray(screen.rgb, np.float32))[:2])
    stops = np.log2(max(float(frame_rgb.sum()), 1e-9) / max(sum(screen.rgb), 1e-9))
    return float(shift / screen.chroma_tolerance), float(stops)


class Keyer:
    """Keys the frames of a shot against its ``Screen``, or stills each against its own.

    ``Keyer(settings, screen)`` keys every frame with ``screen`` (from ``measure_screen``
    or ``Screen.from_json``), so frames keyed in any chunk, in any order, are the same;
    a frame whose own screen (``frame_screen``) is more than REFIT_SHIFT tolerances or
    REFIT_STOPS off it (``screen_change``: a cut, a change of light, another take) is
    keyed against a screen measured on that frame, and its QC says so.
    ``Keyer(settings)`` measures each image's own screen: for unrelated stills.
    A Keyer keeps no state between frames.
    """

    def __init__(self, settings: KeySettings = KeySettings(), screen: Screen | None = None):
        self.settings = settings
        self.screen = screen

    def key(self, rgb: np.ndarray, hint: np.ndarray | None = None, previous: Sequence[np.ndarray] = (), *,
            garbage: np.ndarray | None = None, core: np.ndarray | None = None) -> KeyResult:
        """Key one frame.

        Args:
            rgb: ``(H, W, 3)`` float32 scene-linear, straight (no alpha), or an array-like
                NumPy makes one of (held compactly by the caller).
            hint: optional ``(H, W)`` coarse mask in 0..1 (1 = subject). It keeps the
                subject out of the clean plate and makes pixels well inside it opaque; it
                never lowers the alpha the colour gives. The keyer works without it.
            previous: the shot's frames just before this one as read (nearest first,
                each like ``rgb``, or an array-like NumPy makes one of: each is made an
                array only when its turn comes, so a caller may hold them compactly); the
                first TEMPORAL_FRAMES steady the key where the image has not changed
                (``settings.temporal``). Input frames, never
                earlier outputs: any chunk that keys this frame reads the same ones.
            garbage: optional ``(H, W)`` matte in 0..1 of what is never the subject (rigs,
                the stage beyond the screen): alpha is multiplied by ``1 - garbage`` and
                those pixels are kept out of the clean plate.
            core: optional ``(H, W)`` matte in 0..1 of what is surely subject: alpha is at
                least ``core`` there.
        """
        observed = _checked(rgb)
        s = self.settings

        # 0a. Temporal filter: where the image is the same as in the previous frames but
        # for sensor noise, average it with them, so alpha and colour do not boil.
        previous = previous[:TEMPORAL_FRAMES] if s.temporal > 0 else []
        sigma = _noise_sigma(observed)  # as shot: the bilateral filter smooths what noise is left as hard
        if len(previous):
            noise = self.screen.noise if self.screen is not None else sigma
            # each frame made an array when its turn comes (it may be an array-like holding less)
            observed = _temporal_filter(observed, (_checked(frame) for frame in previous), noise, s.temporal)

        # 0b. Denoise: sensor noise would otherwise become alpha noise. A bilateral filter
        # smooths within flat areas and keeps edges whose contrast is well above the noise
        # (Tomasi and Manduchi, 1998). The foreground is unmixed from the observed image.
        rgb, _ = _denoise(observed, s.denoise, sigma)

        # 1. Screen colour: the shot's, unless this frame's own screen is another colour or
        # exposure (a cut, a light change, another take): then the one measured on this frame.
        own = frame_screen(rgb)
        shift, stops = screen_change(own, self.screen) if own is not None and self.screen is not None else (None, None)
        refit = shift is not None and (shift > REFIT_SHIFT or abs(stops) > REFIT_STOPS)
        screen = self.screen
        if screen is None or refit:
            setting = tuple(float(c) for c in own) if refit else s.screen  # the frame's screen, whatever the shot's was
            screen = _screen_of([observed], [rgb], setting, screen.working_space if screen else WORKING_SPACE)

        # 2. Clean plate: the screen as it is lit, per pixel.
        not_screen = [m for m in (hint, garbage, core) if m is not None]  # kept out of the plate
        plate_small = _clean_plate(rgb, screen, s.plate_scale, np.maximum.reduce(not_screen) if not_screen else None)
        # At full size it is made where it is used (steps 3 and 6), not held between them.
        full_plate = lambda: cv2.resize(plate_small, (observed.shape[1], observed.shape[0]),  # noqa: E731
                                        interpolation=cv2.INTER_LINEAR)

        # 3. Unmixing against the plate.
        alpha, floor = _unmix(rgb, full_plate(), plate_small, screen)

        # 4. Refinement where the key is uncertain.
        if s.refine_radius > 0:
            alpha = _refine(rgb, alpha, s.refine_radius)

        # The refinement spreads faint alpha (1e-5..1e-3) over the screen around the edges:
        # below the noise floor it is noise, and the colour unmixed there would be the
        # screen's own grain, additive colour where the key says screen. So the floor
        # applies again, to alpha and (step 6: colour is 0 where alpha is) colour together.
        alpha = _above_floor(alpha, floor)

        # Clip black and white: a solid subject whose colour leans towards the screen, or
        # carries spill, unmixes a little transparent; alpha above KNEE is stretched so
        # that ``clip_white`` reads opaque (the "clip white" of compositing keyers,
        # softened), and below KNEE so that ``clip_black`` reads transparent.
        alpha = _clip(alpha, s.clip_black, s.clip_white)

        # The hint can only add to what the colour says (DiffuMatting's GreenPost: the coarse
        # mask tells subject from screen for the plate, the alpha comes from the key): well
        # inside where it is ~1 the subject is opaque, even where its colour is near the
        # screen's. Outside it the key decides, so strands and soft edges a coarse hint
        # misses keep their alpha.
        if hint is not None:
            inside = cv2.erode((hint >= 0.98).astype(np.uint8), np.ones((11, 11), np.uint8))
            alpha = np.where(inside == 1, 1.0, alpha).astype(np.float32)

        # Garbage and core mattes: the artist's word, over the key's (0 where the garbage
        # matte is 1, 1 where the core matte is).
        if garbage is not None:
            alpha = cv2.multiply(alpha, 1.0 - np.clip(garbage, 0.0, 1.0).astype(np.float32))
        if core is not None:
            alpha = cv2.max(alpha, np.clip(core, 0.0, 1.0).astype(np.float32))

        # 5. Despeckle.
        if s.despeckle > 0:
            alpha = _despeckle(alpha, s.despeckle)

        # 6. Foreground colour: the image is I = alpha ((1 - w) F + w B) + (1 - alpha) B,
        # with w the spill, so F = B + (I - B) / (alpha (1 - w)); without spill the
        # premultiplied colour is I - (1 - alpha) B and opaque pixels are I.
        spill, spill_radius = np.zeros_like(alpha), None
        if s.despill > 0:
            spill, spill_radius = _spill_fraction(rgb, plate_small, alpha, screen.spill_radius)
            spill *= s.despill
        # The alpha is final: its QC figures on the smoothed image, which is then let go (frame-sized).
        gsg_figure, key_verdicts = _gsg(rgb, np.asarray(screen.rgb, np.float32)), _key_verdicts(rgb, alpha, screen)
        del rgb
        inverse = cv2.divide(1.0, alpha * (1.0 - spill))  # 1 / (alpha (1 - w)); 0 where alpha is 0
        del spill
        plate = full_plate()
        foreground = cv2.subtract(observed, plate)  # then in place: one frame-sized buffer
        cv2.multiply(foreground, cv2.merge([inverse] * 3), dst=foreground)
        cv2.add(plate, foreground, dst=foreground)
        cv2.max(foreground, 0.0, dst=foreground)
        foreground = cv2.bitwise_and(foreground, foreground, mask=(alpha > 0.0).astype(np.uint8))
        foreground = _towards_subject(foreground, alpha, observed, plate)
        # The colour's noise floor: dividing by alpha turns the screen's grain (std ``noise``)
        # into colour noise noise / alpha on the straight colour; where that is over
        # COLOUR_NOISE of diffuse white the colour is grain more than subject, a bright
        # colour on a faint pixel. There the straight colour is held to diffuse white
        # (premultiplied colour at most alpha), as the alpha's floor held alpha.
        faint = ((alpha > 0.0) & (alpha < screen.noise / COLOUR_NOISE)).astype(np.uint8)
        if faint.any():
            # NumPy, not cv2.min: OpenCV reads a bare 1.0 as the scalar (1, 0, 0, 0) and would zero green and blue.
            np.minimum(foreground, 1.0, out=foreground, where=faint[..., None] == 1)

        qc = {
            "screen_rgb": list(screen.rgb),
            "frame_screen_rgb": None if own is None else [float(c) for c in own],
            "screen_shift": shift,
            "screen_exposure": stops,
            "screen_refit": refit,
            "gsg": gsg_figure,
            "soft_fraction": float(np.mean((alpha > 0.02) & (alpha < 0.98))),
            "temporal_frames": len(previous),
            "spill_radius": spill_radius,
            "verdicts": [],
            "warnings": [],
        }
        if refit:
            qc["verdicts"].append("refit")
            qc["warnings"].append(f"the screen differs from the shot's ({stops:+.1f} stops, colour {shift:.1f} "
                                  "tolerances off); keyed against a screen measured on this frame")
        for verdict, warning in key_verdicts + _residue_verdict(alpha, foreground):
            qc["verdicts"].append(verdict)
            qc["warnings"].append(warning)
        return KeyResult(alpha=alpha, foreground=foreground, qc=qc)


def _towards_subject(foreground: np.ndarray, alpha: np.ndarray, observed: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """Step 6's soft colours, drawn towards the nearby subject's where the pixel is no mix of subject and screen.

    Real edges carry light that is neither the subject's nor the screen's: rim light
    through fabric fuzz and hair, the lens's glare, a camera's sharpening and its 4:2:0
    chroma. The unmix ``F = B + (I - B) / alpha`` gives it all to the foreground and
    divides it by alpha, so a soft edge reads as a pale, screen-tinted outline one or two
    pixels wide, plain over anything dark. A pixel that is a mix of the nearby subject's
    colour ``F_s`` (the nearest opaque colour, pushed out as the unmix's seeds) and the
    plate, at any brightness (``_shading_unmix``'s shading model, which spans spill too),
    keeps its own colour; one the model does not explain (trust ``t``) takes the least-
    squares blend of its own colour, counted ``alpha^2``, and the subject's, counted
    ``COLOUR_PRIOR^2``: weight ``m = t + (1 - t) alpha^2 / (alpha^2 + COLOUR_PRIOR^2)``
    on its own. Alpha is unchanged, so strands stay; their colour leans to the hair they
    grow from. (H, W, 3) linear straight colours; ``foreground`` is changed in place and returned.
    """
    # The edge: soft pixels within EDGE_REACH of the diagonal of both the opaque subject and
    # the clear screen (a broad translucent region, glass or a veil, has a colour of its own).
    reach = EDGE_REACH * float(np.hypot(*alpha.shape))
    opaque = (alpha >= 0.98).astype(np.uint8)
    near_opaque = cv2.distanceTransform(1 - opaque, cv2.DIST_L2, 3) <= reach
    near_clear = cv2.distanceTransform((alpha > 0.02).astype(np.uint8), cv2.DIST_L2, 3) <= reach
    soft = np.flatnonzero(near_opaque & near_clear & (alpha > 0.0) & (alpha < 0.98))
    interior = cv2.erode(opaque, np.ones((3, 3), np.uint8))
    if not soft.size or not interior.any():
        return foreground
    subject = _seed_colour(foreground, interior, soft)
    a = alpha.reshape(-1)[soft][:, None]
    _, explained = _shading_unmix(_pixels(observed, soft), _pixels(plate, soft), subject)
    own = explained[:, None] + (1.0 - explained[:, None]) * a * a / (a * a + COLOUR_PRIOR * COLOUR_PRIOR)
    flat = foreground.reshape(-1, 3)
    flat[soft] = own * flat[soft] + (1.0 - own) * subject
    return foreground


def _grid_step(image: np.ndarray, count: int) -> int:
    """The stride of an even grid of about ``count`` pixels over an (H, W, ...) ``image``."""
    return max(1, int(np.sqrt(image.shape[0] * image.shape[1] / count)))


def _gsg(rgb: np.ndarray, screen_rgb: np.ndarray) -> float:
    """GSG (metrics.gsg, scene-linear) on an even grid of about 10,000 pixels."""
    step = _grid_step(rgb, 10_000)
    return gsg(rgb[::step, ::step], screen_rgb)


def _checked(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` as a contiguous float32 (H, W, 3) array; ValueError for another shape,
    :class:`InputError` for an image under MIN_SIDE pixels a side."""
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise InputError(f"a {rgb.shape[1]}x{rgb.shape[0]} image is too small to key (at least {MIN_SIDE} pixels "
                         "a side)")
    return rgb


def _sample(rgb: np.ndarray, count: int) -> np.ndarray:
    """(N, C) pixels of an even grid of about ``count`` over an (H, W, C) image."""
    step = _grid_step(rgb, count)
    return rgb[::step, ::step].reshape(-1, rgb.shape[2])


def _denoise(rgb: np.ndarray, strength: float, sigma: float | None = None) -> tuple[np.ndarray, float]:
    """Step 0b: the image bilateral-filtered at ``strength`` times the noise ``sigma`` (linear
    std; by default measured in the image), and that noise."""
    sigma = _noise_sigma(rgb) if sigma is None else sigma
    if strength <= 0:
        return rgb, sigma
    return cv2.bilateralFilter(rgb, 5, strength * sigma, 1.5), sigma


def _noise_sigma(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Standard deviation of sensor noise (Immerkaer, "Fast Noise Variance Estimation", 1996),
    over the whole image or the pixels where the (H, W) bool ``mask`` is set."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(rgb, -1, kernel)
    if mask is None:
        return float(np.sqrt(np.pi / 2) / 6 * cv2.norm(response, cv2.NORM_L1) / response.size)  # mean |response|
    return float(np.sqrt(np.pi / 2) / 6 * np.mean(np.abs(response[mask])))


def _key_verdicts(rgb: np.ndarray, alpha: np.ndarray, screen: Screen) -> list[tuple[str, str]]:
    """QC verdicts on a frame's alpha, each with its one-line warning: ``blank_key`` and
    ``full_key`` (alpha almost all 0, resp. 1, although the image holds both bare screen
    and subject, pixels of no screen colour) and ``inverted_key`` (most of the bare
    screen opaque while most of the subject is transparent)."""
    sample, solid_sample = _sample(rgb, 10_000), _sample(alpha[..., None], 10_000)[:, 0] >= 0.5
    bare = _screen_weight(sample, screen) > 0.5
    subject = (_screen_lead(sample) < SCREEN_LEAD) & (sample.sum(axis=-1) > 0.01)
    if bare.mean() < 0.02 or subject.mean() < 0.02:
        return []
    solid = float(solid_sample.mean())
    if solid < 0.002 or solid > 0.998:
        state, verdict = ("transparent", "blank_key") if solid < 0.002 else ("opaque", "full_key")
        return [(verdict, f"keyed almost all {state} ({solid:.1%} solid) although {bare.mean():.0%} of it is "
                          f"screen and {subject.mean():.0%} subject: check the screen")]
    screen_solid, subject_solid = float(solid_sample[bare].mean()), float(solid_sample[subject].mean())
    if screen_solid > 0.5 and subject_solid < 0.5:
        return [("inverted_key", f"keyed inside out: {screen_solid:.0%} of the bare screen is opaque and "
                                 f"{1 - subject_solid:.0%} of the subject transparent: check the screen")]
    return []


def screen_residue(alpha: np.ndarray, premultiplied: np.ndarray) -> float:
    """Share of the frame where the key says screen (alpha < 0.01) but the premultiplied
    colour exceeds alpha by more than 1e-3 in some channel: additive colour that a grade
    lifting the darks, or an unpremultiply / premultiply chain, would show."""
    low = np.flatnonzero(alpha < 0.01)
    return _lifted(alpha.reshape(-1)[low], _pixels(premultiplied, low)) / alpha.size


def _lifted(alpha: np.ndarray, premultiplied: np.ndarray) -> int:
    """How many of (N,) pixels' (N, 3) premultiplied colours exceed their alpha by more than
    1e-3 in some channel (the channels compared one by one: NumPy's max over an axis of 3
    is ten times slower)."""
    highest = np.maximum(np.maximum(premultiplied[:, 0], premultiplied[:, 1]), premultiplied[:, 2])
    return int(np.count_nonzero(highest > alpha + 1e-3))


def _residue_verdict(alpha: np.ndarray, foreground: np.ndarray) -> list[tuple[str, str]]:
    """``screen_residue`` when over RESIDUE_SHARE of the frame is residue (``screen_residue``).
    The straight ``foreground`` is 0 where alpha is (step 6), so only pixels with
    0 < alpha < 0.01 can hold residue: it is premultiplied there alone."""
    low = np.flatnonzero((alpha > 0.0) & (alpha < 0.01))
    faint = alpha.reshape(-1)[low]
    share = _lifted(faint, _pixels(foreground, low) * faint[:, None]) / alpha.size
    if share <= RESIDUE_SHARE:
        return []
    return [("screen_residue", f"colour left on the screen: {share:.2%} of the frame has alpha < 0.01 but colour above it")]


def _channel_sum(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W): r + g + b, with OpenCV's threaded transform."""
    return cv2.transform(rgb, np.ones((1, 3), np.float32))


def _pixels(rgb: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(N, 3) colours of (H, W, 3) ``rgb`` at flat pixel ``indices`` (``np.take``: half the time of fancy indexing)."""
    return np.take(rgb.reshape(-1, 3), indices, axis=0)


def _rgb_total(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) -> (...): r + g + b, added in that order as NumPy's sum over the last axis adds
    them (the same bits), channel by channel: NumPy's reduction over an axis of 3 is 25 times slower."""
    return rgb[..., 0] + rgb[..., 1] + rgb[..., 2]


def _chromaticity(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) linear RGB -> (..., 3) r, g, b over their sum (brightness removed)."""
    return rgb / np.maximum(_rgb_total(rgb)[..., None], 1e-6)


def _screen_lead(sample: np.ndarray) -> np.ndarray:
    """(N,) how far green or blue, whichever more, leads the other channels in chromaticity, of (N, 3) pixels."""
    chroma = _chromaticity(sample)
    return np.maximum(*(chroma[:, c] - np.delete(chroma, c, axis=1).max(axis=1) for c in (1, 2)))


# 0a. Temporal filter ---------------------------------------------------------------
def _temporal_filter(image: np.ndarray, previous: Iterable[np.ndarray], noise: float, strength: float) -> np.ndarray:
    """(H, W, 3) ``image`` averaged with the ``previous`` frames wherever they differ from it by noise alone.

    The change from each previous frame, ``d = box5(sum over channels |I - P|)``, is
    ``E = 6 sigma / sqrt(pi)`` where only sensor noise (std ``noise`` per channel)
    differs, give or take a tenth. A frame counts with weight ``strength`` where ``d`` is
    under TEMPORAL_SAME times E, not at all over TEMPORAL_CHANGED times E (motion, a cut,
    a light change), linearly between; the result is the weighted mean. On a still
    region the mean of n frames has 1/sqrt(n) of the noise and moves 1/n as much from
    frame to frame. All linear.
    """
    expected = max(6.0 * noise / np.sqrt(np.pi), 1e-6)
    low, high = TEMPORAL_SAME * expected, TEMPORAL_CHANGED * expected
    total, weights = image.copy(), np.ones(image.shape[:2], np.float32)
    scratch = np.empty_like(image)  # one frame-sized buffer for the steps below, in place
    for frame in previous:
        if frame.shape == image.shape:  # (another format: nothing to average with)
            change = cv2.boxFilter(_channel_sum(cv2.absdiff(image, frame, dst=scratch)), -1, (5, 5))
            # strength where change <= low, 0 where change >= high, linear between (OpenCV: one pass each)
            weight = cv2.min(cv2.max(cv2.subtract(high, change) * np.float32(strength / (high - low)), 0.0), strength)
            cv2.add(total, cv2.multiply(frame, cv2.merge([weight] * 3, dst=scratch), dst=scratch), dst=total)
            cv2.add(weights, weight, dst=weights)
        del frame  # let it go before the next is made (they may be made on demand)
    return cv2.divide(total, cv2.merge([weights] * 3, dst=scratch), dst=total)


# 1. Screen colour ------------------------------------------------------------------
def _screen_of(images: list[np.ndarray], smoothed: list[np.ndarray], setting: str | tuple[float, float, float],
               working_space: str, source: str = "") -> Screen:
    """The Screen of ``images`` measured together: its colour on their ``smoothed`` (step 0)
    versions, its noise on their bare screen as shot."""
    rgb, channel, tolerance = _estimate_screen(np.concatenate([_sample(image, 40_000) for image in smoothed]), setting)
    screen = Screen(rgb=tuple(float(c) for c in rgb), channel=channel, chroma_tolerance=tolerance, noise=0.0)
    # Bare screen: surely screen, two pixels away from anything else (the noise filter is 3x3).
    bare = [cv2.erode((_screen_weight(image, screen) > 0.9).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            for image in smoothed]
    noise = [_noise_sigma(image, mask) for image, mask in zip(images, bare) if mask.sum() > 100]
    noise = float(np.mean(noise)) if noise else float(np.mean([_noise_sigma(image) for image in images]))
    return Screen(rgb=screen.rgb, channel=channel, chroma_tolerance=tolerance, noise=noise,
                  working_space=working_space, source=source)


def _estimate_screen(sample: np.ndarray, screen: str | tuple[float, float, float]) -> tuple[np.ndarray, int, float]:
    """K-Means on likely-screen pixels of ``sample`` (N, 3) -> screen colour, channel and chroma tolerance."""
    chroma = _chromaticity(sample)

    if isinstance(screen, tuple):
        target = np.asarray(screen, dtype=np.float32)
        channel = int(np.argmax(target))
        dist = np.linalg.norm(chroma - _chromaticity(target), axis=-1)
        candidates = dist < 0.15
        if candidates.sum() < 50:
            return target, channel, 0.06
    else:
        # A pixel is a likely screen pixel when its dominant channel leads the others
        # by a clear margin in chromaticity; "auto" picks the channel with more of them.
        lead = {c: chroma[:, c] - np.delete(chroma, c, axis=1).max(axis=1) for c in (1, 2)}
        if screen == "auto":
            channel = max((1, 2), key=lambda c: int((lead[c] > 0.2).sum()))
        else:
            channel = _NAMED_SCREENS[screen]
        candidates = lead[channel] > 0.2
        if candidates.sum() < 50:
            candidates = lead[channel] > 0.05
        if candidates.sum() < 50:
            raise InputError(f"found no {('green', 'blue')[channel - 1]} screen in the image")

    features = chroma[candidates][:, :2]
    cluster_centres, labels = kmeans(features, count_distinct(features.round(4), 3))
    # The screen is the purest of the large clusters: a subject's mixes with it (a veil,
    # spill, soft edges) are paler, and may cover more of the frame than bare screen does.
    counts = np.bincount(labels)
    centres = np.column_stack([cluster_centres, 1.0 - cluster_centres.sum(axis=1)])
    purity = centres[:, channel] - np.delete(centres, channel, axis=1).max(axis=1)
    large = np.flatnonzero(counts >= 0.25 * counts.max())
    chosen = large[np.argmax(purity[large])]
    members = labels == chosen
    screen_rgb = np.median(sample[candidates][members], axis=0).astype(np.float32)
    centre = cluster_centres[chosen]
    spread = np.linalg.norm(features[members] - centre, axis=-1)
    tolerance = float(np.clip(3.0 * np.percentile(spread, 90), 0.03, 0.12))
    return screen_rgb, channel, tolerance


# 2. Clean plate -------------------------------------------------------------------
def _screen_weight(rgb: np.ndarray, screen: Screen) -> np.ndarray:
    """(H, W) float32 in 0..1: how surely each pixel is bare screen (by chromaticity)."""
    ref = _chromaticity(np.asarray(screen.rgb, np.float32))
    chroma = _chromaticity(rgb)
    r, g = chroma[..., 0] - ref[0], chroma[..., 1] - ref[1]
    dist = np.sqrt(r * r + g * g)  # the distance np.linalg.norm gives, without its slow sum over an axis of 2
    return np.clip(1.0 - dist / screen.chroma_tolerance, 0.0, 1.0).astype(np.float32)


def _push_pull(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Fill where ``weight`` is 0 by pyramid push-pull; keep weighted means elsewhere."""
    if min(weight.shape[:2]) <= 2:
        total = max(float(weight.sum()), 1e-6)
        mean = (values * weight[..., None]).sum(axis=(0, 1)) / total
        return np.broadcast_to(mean, values.shape).astype(np.float32)
    small_num = cv2.pyrDown(values * weight[..., None])
    small_w = cv2.pyrDown(weight)
    coarse = _push_pull(small_num / np.maximum(small_w, 1e-6)[..., None], small_w)
    up = cv2.pyrUp(coarse, dstsize=(values.shape[1], values.shape[0]))
    w = np.clip(weight, 0.0, 1.0)[..., None]
    return (w * values + (1.0 - w) * up).astype(np.float32)


def _clean_plate(rgb: np.ndarray, screen: Screen, scale: int, hint: np.ndarray | None) -> np.ndarray:
    """Low-resolution (h, w, 3) linear colour of the bare screen behind every pixel of this frame."""
    h, w = rgb.shape[:2]
    scale = max(1, min(scale, max(h, w) // 64))  # small images: keep at least 64 plate pixels across
    size = (max(1, w // scale), max(1, h // scale))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    weight = _screen_weight(small, screen)
    # Stay one low-res pixel away from the subject: its edges mix in foreground colour.
    weight = cv2.erode(weight, np.ones((3, 3), np.uint8))
    if hint is not None:
        weight *= 1.0 - cv2.resize(hint.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    plate_sum = small * weight[..., None]
    mean = plate_sum / np.maximum(weight, 1e-6)[..., None]
    # The light's broad shape (gradient, vignette) is a smooth surface that carries on under
    # the subject; push-pull fills the rest (texture, local swells) from the nearest screen.
    surface = _light_surface(mean, weight)
    return surface + _push_pull(mean - surface, np.clip(weight * 4.0, 0.0, 1.0))


def _light_surface(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(h, w, 3) surface, up to quadratic in x and y, fitted to ``values`` by weighted least squares.

    ``x`` and ``y`` run over -0.5..0.5 across the frame. A term is fitted only where the
    screen (the pixels with weight) spans enough of the frame along its axes to fix it: a
    slope from a weighted standard deviation of SLOPE_SPAN (a strip about a tenth of the
    frame wide), a curvature from CURVE_SPAN (about a quarter). Otherwise the fit stays
    flat or planar along that axis: a plane carries a gradient on exactly, while a curve
    fitted to one edge of the frame overshoots at the other. A light ridge on the
    curvatures keeps weakly fixed ones small.
    """
    h, w = weight.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = x / max(w - 1, 1) - 0.5, y / max(h - 1, 1) - 0.5
    total = max(float(weight.sum()), 1e-6)
    span = [float(np.sqrt(np.sum(weight * (c - np.sum(weight * c) / total) ** 2) / total)) for c in (x, y)]
    slope = [s > SLOPE_SPAN for s in span]
    curve = [s > CURVE_SPAN for s in span]
    terms = [(np.ones_like(x), True, 0.0), (x, slope[0], 0.0), (y, slope[1], 0.0),
             (x * x, curve[0], 1.0), (x * y, curve[0] and curve[1], 1.0), (y * y, curve[1], 1.0)]
    basis = np.stack([term for term, used, _ in terms if used], -1).reshape(-1, sum(used for _, used, _ in terms))
    ridge = np.diag([penalty for _, used, penalty in terms if used])
    weighted = basis * weight.reshape(-1, 1)
    normal = weighted.T @ basis + 1e-5 * (total + 1.0) * ridge
    coefficients = np.linalg.solve(normal + 1e-9 * np.eye(len(ridge)), weighted.T @ values.reshape(-1, 3))
    return (basis @ coefficients).reshape(h, w, 3).astype(np.float32)


# 3. Unmixing ----------------------------------------------------------------------
def _difference_alpha(rgb: np.ndarray, plate_small: np.ndarray, channel: int) -> np.ndarray:
    """(H, W) alpha from the colour difference (Vlahos), solved exactly against the plate.

    A foreground is taken to be no more screen-coloured than neutral: its screen channel
    does not exceed either other channel. The least alpha for which
    ``F = (I - (1 - alpha) B) / alpha`` obeys that is, per other channel ``c``,
    ``1 - (I_s - I_c) / (B_s - B_c)``, and the larger of the two. That is linear in the
    mix, so exact for a neutral foreground at any alpha. (The classic form,
    ``1 - (I_s - max(I_c)) / (B_s - max(B_c))``, takes the max of each side separately and
    reads a white veil over a green screen about a third too transparent.) No form is
    exact for a sheer region with no opaque neighbour of its own colour: every alpha on
    the line from the screen through its colour fits it, and this one reads a warm veil
    (red above green) as more opaque than it is. A channel that the screen barely leads
    (``B_s - B_c`` under a quarter of the larger lead) is not used. ``plate_small`` is
    the clean plate at low resolution; all linear.
    """
    size = (rgb.shape[1], rgb.shape[0])
    others = [c for c in range(3) if c != channel]
    leads = [plate_small[..., channel] - plate_small[..., c] for c in others]
    floor = np.maximum(0.25 * np.maximum(*leads), 1e-4)
    alpha = np.zeros(rgb.shape[:2], np.float32)
    screen_plane = cv2.extractChannel(rgb, channel)  # contiguous, extracted once
    for c, lead in zip(others, leads):
        usable = cv2.resize((lead >= floor).astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
        lead = cv2.resize(np.maximum(lead, floor), size, interpolation=cv2.INTER_LINEAR)
        alpha_c = cv2.extractChannel(rgb, c)  # then 1 - (screen - it) / lead, in place
        cv2.subtract(screen_plane, alpha_c, dst=alpha_c)
        np.divide(alpha_c, lead, out=alpha_c)
        np.subtract(1.0, alpha_c, out=alpha_c)
        np.maximum(alpha, np.multiply(alpha_c, usable, out=alpha_c), out=alpha)
    return np.clip(alpha, 0.0, 1.0, out=alpha)


def _unmix(rgb: np.ndarray, plate: np.ndarray, plate_small: np.ndarray, screen: Screen) -> tuple[np.ndarray, float]:
    """(H, W) alpha: colour difference against the plate, then a shading-model unmix; and
    the alpha noise floor (three times the spread of alpha over bare screen, 1e-3..0.3).

    ``plate`` is the clean plate at full resolution, ``plate_small`` the model it was
    interpolated from (smooth quantities of the plate are computed there).
    """
    full = lambda x: cv2.resize(x, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)  # noqa: E731
    alpha = _difference_alpha(rgb, plate_small, screen.channel)

    # Noise floor: the spread of alpha over bare screen (sensor noise, fabric texture).
    step = _grid_step(alpha, FLOOR_SAMPLE)
    bare = _screen_weight(rgb[::step, ::step], screen) > 0.9
    floor = float(np.clip(3.0 * np.std(alpha[::step, ::step][bare]), 1e-3, 0.3)) if bare.sum() > 100 else 1e-3
    # Specks of the screen's grain that clear the floor are not subject: cleared before the band is chosen.
    _clear_noise_specks(alpha, _noise_peak(rgb, alpha, plate_small, screen), floor)

    # Foreground colour behind the soft pixels: the nearest surely opaque colour, i.e.
    # push-pull from the interior of the opaque region (one pixel in from its edge).
    interior = cv2.erode((alpha >= WHITE).astype(np.uint8), np.ones((3, 3), np.uint8))
    # Subjects coloured like the screen (a green plant) fail the colour difference; their
    # cores still stand out as the pixels farthest from the plate within a small
    # neighbourhood, with the screen close by. A structure narrower than the window (a
    # leaf, a strand) counts when it is CORE_CONTRAST of the plate's brightness off it
    # (a yellow-green leaf on a pale green screen is about 0.4); the edge of a broad
    # region must be twice that far off, since a broad even mix (tinted glass, a sheer
    # sheet) looks the same there as an opaque colour does.
    difference = cv2.subtract(rgb, plate)
    distance = cv2.sqrt(_channel_sum(cv2.multiply(difference, difference, dst=difference)))
    del difference  # frame-sized: not kept through the rest
    contrast = distance / np.maximum(full(cv2.sqrt(_channel_sum(plate_small * plate_small))), 1e-6)
    window = np.ones((7, 7), np.uint8)
    thin = cv2.morphologyEx(distance, cv2.MORPH_OPEN, window) < 0.25 * distance
    edge = cv2.erode(distance, window) < 0.25 * distance
    core = (distance >= 0.98 * cv2.dilate(distance, window)) & (
        (thin & (contrast > CORE_CONTRAST)) | (edge & (contrast > 2.0 * CORE_CONTRAST))
    )
    interior |= core.astype(np.uint8)
    alpha[core] = 1.0
    # A translucent mix of a warm subject (blond hair, tan fur) passes the colour difference
    # as opaque, and so does the screen-tinted outer rim of a hair mass: seeds taken at face
    # value give the soft pixels beside them a subject colour that already carries screen,
    # against which they unmix too opaque. So the subject colour leans to the seeds least
    # mixed with the screen: those nearly as far from the plate as the farthest seed
    # within SEED_REACH (sample-based matting's "best foreground sample", softened), and the
    # interior's outer SEED_RING pixels are unmixed against it instead of being taken as opaque.
    seed_weight = _purity(contrast, interior)
    ring = (interior == 1) & (cv2.erode(interior, np.ones((2 * SEED_RING + 1,) * 2, np.uint8)) == 0) & ~core
    del distance, contrast, thin, edge, core  # frame-sized, done with

    # The band: neither surely screen nor surely opaque, and the interior's rim. Work on its pixels only.
    band = np.flatnonzero(((alpha > floor) & (interior == 0)) | ring)
    alpha_band, plate_band = alpha.reshape(-1)[band], _pixels(plate, band)
    del plate, ring  # the caller made the plate for this call: frame-sized, done with
    alpha[interior == 0] = 0.0
    colour = _seed_colour(rgb, interior, band, seed_weight)
    del seed_weight
    solved, trust = _shading_unmix(_pixels(rgb, band), plate_band, colour)
    # Where the shading model fails (a colour unlike its neighbours) keep the colour difference.
    unmixed = np.clip(trust * solved + (1.0 - trust) * alpha_band, 0.0, 1.0)
    # Below the noise floor alpha goes to 0; between one and two floors it ramps back
    # to the unmixed value, so soft edges above the noise keep their measured alpha.
    alpha.reshape(-1)[band] = _above_floor(unmixed, floor)
    return alpha, floor


def _noise_peak(rgb: np.ndarray, alpha: np.ndarray, plate_small: np.ndarray, screen: Screen) -> float:
    """The highest the screen's noise takes the colour-difference ``alpha`` (0..1): its
    standard deviation over bare screen times ``sqrt(2 ln n)``, the expected largest of
    ``n`` normal draws, ``n`` the bare screen's pixels.

    Bare screen is taken by region, where the image at the plate's resolution is screen
    (weight over 0.5, one plate pixel in from anything else), not pixel by pixel: a pixel
    whose noise moves its colour off the screen's would otherwise be left out, and with it
    the noise. Over bare screen ``alpha`` is noise about 0 clipped at 0, so its standard
    deviation is read above 0, as the 84th percentile (the standard deviation of the
    clipped values is about 0.6 of the noise's).
    """
    step = _grid_step(alpha, FLOOR_SAMPLE)
    sample = alpha[::step, ::step]
    small = cv2.resize(rgb, (plate_small.shape[1], plate_small.shape[0]), interpolation=cv2.INTER_AREA)
    region = cv2.erode((_screen_weight(small, screen) > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8))
    bare = cv2.resize(region, (sample.shape[1], sample.shape[0]), interpolation=cv2.INTER_NEAREST) == 1
    if bare.sum() <= 100:
        return 0.0
    count = bare.mean() * alpha.size
    return float(np.percentile(sample[bare], 84.13) * np.sqrt(2.0 * np.log(count)))


def _clear_noise_specks(alpha: np.ndarray, peak: float, floor: float) -> None:
    """Set to 0, in place, each piece of ``alpha`` above ``floor`` (8-connected) that
    nowhere rises above ``peak``, the highest the screen's noise reaches: a speck of the
    screen's grain, not subject. Faint alpha joined to alpha above the noise is kept (the
    two thresholds of a hysteresis), so soft edges keep the floor's reach."""
    count, labels = cv2.connectedComponents(cv2.compare(alpha, floor, cv2.CMP_GT), connectivity=8)
    if count <= 1:
        return
    subject = np.zeros(count, np.uint8)
    subject[labels[alpha > peak]] = 1
    subject[0] = 1  # label 0 is everything at or under the floor, left as it is
    np.multiply(alpha, np.take(subject, labels), out=alpha)


def _above_floor(alpha: np.ndarray, floor: float) -> np.ndarray:
    """Alpha 0 below the noise ``floor``, ramping back to its value at two floors (so soft
    edges above the noise keep their measured alpha)."""
    return alpha * np.clip(alpha / np.float32(floor) - 1.0, 0.0, 1.0)


def _seed_colour(rgb: np.ndarray, seeds: np.ndarray, pixels: np.ndarray,
                 weight: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) colour of the nearest ``seeds`` pixels at the flat indices ``pixels``.

    ``seeds`` is an (H, W) uint8 mask; their colour is pushed out by push-pull at
    1/``SEED_SCALE`` of the image size and looked up there. With ``weight`` ((H, W) float32
    0..1, 0 off the seeds) each seed's colour counts by its weight within the area it
    covers (where the seeds are is still ``seeds``).
    """
    h, w = seeds.shape
    size = (max(1, w // SEED_SCALE), max(1, h // SEED_SCALE))
    small_w = cv2.resize(seeds.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    if weight is None:
        small_fg = cv2.resize(cv2.bitwise_and(rgb, rgb, mask=seeds), size, interpolation=cv2.INTER_AREA)
        colour = small_fg / np.maximum(small_w, 1e-6)[..., None]
    else:
        small_fg = cv2.resize(np.multiply(rgb, weight[..., None]), size, interpolation=cv2.INTER_AREA)
        colour = small_fg / np.maximum(cv2.resize(weight, size, interpolation=cv2.INTER_AREA), 1e-30)[..., None]
    seed = _push_pull(colour, np.minimum(small_w * 16.0, 1.0))
    ys, xs = np.divmod(pixels, w)
    return seed[np.minimum(ys // SEED_SCALE, size[1] - 1), np.minimum(xs // SEED_SCALE, size[0] - 1)]


def _purity(contrast: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """(H, W) float32 weight 0..1 of each seed as a sample of the subject's own colour.

    A mix ``alpha F + (1 - alpha) B`` lies ``alpha |F - B|`` from the plate, so among nearby
    seeds the least mixed stand farthest off it: the weight is a seed's ``contrast``
    (distance to the plate over the plate's brightness) over the largest within SEED_REACH
    pixels, to the power SEED_PURITY, and at least 1e-20 (so seeds that all stand well
    short of a brighter neighbour still give their own mean colour), 0 off the seeds. Taken
    relative to its neighbours, a dark region and a bright one count alike.
    """
    weight = cv2.bitwise_and(contrast, contrast, mask=seeds)  # then in place: two frame-sized buffers at most
    local = cv2.dilate(weight, np.ones((2 * SEED_REACH + 1,) * 2, np.uint8))
    cv2.divide(weight, np.maximum(local, np.float32(1e-6), out=local), dst=weight)
    del local
    cv2.pow(np.minimum(weight, 1.0, out=weight), SEED_PURITY, dst=weight)
    np.maximum(weight, np.float32(1e-20), out=weight)
    return np.multiply(weight, seeds, out=weight)


def _shading_unmix(image: np.ndarray, plate: np.ndarray, colour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alpha of (N, 3) pixels under the shading model, and how far to trust it (0..1).

    The foreground behind a pixel has the chromaticity of ``colour`` (the nearby subject
    colour) but any brightness k. Then ``I - B = (alpha k) c - alpha B``: two unknowns per
    pixel, solved by least squares (2x2 normal equations). Trust is high where the model
    is well conditioned (c not parallel to B) and explains the pixel. All (N, 3) linear.
    """
    c = _chromaticity(colour)
    b = plate
    r = image - b
    dot = lambda x, y: x[:, 0] * y[:, 0] + x[:, 1] * y[:, 1] + x[:, 2] * y[:, 2]  # noqa: E731
    cc, cb, bb, rc, rb = dot(c, c), dot(c, b), dot(b, b), dot(r, c), dot(r, b)
    det = cc * bb - cb * cb
    safe_det = np.maximum(det, 1e-9)
    solved = (cb * rc - cc * rb) / safe_det
    brightness = (bb * rc - cb * rb) / safe_det
    residual = r - brightness[:, None] * c + solved[:, None] * b
    misfit = dot(residual, residual) / np.maximum(dot(r, r), 1e-9)
    # The model is no explanation when the mix is impossible: a negative alpha, or a
    # foreground (brightness / alpha) far brighter than the nearby colour it shades. Both
    # happen when that colour belongs to another object, e.g. beside a sheer veil. (Alpha
    # a little above 1 is noise on an opaque pixel, and is clipped.)
    shading = brightness / np.maximum(solved * _rgb_total(colour), 1e-6)
    trust = (np.clip(1.0 - misfit / 0.05, 0.0, 1.0) * (det > 0.05 * cc * bb)
             * np.clip(1.0 + solved / 0.05, 0.0, 1.0) * np.clip(2.0 - shading / MAX_SHADING, 0.0, 1.0))
    return solved, trust


# 4. Refinement --------------------------------------------------------------------
def _refine(rgb: np.ndarray, alpha: np.ndarray, radius: int, scale: int = 3, eps: float = 3e-5) -> np.ndarray:
    """Colour guided filter of alpha (He, Sun and Tang, "Guided Image Filtering", 2010).

    Alpha is modelled in each window as a linear function of the colour, the local
    model behind closed-form matting; the filter fits it by ridge regression with box
    filters and averages the overlapping fits. The fits are made at 1/``scale``
    resolution (He and Sun, "Fast Guided Filter", 2015; ``radius`` is in those pixels)
    and applied at full resolution, and only to the uncertain band: pixels whose alpha
    is 0 or 1 in a whole window keep it. ``eps`` is the ridge weight, in squared linear
    colour units (3e-5, chosen on the keying benchmark's dev split and the boil of a static
    noisy shot: bench/keying/README.md; a smaller eps fits the grain more, a wider default
    radius measured better on dev but read a spilled solid edge as translucent).
    """
    h, w = alpha.shape
    coefficients = cv2.resize(_guided_fit(rgb, alpha, radius, scale, eps), (w, h), interpolation=cv2.INTER_LINEAR)

    soft = ((alpha > 0.0) & (alpha < 1.0)).astype(np.uint8)
    band = cv2.dilate(soft, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
    out = alpha.copy()
    pixels = np.flatnonzero(band)  # applied on the band's pixels only: its cost follows the band, not the frame
    k, i = np.take(coefficients.reshape(-1, 4), pixels, axis=0), _pixels(rgb, pixels)
    refined = k[:, 0] * i[:, 0] + k[:, 1] * i[:, 1] + k[:, 2] * i[:, 2] + k[:, 3]
    out.reshape(-1)[pixels] = np.clip(refined, 0.0, 1.0)
    return out


def _guided_fit(rgb: np.ndarray, alpha: np.ndarray, radius: int, scale: int, eps: float) -> np.ndarray:
    """``_refine``'s fit: ``(h, w, 4)`` at 1/``scale`` resolution, each window's linear model
    of alpha in the colour (``a_r, a_g, a_b, b``), averaged over the windows that cover each
    pixel. Its many low-resolution temporaries end with it."""
    h, w = alpha.shape
    small = (max(1, w // scale), max(1, h // scale))
    guide = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
    target = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)
    box = lambda x: cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1))  # noqa: E731
    mean_i = box(guide)
    mean_a = box(target)
    cov_ia = box(guide * target[..., None]) - mean_i * mean_a[..., None]
    # Colour covariance per window plus eps * identity: six distinct entries.
    r, g, b = guide[..., 0], guide[..., 1], guide[..., 2]
    mr, mg, mb = mean_i[..., 0], mean_i[..., 1], mean_i[..., 2]
    products = box(cv2.merge([r * r, r * g, r * b, g * g, g * b, b * b]))
    srr = products[..., 0] - mr * mr + eps
    srg = products[..., 1] - mr * mg
    srb = products[..., 2] - mr * mb
    sgg = products[..., 3] - mg * mg + eps
    sgb = products[..., 4] - mg * mb
    sbb = products[..., 5] - mb * mb + eps
    # a = sigma^-1 cov_ia, by the symmetric 3x3 adjugate; b = mean alpha - a . mean colour.
    irr, irg, irb = sgg * sbb - sgb * sgb, sgb * srb - srg * sbb, srg * sgb - sgg * srb
    igg, igb, ibb = srr * sbb - srb * srb, srg * srb - srr * sgb, srr * sgg - srg * srg
    inv_det = 1.0 / (srr * irr + srg * irg + srb * irb)
    cr, cg, cb = cov_ia[..., 0], cov_ia[..., 1], cov_ia[..., 2]
    ar = (irr * cr + irg * cg + irb * cb) * inv_det
    ag = (irg * cr + igg * cg + igb * cb) * inv_det
    ab = (irb * cr + igb * cg + ibb * cb) * inv_det
    offset = mean_a - ar * mr - ag * mg - ab * mb
    return box(cv2.merge([ar, ag, ab, offset]))


def _clip(alpha: np.ndarray, black: float = 0.0, white: float = WHITE, knee: float = KNEE) -> np.ndarray:
    """Soft clip black and white: alpha from ``knee`` up stretched linearly so ``white``
    maps to 1, below it so ``black`` maps to 0 (clipped); ``knee`` itself stays."""
    slope = (1.0 - knee) / (white - knee)
    high = cv2.min(alpha * np.float32(slope) + np.float32(knee * (1.0 - slope)), 1.0)
    out = cv2.max(alpha, high)  # below the knee the stretch is the smaller
    if black > 0.0:
        low = cv2.max((alpha - np.float32(black)) * np.float32(knee / (knee - black)), 0.0)
        out = np.where(alpha < knee, low, out).astype(np.float32)
    return out


# 5. Despeckle ---------------------------------------------------------------------
def _despeckle(alpha: np.ndarray, area: int) -> np.ndarray:
    """Remove opaque specks and transparent holes smaller than ``area`` pixels.

    A speck is a connected region of non-zero alpha (8-connected) whose solid part,
    alpha >= 0.5, covers fewer than ``area`` pixels; it is cleared, soft rim included.
    A hole is the same for alpha below 1 and alpha < 0.5; it is filled.
    """
    out = alpha.copy()
    for region, solid, value in ((alpha > 0.0, alpha >= 0.5, 0.0), (alpha < 1.0, alpha < 0.5, 1.0)):
        _, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
        solid_area = np.bincount(labels.ravel(), weights=solid.ravel())
        small = solid_area < area
        small[0] = False  # label 0 is everything outside the regions
        out[small[labels]] = value
    return out


# 6. Spill -------------------------------------------------------------------------
def _spill_fraction(rgb: np.ndarray, plate_small: np.ndarray, alpha: np.ndarray, radius: float | None = None,
                    max_spill: float = MAX_SPILL) -> tuple[np.ndarray, float | None]:
    """(H, W) float32 in 0..``max_spill``: the share of the screen in each subject pixel's
    colour; and the spill radius used (None when there was no spill to measure).

    Screen light bounced onto the subject mixes the plate into the foreground,
    ``S = (1 - w) F + w B``, which looks exactly like transparency. A pixel takes more of
    it the more screen surrounds it: a strand with screen all round more than the edge of
    a solid subject. So ``w = s * share``, with ``share`` the screen's share of the pixel's
    surroundings (a Gaussian blur of ``1 - alpha`` whose sigma is ``radius`` of the image
    diagonal) and ``s`` the spill of a pixel surrounded by screen. Both are measured where
    ``w`` can be seen directly: on the opaque pixels near the edge (within
    ``depth_limit``, 1/60 of the image size), where ``1 - w`` is the shading-model alpha
    (``_shading_unmix``) against the subject's colour deeper inside. ``s`` is their
    median ratio to the share; without a ``radius`` (a still, or a frame keyed against
    its own screen) it is the one of SPILL_RADII whose share follows the measurements best
    (correlation), and none is taken out unless the spill grows with the share. The model
    carries the spill into the soft band, where it cannot be told from transparency pixel
    by pixel. Measured at half resolution; ``rgb`` and the
    low-resolution clean plate ``plate_small`` are scene-linear, alpha straight 0..1.
    """
    h, w = alpha.shape
    half = (max(1, w // 2), max(1, h // 2))
    image = cv2.resize(rgb, half, interpolation=cv2.INTER_AREA)
    screen = cv2.resize(plate_small, half, interpolation=cv2.INTER_LINEAR)
    depth_limit = max(2.0, max(half) / 60.0)  # in half-resolution pixels
    opaque = cv2.resize((alpha >= 0.98).astype(np.uint8), half, interpolation=cv2.INTER_NEAREST)
    depth = cv2.distanceTransform(opaque, cv2.DIST_L2, 3)
    zone = np.flatnonzero((opaque == 1) & (depth <= depth_limit))
    none = np.zeros_like(alpha), None
    if not zone.size:
        return none
    colour = _seed_colour(image, (depth > depth_limit).astype(np.uint8), zone)
    solved, trust = _shading_unmix(_pixels(image, zone), _pixels(screen, zone), colour)
    measured = 1.0 - solved

    clear = 1.0 - cv2.resize(alpha, half, interpolation=cv2.INTER_AREA)
    fits = []  # (correlation, radius, share, spill per unit share)
    for candidate in (radius,) if radius is not None else SPILL_RADII:
        share = cv2.GaussianBlur(clear, (0, 0), candidate * float(np.hypot(*half)) + 0.5)
        seen = share.reshape(-1)[zone]
        usable = (trust > 0.5) & (seen > 0.05)
        if usable.sum() < 20 or np.ptp(seen[usable]) == 0 or np.ptp(measured[usable]) == 0:
            continue
        strength = max(float(np.median(measured[usable] / seen[usable])), 0.0)
        fits.append((np.corrcoef(measured[usable], seen[usable])[0, 1], candidate, share, strength))
    fit, chosen, share, strength = max(fits, key=lambda fit: fit[0], default=(0.0, None, None, 0.0))
    if not fit > 0:  # no spill, or none that grows with the screen around: nothing to take out
        return none
    field = np.clip(strength * share, 0.0, max_spill)
    return cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR), chosen
