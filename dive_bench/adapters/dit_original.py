"""Original-format DiT / SiT checkpoints (``DiT-XL-2-256x256.pt``) converted in memory to diffusers.

Most DiT and SiT users hold the state dicts the original code saves (facebookresearch/DiT,
willisma/SiT: the same module layout), not diffusers folders. We read them with
``torch.load(weights_only=True, mmap=True)`` (tensors only, never an arbitrary pickle), or as
.safetensors once the header is checked against the file's length, and rename the keys
the way diffusers' ``scripts/convert_dit_to_diffusers.py`` does, into the
``DiTTransformer2DModel`` our ``dit`` adapter already wraps. Two details make the converted model
compute the original forward rather than diffusers' approximation of it: the original LayerNorms
use eps 1e-6 (diffusers' DiT default is 1e-5) and its timestep frequencies are
``exp(-ln(1e4) i / half)`` (diffusers' DiT embedder uses ``/(half - 1)``); both are set on the
built model. The stored ``pos_embed`` is copied in as is.

Spec: ``dit:PATH.pt`` with optional ``?key=value&key=value`` options (see ``OPTIONS``). What the
weights cannot tell: the number of attention heads (DiT and SiT use 16 at every size: the
default) and, for a latent model, which VAE decodes it.

Before anything else (the VAE download included) every tensor is checked by name and shape
against the architecture the file describes: the ranks the sizes are read from (``ANCHORS``),
then the converted model built on the meta device, its shapes named back in the original layout
(``check_original_tensors``). A damaged or foreign file is one line naming the tensor, never
``load_state_dict``'s wall of size mismatches. DiT and SiT files are told apart by their training
args or their name (``check_family``): each prefix refuses the other's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import torch

from dive_bench.adapters.original_files import read_checkpoint, read_state_dict  # noqa: F401  (read_state_dict: public)
from dive_bench.errors import DiveBenchError

#: spec options after ``?``, with what each means
OPTIONS = {
    "heads": "attention heads (not stored in the weights; DiT/SiT use 16 at every size: default 16)",
    "image_size": "pixel side of the images (checked against the stored pos_embed; needed only without one)",
    "num_classes": "classes; default: label-table rows - 1 (the CFG null row of a model trained with label "
                   "dropout, as DiT and SiT are); give the row count for a model trained without dropout",
    "vae": "AutoencoderKL folder or hub id for a latent model (4 input channels; default "
           "stabilityai/sd-vae-ft-ema, as diffusers' conversion), or 'none' to score in latent space",
}
SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")
DEFAULT_VAE = "stabilityai/sd-vae-ft-ema"
#: keys of one original block, after ``blocks.N.``
BLOCK_KEYS = ("attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
              "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
              "adaLN_modulation.1.weight", "adaLN_modulation.1.bias")
TOP_KEYS = ("x_embedder.proj.weight", "x_embedder.proj.bias", "t_embedder.mlp.0.weight", "t_embedder.mlp.0.bias",
            "t_embedder.mlp.2.weight", "t_embedder.mlp.2.bias", "y_embedder.embedding_table.weight",
            "final_layer.linear.weight", "final_layer.linear.bias",
            "final_layer.adaLN_modulation.1.weight", "final_layer.adaLN_modulation.1.bias")


def split_spec(source: str) -> tuple[str, dict[str, str]]:
    """``PATH?key=value&...`` -> (PATH, options); unknown option names are refused."""
    path, _, query = source.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else {}
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise DiveBenchError(f"unknown option(s) {', '.join(unknown)} in model spec {source!r}; "
                             f"original-format checkpoints take {', '.join(f'{k}=' for k in OPTIONS)}")
    return path, options


def is_original_file(source: str) -> bool:
    """A single weights file (not a diffusers folder or hub id) names an original-format checkpoint."""
    path = Path(source.partition("?")[0]).expanduser()
    return path.is_file() or (path.suffix in SUFFIXES and not path.is_dir())


def _int_option(options: dict[str, str], key: str) -> int | None:
    if key not in options:
        return None
    try:
        value = int(options[key])
    except ValueError:
        value = 0
    if value <= 0:
        raise DiveBenchError(f"model option {key}={options[key]!r} must be a positive integer")
    return value


@dataclass(frozen=True)
class OriginalConfig:
    """What the original DiT constructor was called with, read off the weights (and options)."""

    depth: int
    hidden: int
    patch: int
    in_channels: int
    out_channels: int
    sample_size: int
    num_classes: int
    table_rows: int
    heads: int

    @property
    def learn_sigma(self) -> bool:
        return self.out_channels == 2 * self.in_channels


NOT_DIT_FIX = ("dit:FILE.pt takes facebookresearch/DiT or SiT weights (x_embedder, t_embedder, y_embedder, "
               "blocks.N, final_layer); for a diffusers DiT pass its folder as dit:DIR")
#: tensor ranks the configuration is read from, and what their dimensions are
ANCHORS = {"x_embedder.proj.weight": (4, "(hidden, channels, patch, patch)"),
           "final_layer.linear.weight": (2, "(patch^2 x out channels, hidden)"),
           "y_embedder.embedding_table.weight": (2, "(label rows, hidden)")}
#: at most this many tokens (DiT-XL/2 at 512x512 has 1024): larger would allocate a position table
#: from an option alone
MAX_TOKENS = 2 ** 16


def check_layout(sd: dict[str, torch.Tensor], path: Path) -> int:
    """The block count, once every original key is present and nothing else is (one-line error)."""
    from dive_bench.models.checkpoint import check_tensors

    depth = len({int(m.group(1)) for k in sd if (m := re.match(r"blocks\.(\d+)\.", k))})
    expected = dict.fromkeys(set(TOP_KEYS) | {f"blocks.{i}.{k}" for i in range(depth) for k in BLOCK_KEYS})
    if "pos_embed" in sd:
        expected["pos_embed"] = None
    if depth == 0:
        expected.update(dict.fromkeys(f"blocks.0.{k}" for k in BLOCK_KEYS))
    check_tensors({k: tuple(v.shape) for k, v in sd.items()}, expected,
                  f"{path} is not an original DiT/SiT state dict", NOT_DIT_FIX)
    return depth


def _check_anchors(sd: dict[str, torch.Tensor], path: Path) -> None:
    """The tensors the configuration is read from have the rank that reading assumes."""
    for key, (rank, dims) in ANCHORS.items():
        shape = tuple(sd[key].shape)
        if len(shape) != rank or 0 in shape:
            raise DiveBenchError(f"{path}: tensor {key} has shape {shape_text(shape)}, expected {rank} non-zero "
                                 f"dimensions {dims}; the file is damaged or not a DiT/SiT checkpoint")
    w = sd["x_embedder.proj.weight"].shape
    if w[2] != w[3]:
        raise DiveBenchError(f"{path}: tensor x_embedder.proj.weight has shape {shape_text(tuple(w))}, expected square "
                             "patches (hidden, channels, patch, patch); the file is damaged or not a DiT/SiT checkpoint")
    if "pos_embed" in sd:
        shape = tuple(sd["pos_embed"].shape)
        if len(shape) not in (2, 3) or (len(shape) == 3 and shape[0] != 1):
            raise DiveBenchError(f"{path}: tensor pos_embed has shape {shape_text(shape)}, expected (1, tokens, "
                                 f"{w[0]}); the file is damaged or not a DiT/SiT checkpoint")


def shape_text(shape: tuple[int, ...]) -> str:
    from dive_bench.models.checkpoint import shape_text as text

    return text(shape)


def _size_from_name(path: Path) -> int | None:
    match = re.search(r"(\d+)x\1(?!\d)", path.name)
    return int(match.group(1)) if match else None


def infer_config(sd: dict[str, torch.Tensor], path: Path, options: dict[str, str],
                 downsample: int | None) -> OriginalConfig:
    """Depth, width, patch, channels, classes from tensor shapes; sample size from pos_embed
    (else ``image_size`` or the ``-256x256`` in the file name); heads from the options.

    ``downsample`` None: the VAE is not loaded yet (tensors are checked before it is fetched), so
    ``image_size`` is taken as the model's input size and not compared with the stored pos_embed."""
    depth = check_layout(sd, path)
    _check_anchors(sd, path)
    hidden, in_channels, patch, _ = sd["x_embedder.proj.weight"].shape
    out_features = sd["final_layer.linear.weight"].shape[0]
    out_channels, rem = divmod(out_features, patch * patch)
    if rem or out_channels not in (in_channels, 2 * in_channels):
        raise DiveBenchError(f"{path}: final_layer.linear has {out_features} outputs, not patch^2 x (1 or 2) x "
                             f"{in_channels} channels; the file is not a DiT/SiT checkpoint")
    rows = sd["y_embedder.embedding_table.weight"].shape[0]
    num_classes = _int_option(options, "num_classes") or rows - 1
    if num_classes not in (rows, rows - 1) or num_classes < 1:
        raise DiveBenchError(f"{path}: num_classes={num_classes} but the label table has {rows} rows "
                             f"(num_classes + 1 with the CFG null row, or num_classes without)")
    image_size = _int_option(options, "image_size") or _size_from_name(path)
    sample = image_size // (downsample or 1) if image_size else None
    if "pos_embed" in sd:
        tokens = sd["pos_embed"].shape[-2]
        side = math.isqrt(tokens)
        stored = side * patch
        if side * side != tokens or sd["pos_embed"].shape[-1] != hidden:
            raise DiveBenchError(f"{path}: tensor pos_embed has shape {shape_text(tuple(sd['pos_embed'].shape))}, "
                                 f"expected (1, side^2, {hidden}); the file is damaged or not a DiT/SiT checkpoint")
        if "image_size" in options and downsample is not None and sample != stored:
            raise DiveBenchError(f"{path}: image_size={image_size} gives {sample}x{sample} model inputs but the "
                                 f"stored pos_embed is for {stored}x{stored}; drop image_size or fix it")
        sample = stored
    if sample is None:
        raise DiveBenchError(f"{path} stores no pos_embed and its name has no -SIZExSIZE: give the image size, "
                             f"e.g. dit:{path}?image_size=256")
    if (sample // patch) ** 2 > MAX_TOKENS:
        raise DiveBenchError(f"{path}: image size {sample} with patch {patch} gives {(sample // patch) ** 2:,} tokens "
                             f"(more than {MAX_TOKENS:,}); give the image_size the model was trained at")
    heads = _int_option(options, "heads") or 16
    if hidden % heads:
        raise DiveBenchError(f"{path}: hidden size {hidden} is not divisible by heads={heads}; give heads=H "
                             "(the value the model was trained with) in the spec")
    return OriginalConfig(depth=depth, hidden=hidden, patch=patch, in_channels=in_channels,
                          out_channels=out_channels, sample_size=sample, num_classes=num_classes,
                          table_rows=rows, heads=heads)


def original_shapes(cfg: OriginalConfig, where: str) -> dict[str, tuple[int, ...] | None]:
    """The original state dict's names and shapes for ``cfg``: the converted model built on the meta
    device, its tensors named back through ``RENAMES`` (``pos_embed`` is checked by ``infer_config``)."""
    from dive_bench.models.checkpoint import expected_shapes

    model = expected_shapes(lambda: build_model(cfg), where)
    out: dict[str, tuple[int, ...] | None] = {old: model[new] for old, new in renames(cfg.depth)}
    hidden = cfg.hidden
    out["y_embedder.embedding_table.weight"] = (cfg.table_rows, hidden)
    for i in range(cfg.depth):
        for part in ("weight", "bias"):
            q = model[f"transformer_blocks.{i}.attn1.to_q.{part}"]
            out[f"blocks.{i}.attn.qkv.{part}"] = (3 * q[0], *q[1:])
    return out


def renames(depth: int) -> list[tuple[str, str]]:
    """(original key, diffusers key) for every tensor copied one to one (the shared t embedder
    goes to every block: the first block's copy is listed)."""
    pairs = [("x_embedder.proj", "pos_embed.proj"), ("final_layer.adaLN_modulation.1", "proj_out_1"),
             ("final_layer.linear", "proj_out_2"),
             ("t_embedder.mlp.0", "transformer_blocks.0.norm1.emb.timestep_embedder.linear_1"),
             ("t_embedder.mlp.2", "transformer_blocks.0.norm1.emb.timestep_embedder.linear_2")]
    block = {"attn.proj": "attn1.to_out.0", "mlp.fc1": "ff.net.0.proj", "mlp.fc2": "ff.net.2",
             "adaLN_modulation.1": "norm1.linear"}
    pairs += [(f"blocks.{i}.{old}", f"transformer_blocks.{i}.{new}") for i in range(depth) for old, new in block.items()]
    return [(f"{old}.{part}", f"{new}.{part}") for old, new in pairs for part in ("weight", "bias")]


def check_original_tensors(sd: dict[str, torch.Tensor], cfg: OriginalConfig, path: Path) -> None:
    """Every tensor's name and shape against the architecture ``cfg`` describes, before the VAE is
    fetched or the model is built (a wrong qkv is one line, not load_state_dict's 36)."""
    from dive_bench.models.checkpoint import check_tensors

    expected = original_shapes(cfg, str(path))
    if "pos_embed" in sd:  # optional (a size option stands in for it); its shape is checked by infer_config
        expected["pos_embed"] = None
    check_tensors({k: tuple(v.shape) for k, v in sd.items()}, expected, str(path),
                  f"the file is damaged or not a DiT/SiT checkpoint of this size (hidden {cfg.hidden}, depth "
                  f"{cfg.depth}, patch {cfg.patch}, heads {cfg.heads})")


def build_model(cfg: OriginalConfig):
    """An empty ``DiTTransformer2DModel`` that computes the original DiT forward (see module doc)."""
    from diffusers import DiTTransformer2DModel

    from dive_bench.models.class_dit import tie

    model = DiTTransformer2DModel(
        num_attention_heads=cfg.heads, attention_head_dim=cfg.hidden // cfg.heads, in_channels=cfg.in_channels,
        out_channels=cfg.out_channels, num_layers=cfg.depth, sample_size=cfg.sample_size, patch_size=cfg.patch,
        num_embeds_ada_norm=cfg.num_classes, norm_eps=1e-6)
    for block in model.transformer_blocks:
        block.norm1.emb.time_proj.downscale_freq_shift = 0  # DiT's timestep_embedding divides by half
    tie(model)  # one label table, as the original y_embedder
    return model


def convert_state_dict(sd: dict[str, torch.Tensor], cfg: OriginalConfig) -> dict[str, torch.Tensor]:
    """Original keys -> diffusers keys (``renames``): the one t/y embedder is repeated in every
    block's norm1.emb, qkv is split into to_q/to_k/to_v; a table without a null row gets a zero one
    (diffusers always has it; the adapter is told it is untrained)."""
    table = sd["y_embedder.embedding_table.weight"]
    if cfg.table_rows == cfg.num_classes:
        table = torch.cat([table, table.new_zeros(1, table.shape[1])])
    out = {new: sd[old] for old, new in renames(cfg.depth)}
    for i in range(cfg.depth):
        dst = f"transformer_blocks.{i}."
        emb = dst + "norm1.emb."
        for part in ("weight", "bias"):
            for name, tensor in zip(("to_q", "to_k", "to_v"), sd[f"blocks.{i}.attn.qkv.{part}"].chunk(3, dim=0)):
                out[f"{dst}attn1.{name}.{part}"] = tensor
            out[f"{emb}timestep_embedder.linear_1.{part}"] = sd[f"t_embedder.mlp.0.{part}"]
            out[f"{emb}timestep_embedder.linear_2.{part}"] = sd[f"t_embedder.mlp.2.{part}"]
        out[f"{emb}class_embedder.embedding_table.weight"] = table
    return out


FAMILIES = {"dit": ("DiT", "a DiT (eps-predicting DDPM) checkpoint, which sit: would score as a flow-matching model"),
            "sit": ("SiT", "a SiT (flow-matching) checkpoint, which dit: would score as an eps-predicting DDPM")}


def check_family(path: Path, args: object, family: str, source: str | None = None) -> None:
    """DiT and SiT files share every key and shape, so what says which one a file is: its training
    ``args.model`` (``DiT-XL/2``, ``SiT-XL/2``) when stored, else its name (``SiT-XL-2-256x256.pt``).
    Scoring one as the other gives plausible, meaningless numbers (an eps model read as velocities
    or the reverse), so each prefix refuses the other's files and names the right one. A name that
    says neither is trusted to the prefix the user chose."""
    declared = getattr(args, "model", None)
    if isinstance(declared, str) and re.match(r"[DS]iT-", declared):
        other, why = declared[:3].lower(), f"its training args say model={declared}"
    else:
        match = re.match(r"([ds]it)[-_.]", path.name, flags=re.IGNORECASE)
        other, why = (match.group(1).lower(), f"its name starts {path.name[:4]}") if match else (family, "")
    if other != family:
        raise DiveBenchError(f"{path} is {FAMILIES[other][1]} ({why}); load it as {other}:{source or path} (if it is in fact "
                             f"a {FAMILIES[family][0]}, rename the file)")


def load_original(source: str, *, name: str, adapter_cls, torch_dtype=None, family: str = "dit"):
    """``dit:PATH.pt?options`` (``family`` dit, or sit) -> an ``adapter_cls`` (DiTAdapter or a
    subclass) around the converted model. Every tensor is checked by name and shape before
    anything else happens (the VAE download included)."""
    from dive_bench.adapters.loading import load_component

    path_text, options = split_spec(source)
    path = Path(path_text).expanduser()
    sd, args = read_checkpoint(path)
    check_family(path, args, family, source)
    check_original_tensors(sd, infer_config(sd, path, options, None), path)
    in_channels = sd["x_embedder.proj.weight"].shape[1]
    vae_source = options.get("vae", DEFAULT_VAE if in_channels == 4 else "none")
    vae = None
    if vae_source.lower() != "none":
        from diffusers import AutoencoderKL

        vae = load_component(AutoencoderKL, vae_source)
    from dive_bench.adapters.base import file_sha256, vae_downsample

    cfg = infer_config(sd, path, options, vae_downsample(vae) if vae is not None else 1)
    model = build_model(cfg)
    model.load_state_dict(convert_state_dict(sd, cfg), strict=True)
    if "pos_embed" in sd:
        model.pos_embed.pos_embed.copy_(sd["pos_embed"].reshape(model.pos_embed.pos_embed.shape).float())
    if torch_dtype is not None:
        model = model.to(torch_dtype)
    return adapter_cls(model, vae=vae, name=name, sha256=file_sha256([path]),
                       null_row=cfg.table_rows > cfg.num_classes)


def refuse_sit_as_dit(source: str) -> None:
    """A ``SiT-...`` file under ``dit:`` (kept for callers that check a spec before loading;
    ``load_original`` checks the file itself, by its training args too: ``check_family``)."""
    check_family(Path(source.partition("?")[0]).expanduser(), None, "dit", source)
