#!/usr/bin/env python3
"""Trains the small demo captioner on procedural scenes (scenes.py).

    train.py OUT_DIR [--train 60000] [--heldout 500] [--steps N]

Writes a transformers model folder to OUT_DIR: config.json,
model.safetensors, generation_config.json, preprocessor_config.json,
tokenizer.json (+ tokenizer_config.json, special_tokens_map.json), and
metrics.json with exact-match and token accuracy on held-out scenes for
greedy and 3-beam decoding.

The model is a VisionEncoderDecoderModel: ViT (64 px, patch 8, hidden
128, 4 layers) + GPT-2 (128 wide, 3 layers, cross-attention), about
1.7M parameters, with a byte-level BPE tokenizer trained on the captions
(<pad>=0, <s>=1, </s>=2). Training scenes come from seed 1, held-out
scenes from seed 2. Everything is seeded; on 2 CPU threads 2.5 passes
over 60k scenes take roughly 15 minutes.
"""

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tokenizers import ByteLevelBPETokenizer
from transformers import (
    GenerationConfig,
    GPT2Config,
    PreTrainedTokenizerFast,
    ViTConfig,
    ViTImageProcessor,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenes  # noqa: E402

TRAIN_SEED, HELDOUT_SEED = 1, 2
IMAGE = 64
PAD, BOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<s>", "</s>"]  # order gives the ids above
MAX_LENGTH = 24  # generation limit, counting the start token
# Some scenes are drawn at other frame sizes and squeezed to 64x64 the way
# the image processor does, so that captioning video frames works too.
OTHER_SIZES = [(96, 64), (128, 96), (80, 80), (128, 128), (160, 90)]


def processor():
    """The image processor the exported model documents and expects."""
    return ViTImageProcessor(
        do_resize=True,
        size={"height": IMAGE, "width": IMAGE},
        resample=Image.Resampling.BILINEAR,  # 2
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


def render_for_model(scene, size):
    """scene drawn at size and brought to 64x64 as the processor would (PIL bilinear)."""
    img = scenes.render(scene, *size)
    if size != (IMAGE, IMAGE):
        img = img.resize((IMAGE, IMAGE), Image.Resampling.BILINEAR)
    return img


def dataset(seed, n):
    """n scenes from seed as (uint8 N x 3 x 64 x 64 tensor, captions, frame sizes)."""
    pairs = scenes.scenes(seed, n)
    # Frame sizes come from their own generator so the scene list stays
    # the same as scenes.scenes(seed, n).
    size_rng = random.Random(seed * 1000 + 7)
    sizes = [
        size_rng.choice(OTHER_SIZES) if size_rng.random() < 0.15 else (IMAGE, IMAGE)
        for _ in range(n)
    ]
    arr = np.empty((n, IMAGE, IMAGE, 3), np.uint8)
    for i, ((scene, _), size) in enumerate(zip(pairs, sizes)):
        arr[i] = np.asarray(render_for_model(scene, size))
    images = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
    return images, [c for _, c in pairs], sizes


def normalise(images_u8):
    """uint8 NCHW -> the processor's float input: x / 255, then (x - 0.5) / 0.5."""
    return (images_u8.float() / 255.0 - 0.5) / 0.5


def train_tokenizer(captions):
    """A byte-level BPE over the captions; 512 is more than it needs, so every word
    ends up as one token (about 390 in all)."""
    tok = ByteLevelBPETokenizer(add_prefix_space=False)
    tok.train_from_iterator(captions, vocab_size=512, min_frequency=2, special_tokens=SPECIALS)
    assert [tok.token_to_id(t) for t in SPECIALS] == [PAD, BOS, EOS]
    return tok


def sincos_positions(enc):
    """2-D sine-cosine position embeddings (as in MAE) to start ViT from.

    Still trained like any weight; a ViT learning its patch layout from
    scratch is what made "left" vs "right" slow to learn in short runs.
    Row 0 (the [CLS] token) is zero.
    """
    grid = enc.image_size // enc.patch_size
    quarter = enc.hidden_size // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    ys, xs = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    parts = []
    for coord in (ys.flatten(), xs.flatten()):
        angle = coord[:, None].double() * omega[None, :]
        parts += [torch.sin(angle), torch.cos(angle)]
    table = torch.cat(parts, dim=1).float()
    return torch.cat([torch.zeros(1, enc.hidden_size), table])[None]


def build_model(vocab_size):
    """ViT + GPT-2 with cross-attention, no dropout (too few passes to overfit)."""
    enc = ViTConfig(
        image_size=IMAGE,
        patch_size=8,
        num_channels=3,
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=512,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    dec = GPT2Config(
        vocab_size=vocab_size,
        n_positions=32,
        n_embd=128,
        n_layer=3,
        n_head=4,
        n_inner=512,
        add_cross_attention=True,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    config.decoder_start_token_id = BOS
    config.bos_token_id = BOS
    config.eos_token_id = EOS
    config.pad_token_id = PAD
    model = VisionEncoderDecoderModel(config=config)
    with torch.no_grad():
        model.encoder.embeddings.position_embeddings.copy_(sincos_positions(enc))
    model.generation_config = GenerationConfig(
        decoder_start_token_id=BOS,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
        max_length=MAX_LENGTH,
        num_beams=1,
        do_sample=False,
    )
    return model


def batches_of_ids(tok, captions):
    """(decoder_input_ids, labels) for every caption, right-padded.

    Built by hand: passing labels= to VisionEncoderDecoderModel in
    transformers 4.57 shifts them twice, so the model would learn to
    predict two tokens ahead. Here input is <s> + caption and the target
    is caption + </s>; padding in the target is ignored by the loss.
    """
    ids = [e.ids for e in tok.encode_batch(captions)]
    width = max(len(i) for i in ids) + 1
    dec_in = torch.full((len(ids), width), PAD, dtype=torch.long)
    labels = torch.full((len(ids), width), -100, dtype=torch.long)
    for row, seq in enumerate(ids):
        dec_in[row, : len(seq) + 1] = torch.tensor([BOS] + seq)
        labels[row, : len(seq) + 1] = torch.tensor(seq + [EOS])
    return dec_in, labels


def evaluate(model, tok, images, captions, num_beams, batch=50):
    """Exact match and token accuracy of generate() against the true captions.

    Token accuracy: over all reference tokens (caption + </s>), the share
    where the generated token at the same position is the same.
    """
    exact, right, total = 0, 0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(captions), batch):
            out = model.generate(
                pixel_values=normalise(images[start : start + batch]), num_beams=num_beams
            )
            for seq, text in zip(out.tolist(), captions[start : start + batch]):
                gen = seq[1:]  # drop the start token
                ref = tok.encode(text).ids + [EOS]
                right += sum(1 for i, t in enumerate(ref) if i < len(gen) and gen[i] == t)
                total += len(ref)
                exact += tok.decode(gen, skip_special_tokens=True) == text
    return {"exact_match": exact / len(captions), "token_accuracy": right / total}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--train", type=int, default=60000, help="training scenes")
    ap.add_argument("--epochs", type=float, default=2.5, help="passes over them")
    ap.add_argument("--heldout", type=int, default=500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    t0 = time.time()

    train_images, train_caps, _ = dataset(TRAIN_SEED, args.train)
    held_images, held_caps, _ = dataset(HELDOUT_SEED, args.heldout)
    print(f"drew {args.train} + {args.heldout} scenes in {time.time() - t0:.0f} s", flush=True)

    tok = train_tokenizer(train_caps)
    dec_in, labels = batches_of_ids(tok, train_caps)
    longest = max(len(e.ids) for e in tok.encode_batch(train_caps + held_caps))
    assert longest + 2 <= MAX_LENGTH, longest  # start token + caption + </s>
    print(f"vocab {tok.get_vocab_size()}, longest caption {longest} tokens", flush=True)

    model = build_model(tok.get_vocab_size())
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters", flush=True)

    per_epoch = args.train // args.batch
    steps = int(per_epoch * args.epochs)
    warmup = max(1, steps // 20)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    # Linear warm-up, then cosine decay to a tenth of the peak.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (s + 1) / warmup if s < warmup
        else 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup))),
    )
    shuffle = torch.Generator().manual_seed(0)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100)

    model.train()
    t1 = time.time()
    running = 0.0
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(args.train, generator=shuffle)
        at = (step % per_epoch) * args.batch
        idx = order[at : at + args.batch]
        lab = labels[idx]
        width = int((lab != -100).sum(1).max())  # trim the batch's shared padding
        logits = model(
            pixel_values=normalise(train_images[idx]), decoder_input_ids=dec_in[idx, :width]
        ).logits
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), lab[:, :width].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running += loss.item()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            n = (step % 100) + 1
            print(
                f"step {step + 1}/{steps} loss {running / n:.4f} "
                f"lr {sched.get_last_lr()[0]:.2e} {time.time() - t1:.0f} s",
                flush=True,
            )
            running = 0.0
    train_seconds = time.time() - t1

    metrics = {"heldout_scenes": args.heldout, "heldout_seed": HELDOUT_SEED,
               "train_scenes": args.train, "train_seed": TRAIN_SEED, "epochs": args.epochs,
               "train_seconds": round(train_seconds)}
    for name, beams in (("greedy", 1), ("beam3", 3)):
        metrics[name] = evaluate(model, tok, held_images, held_caps, beams)
        print(name, metrics[name], flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    processor().save_pretrained(args.out)
    PreTrainedTokenizerFast(
        tokenizer_object=tok._tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=32,
    ).save_pretrained(args.out)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"saved to {args.out} after {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
