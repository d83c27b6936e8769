"""`ssr features extract` on tiny randomly initialised models written with save_pretrained (no
weights can be downloaded here): the real transformers code path, checked against the same models
run one item at a time without our batching, padding or file handling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
import torch  # noqa: E402

from ssr.cli import main  # noqa: E402

WORDS = ["red", "blue", "pipette", "glove", "acid", "steel", "lab", "tape", "clamp", "beaker"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A tiny BERT (with a word-piece vocabulary) and a tiny CLIP (BPE tokenizer, image processor)."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    bert = root / "bert"
    bert.mkdir()
    (bert / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    transformers.BertTokenizerFast(vocab_file=str(bert / "vocab.txt")).save_pretrained(bert)
    config = transformers.BertConfig(vocab_size=15, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32)
    transformers.BertModel(config).save_pretrained(bert)

    clip = root / "clip"
    clip.mkdir()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2,
             **{f"{w}</w>": i + 3 for i, w in enumerate(WORDS)}, **{c: 13 + i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}}
    (clip / "vocab.json").write_text(json.dumps(vocab))
    (clip / "merges.txt").write_text("#version: 0.2\n")
    transformers.CLIPTokenizer(str(clip / "vocab.json"), str(clip / "merges.txt")).save_pretrained(clip)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(clip)
    clip_config = transformers.CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16, "eos_token_id": 1, "bos_token_id": 0,
                     "pad_token_id": 1},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 16},
        projection_dim=8)
    transformers.CLIPModel(clip_config).save_pretrained(clip)
    return {"bert": bert, "clip": clip}


@pytest.fixture
def items(tmp_path: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    lines = []
    for i in range(7):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 6))))
        Image.fromarray(rng.integers(0, 255, size=(40, 48, 3), dtype=np.uint8)).save(tmp_path / f"item{i}.png")
        lines.append(f"B{i:03d}\t{text}\titem{i}.png")
    path = tmp_path / "items.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def one_by_one_text(directory: Path, texts: list[str], clip: bool) -> np.ndarray:
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = (transformers.CLIPModel if clip else transformers.AutoModel).from_pretrained(directory).eval()
    with torch.no_grad():
        rows = [model.get_text_features(**tokenizer([t], truncation=True, max_length=16, return_tensors="pt")) if clip
                else model(**tokenizer([t], return_tensors="pt")).last_hidden_state[:, 0] for t in texts]
    return torch.cat(rows).numpy()


def test_bert_text_features_equal_one_item_at_a_time(models, items, tmp_path) -> None:
    out = tmp_path / "text.npy"
    assert main(["features", "extract", "--text-model", str(models["bert"]), "--items", str(items),
                 "--batch-size", "3", "--quiet", "--out", str(out)]) == 0
    texts = [line.split("\t")[1] for line in items.read_text().splitlines()]
    features = np.load(out)
    assert features.shape == (7, 16) and features.dtype == np.float32
    np.testing.assert_allclose(features, one_by_one_text(models["bert"], texts, clip=False), rtol=1e-4, atol=1e-5)
    index = (tmp_path / "text.index.tsv").read_text().splitlines()
    assert index == [f"B{i:03d}\t{i}" for i in range(7)]


def test_clip_text_and_image_features(models, items, tmp_path) -> None:
    from PIL import Image

    out = tmp_path / "sci.npy"
    assert main(["features", "extract", "--text-model", str(models["clip"]), "--image-model", str(models["clip"]),
                 "--items", str(items), "--batch-size", "4", "--quiet", "--out", str(out)]) == 0
    assert not out.exists()
    text, image = np.load(tmp_path / "sci.text.npy"), np.load(tmp_path / "sci.image.npy")
    assert text.shape == image.shape == (7, 8)
    texts = [line.split("\t")[1] for line in items.read_text().splitlines()]
    np.testing.assert_allclose(text, one_by_one_text(models["clip"], texts, clip=True), rtol=1e-4, atol=1e-5)
    processor = transformers.AutoImageProcessor.from_pretrained(models["clip"])
    model = transformers.CLIPModel.from_pretrained(models["clip"]).eval()
    with torch.no_grad():
        expected = torch.cat([model.get_image_features(**processor(images=[Image.open(items.parent / f"item{i}.png")
                                                                           .convert("RGB")], return_tensors="pt"))
                              for i in range(7)]).numpy()
    np.testing.assert_allclose(image, expected, rtol=1e-4, atol=1e-5)


def test_extracted_features_feed_prepare(models, items, tmp_path) -> None:
    """The index written beside the features maps a log's raw item keys to their rows."""
    from ssr.data.dataset import read_dataset

    out = tmp_path / "f.npy"
    assert main(["features", "extract", "--text-model", str(models["bert"]), "--items", str(items), "--quiet",
                 "--out", str(out)]) == 0
    log = tmp_path / "Toy.csv"
    log.write_text("".join(f"B{i:03d},u{u},5.0,{10 * u + i}\n" for u in range(4) for i in range(7)))
    data = tmp_path / "toy.h5"
    assert main(["data", "prepare", "--dataset", "amazon-csv", "--path", str(log), "--min-count", "1",
                 "--item-features", f"text={out}", "--item-index", str(tmp_path / "f.index.tsv"),
                 "--out", str(data)]) == 0
    import h5py

    keys = h5py.File(data)["keys/items"][()].astype(str)[1:]
    np.testing.assert_array_equal(read_dataset(data).item_features["text"][1:],
                                  np.load(out)[[int(k[1:]) for k in keys]])


@pytest.mark.parametrize("argv, message", [
    (["--items", "{items}", "--out", "{tmp}/x.npy"], "give --text-model DIR, --image-model DIR or both"),
    (["--text-model", "{tmp}", "--items", "{items}", "--out", "{tmp}/x.npy"], "holds no config.json"),
    (["--image-model", "{bert}", "--items", "{items}", "--out", "{tmp}/x.npy"], "images need a CLIP model"),
    (["--text-model", "{bert}", "--items", "{tmp}/none.tsv", "--out", "{tmp}/x.npy"], "none.tsv not found"),
    (["--text-model", "{bert}", "--items", "{items}", "--out", "{tmp}/x.txt"], "must end in .npy"),
    (["--text-model", "{bert}", "--items", "{bad}", "--out", "{tmp}/x.npy"], "bad.tsv:2: expected"),
    (["--image-model", "{clip}", "--items", "{noimage}", "--out", "{tmp}/x.npy"], "has no image file"),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, message, models, items, tmp_path, capsys) -> None:
    (tmp_path / "bad.tsv").write_text("B1\tred\nB2\n")
    (tmp_path / "noimage.tsv").write_text("B1\tred\n")
    names = {"items": items, "tmp": tmp_path, "bert": models["bert"], "clip": models["clip"],
             "bad": tmp_path / "bad.tsv", "noimage": tmp_path / "noimage.tsv"}
    before = sorted(tmp_path.iterdir())
    assert main(["features", "extract", *[a.format(**names) for a in argv]]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sorted(tmp_path.iterdir()) == before
