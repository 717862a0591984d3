#!/usr/bin/env python3
"""Builds a captioner with the exact configuration of vit-gpt2-image-captioning.

    make_real_size.py BPE_DIR OUT_DIR [--seed 0]

BPE_DIR holds GPT-2's byte-level BPE files, encoder.json (50,257 tokens)
and vocab.bpe (50,000 merges). OUT_DIR becomes a transformers model folder
(config.json, model.safetensors, generation_config.json,
preprocessor_config.json, the tokenizer files) ready for
`optimum-cli export onnx --task image-to-text-with-past`.

The configuration is nlpconnect/vit-gpt2-image-captioning's: a ViT-base/16
encoder at 224x224 (12 layers, 12 heads, hidden 768) and a GPT-2 124M
decoder (12 layers, 12 heads, 768 wide, 1024 positions) with
cross-attention, the GPT-2 vocabulary, token 50256 (<|endoftext|>) as
start, end and padding, and its image processor (224x224 bilinear, mean
and std 0.5). The weights are random (seeded): the model is for checking
that a model of this size loads, decodes exactly as generate() does, and
how fast; its captions mean nothing.
"""

import argparse
import hashlib
import json
from pathlib import Path

import torch
from PIL import Image
from transformers import (
    GenerationConfig,
    GPT2Config,
    GPT2TokenizerFast,
    ViTConfig,
    ViTImageProcessor,
    VisionEncoderDecoderConfig,
    VisionEncoderDecoderModel,
)

ENDOFTEXT = 50256
# The files GPT-2 was released with (the same digests tiktoken checks).
BPE_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}


def check_bpe_files(bpe_dir):
    """Refuses BPE files that are not GPT-2's own."""
    for name, expected in BPE_SHA256.items():
        found = hashlib.sha256((bpe_dir / name).read_bytes()).hexdigest()
        if found != expected:
            raise SystemExit(f"{bpe_dir / name}: sha256 {found}, expected GPT-2's {expected}")


def config():
    """vit-gpt2-image-captioning's architecture: ViT-base/16 + GPT-2 124M."""
    encoder = ViTConfig(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        image_size=224,
        patch_size=16,
        num_channels=3,
        qkv_bias=True,
        layer_norm_eps=1e-12,
    )
    decoder = GPT2Config(
        vocab_size=50257,
        n_positions=1024,
        n_embd=768,
        n_layer=12,
        n_head=12,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        bos_token_id=ENDOFTEXT,
        eos_token_id=ENDOFTEXT,
        add_cross_attention=True,
        is_decoder=True,
    )
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    cfg.decoder_start_token_id = ENDOFTEXT
    cfg.pad_token_id = ENDOFTEXT
    cfg.eos_token_id = ENDOFTEXT
    return cfg


def processor():
    """vit-gpt2's image processor: 224x224 bilinear, x/255, (x - 0.5) / 0.5."""
    return ViTImageProcessor(
        do_resize=True,
        size={"height": 224, "width": 224},
        resample=Image.Resampling.BILINEAR,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bpe_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    check_bpe_files(args.bpe_dir)

    torch.manual_seed(args.seed)
    model = VisionEncoderDecoderModel(config=config()).eval()
    # The model's own defaults (max_length 20, greedy), as vit-gpt2 has them.
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ENDOFTEXT,
        bos_token_id=ENDOFTEXT,
        eos_token_id=ENDOFTEXT,
        pad_token_id=ENDOFTEXT,
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out_dir)

    tokenizer = GPT2TokenizerFast(
        vocab_file=str(args.bpe_dir / "encoder.json"),
        merges_file=str(args.bpe_dir / "vocab.bpe"),
    )
    assert len(tokenizer) == 50257 and tokenizer.eos_token_id == ENDOFTEXT
    tokenizer.save_pretrained(args.out_dir)
    processor().save_pretrained(args.out_dir)

    params = sum(p.numel() for p in model.parameters())
    summary = {"parameters": params, "seed": args.seed, "vocabulary": len(tokenizer)}
    (args.out_dir / "real_size.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{args.out_dir}: {params / 1e6:.1f} M parameters, vocabulary {len(tokenizer)}, seed {args.seed}")


if __name__ == "__main__":
    main()
