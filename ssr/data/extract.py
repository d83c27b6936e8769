"""`ssr features extract`: item features from pre-trained language and vision models, on a server.

    ssr features extract --text-model DIR [--image-model DIR] --items ITEMS.tsv --out FEATURES.npy

ITEMS.tsv has one item a line, `key<TAB>text[<TAB>image file]` (image paths relative to the TSV's
folder; the layout of UniSRec's `NAME.text`). Models are read from local directories written by
Hugging Face `save_pretrained` (this tool never downloads weights), with `transformers`:

- a BERT-style text encoder (any `AutoModel` with a tokenizer, e.g. bert-base-uncased): the final
  hidden state of the first token ([CLS]), as the benchmark paper's text features;
- a CLIP model (`model_type` "clip", e.g. clip-vit-base-patch32): `get_text_features` for text and
  `get_image_features` for images (the projected embeddings), with its tokenizer and image processor.

Row i of each output is the i-th item of ITEMS.tsv. With one model, `--out FEATURES.npy` is its
(items, dim) float32 matrix; with both, `FEATURES.text.npy` and `FEATURES.image.npy`. Beside them
`FEATURES.index.tsv` (`key<TAB>row`) feeds `ssr data prepare --item-index`. All outputs appear
together or not at all. Batched, in eval mode without gradients, with a progress bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    image: Path | None


def read_items(path: Path, need_images: bool) -> list[Item]:
    """ITEMS.tsv -> items in file order; a malformed line is named by file and line."""
    if not path.is_file():
        raise FileNotFoundError(f"--items {path} not found")
    items, seen = [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3) or not fields[0].strip():
            raise ValueError(f"{path}:{lineno}: expected 'key<TAB>text[<TAB>image file]', got {line[:80]!r}")
        key = fields[0].strip()
        if key in seen:
            raise ValueError(f"{path}:{lineno}: item {key!r} listed twice")
        seen.add(key)
        image = path.parent / fields[2].strip() if len(fields) == 3 and fields[2].strip() else None
        if need_images and (image is None or not image.is_file()):
            raise ValueError(f"{path}:{lineno}: item {key!r} has no image file"
                             f"{'' if image is None else f' ({image} not found)'}; --image-model needs one per item")
        items.append(Item(key, fields[1], image))
    if not items:
        raise ValueError(f"--items {path} lists no items")
    return items


def _load(directory: Path, what: str):
    """(model, its kind "clip" | "text") from a local save_pretrained directory; nothing is downloaded."""
    from transformers import AutoConfig, AutoModel, CLIPModel
    from transformers.utils import logging

    logging.set_verbosity_error()  # its advice on processors is not ours to print

    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"--{what}-model {directory} holds no config.json: point it at a directory written by "
                                "save_pretrained (e.g. a downloaded bert-base-uncased or clip-vit-base-patch32)")
    config = AutoConfig.from_pretrained(directory, local_files_only=True)
    if config.model_type == "clip":
        return CLIPModel.from_pretrained(directory, local_files_only=True).eval(), "clip"
    if what == "image":
        raise ValueError(f"--image-model {directory} is a {config.model_type!r} model; images need a CLIP model")
    return AutoModel.from_pretrained(directory, local_files_only=True).eval(), "text"


def text_features(directory: Path, texts: list[str], batch_size: int, max_length: int,
                  progress: bool = True) -> np.ndarray:
    """(len(texts), dim) float32: [CLS] final hidden states of a BERT-style encoder, or CLIP's
    projected text embeddings."""
    import torch
    from tqdm import tqdm
    from transformers import AutoTokenizer

    model, kind = _load(directory, "text")
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    limit = min(max_length, getattr(model.config, "max_position_embeddings", None)
                or model.config.text_config.max_position_embeddings)
    rows = []
    with torch.no_grad():
        for start in tqdm(range(0, len(texts), batch_size), desc="text features", unit="batch", disable=not progress):
            batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, max_length=limit,
                              return_tensors="pt")
            if kind == "clip":
                rows.append(model.get_text_features(input_ids=batch["input_ids"],
                                                    attention_mask=batch["attention_mask"]))
            else:
                rows.append(model(**batch).last_hidden_state[:, 0])
    return torch.cat(rows).float().numpy()


def image_features(directory: Path, images: list[Path], batch_size: int, progress: bool = True) -> np.ndarray:
    """(len(images), dim) float32: CLIP's projected image embeddings."""
    import torch
    from PIL import Image
    from tqdm import tqdm
    from transformers import AutoImageProcessor

    model, _ = _load(directory, "image")
    processor = AutoImageProcessor.from_pretrained(directory, local_files_only=True)
    rows = []
    with torch.no_grad():
        for start in tqdm(range(0, len(images), batch_size), desc="image features", unit="batch", disable=not progress):
            pictures = []
            for path in images[start:start + batch_size]:
                try:
                    with Image.open(path) as picture:
                        pictures.append(picture.convert("RGB"))
                except OSError as error:
                    raise ValueError(f"image {path} cannot be read ({error})") from None
            pixels = processor(images=pictures, return_tensors="pt")["pixel_values"]
            rows.append(model.get_image_features(pixel_values=pixels))
    return torch.cat(rows).float().numpy()


def output_paths(out: Path, modalities: list[str]) -> dict[str, Path]:
    """modality -> its .npy (OUT itself for one model, OUT.<modality>.npy for two), and "index"."""
    stem = out.with_suffix("")
    paths = {m: out if len(modalities) == 1 else stem.with_name(f"{stem.name}.{m}.npy") for m in modalities}
    return {**paths, "index": stem.with_name(f"{stem.name}.index.tsv")}


def extract(items_path: Path, out: Path, text_model: Path | None = None, image_model: Path | None = None,
            batch_size: int = 32, max_length: int = 128, progress: bool = True) -> dict[str, Path]:
    """Run the models over ITEMS.tsv and write the outputs together; returns their paths."""
    from ssr.io import atomic_paths, refuse_overwriting_inputs

    if text_model is None and image_model is None:
        raise ValueError("give --text-model DIR, --image-model DIR or both")
    if out.suffix != ".npy":
        raise ValueError(f"--out {out} must end in .npy")
    items = read_items(items_path, need_images=image_model is not None)
    modalities = [m for m, given in (("text", text_model), ("image", image_model)) if given is not None]
    paths = output_paths(out, modalities)
    refuse_overwriting_inputs(paths.values(), [items_path, *(i.image for i in items if i.image)])
    matrices = {}
    if text_model is not None:
        matrices["text"] = text_features(text_model, [i.text for i in items], batch_size, max_length, progress)
    if image_model is not None:
        matrices["image"] = image_features(image_model, [i.image for i in items], batch_size, progress)
    names = list(paths)
    with atomic_paths([paths[n] for n in names]) as temps:
        for name, temp in zip(names, temps):
            if name == "index":
                temp.write_text("".join(f"{item.key}\t{row}\n" for row, item in enumerate(items)))
            else:
                with open(temp, "wb") as handle:
                    np.save(handle, matrices[name].astype(np.float32))
    return paths
