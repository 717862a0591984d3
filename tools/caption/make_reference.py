#!/usr/bin/env python3
"""Golden captions for a port of the captioner: fixtures/caption/reference.json.

    make_reference.py MODEL_DIR FIXTURE_DIR

MODEL_DIR is the transformers folder that train.py wrote (the ONNX files in
models/captioner/ are exported from it). Writes FIXTURE_DIR/heldout/NN.png:
the first 24 held-out scenes (seed 2), 20 drawn at 64x64 and the last 4 at
128x96 so that a port's resizing is exercised. Then, for each PNG as read
back from disk, it runs the image processor and generate() and records:

  greedy, beam3   generate() output ids (starting with the decoder start
                  token <s>=1, ending with </s>=2) and the decoded text,
                  for num_beams=1 and num_beams=3 (length_penalty 1.0,
                  early_stopping false, max_length from generation_config)
  pixel_values_first8, pixel_values_sum
                  the processor's output, to check resizing + normalising
  encoder_first8  the first 8 values of the encoder's last_hidden_state
                  (row-major [1, 65, 128])
  first_step_top5 ids of the 5 largest logits after <s>, and the logits
"""

import json
import sys
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoTokenizer, ViTImageProcessor, VisionEncoderDecoderModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenes  # noqa: E402

HELDOUT_SEED = 2
COUNT = 24
BIG = (128, 96)  # the last 4 images are drawn at this size


def round_list(t, digits=6):
    """A flat tensor as a JSON-friendly list of rounded floats."""
    return [round(float(v), digits) for v in t.flatten().tolist()]


def write_images(out_dir):
    """Draws the held-out scenes to out_dir/heldout/NN.png; returns their records."""
    img_dir = out_dir / "heldout"
    img_dir.mkdir(parents=True, exist_ok=True)
    for old in img_dir.glob("*.png"):
        old.unlink()
    records = []
    for i, (scene, text) in enumerate(scenes.scenes(HELDOUT_SEED, COUNT)):
        size = BIG if i >= COUNT - 4 else (64, 64)
        path = img_dir / f"{i:02d}.png"
        scenes.render(scene, *size).save(path, optimize=False)
        records.append({"file": str(path.relative_to(out_dir)), "width": size[0],
                        "height": size[1], "truth": text})
    return records


def main():
    model_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    torch.set_num_threads(2)
    model = VisionEncoderDecoderModel.from_pretrained(model_dir).eval()
    proc = ViTImageProcessor.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    gen = model.generation_config

    records = write_images(out_dir)
    with torch.no_grad():
        for rec in records:
            # Read back exactly what is committed, as a port would.
            with Image.open(out_dir / rec["file"]) as img:
                pixels = proc(images=img.convert("RGB"), return_tensors="pt").pixel_values
            rec["pixel_values_first8"] = round_list(pixels.flatten()[:8])
            rec["pixel_values_sum"] = round(float(pixels.double().sum()), 4)
            for name, beams in (("greedy", 1), ("beam3", 3)):
                ids = model.generate(pixel_values=pixels, num_beams=beams)[0].tolist()
                rec[name] = {"ids": ids, "text": tok.decode(ids, skip_special_tokens=True)}
            enc = model.encoder(pixel_values=pixels).last_hidden_state
            rec["encoder_first8"] = round_list(enc.flatten()[:8])
            logits = model(
                encoder_outputs=(enc,),
                decoder_input_ids=torch.tensor([[gen.decoder_start_token_id]]),
            ).logits[0, -1]
            top = torch.topk(logits, 5)
            rec["first_step_top5"] = top.indices.tolist()
            rec["first_step_top5_logits"] = round_list(top.values, 4)

    reference = {
        "model": "models/captioner",
        "preprocess": {
            "note": "PNG -> RGB -> resize to 64x64 with Pillow BILINEAR (antialiased: "
            "the filter widens by the downscale factor) when not 64x64 -> x/255 -> "
            "(x-0.5)/0.5 -> NCHW float32",
            **{k: v for k, v in proc.to_dict().items()
               if k in ("do_resize", "size", "resample", "do_rescale", "rescale_factor",
                        "do_normalize", "image_mean", "image_std")},
        },
        "special_tokens": {"pad": gen.pad_token_id, "bos": gen.bos_token_id,
                           "eos": gen.eos_token_id,
                           "decoder_start": gen.decoder_start_token_id},
        "generation": {
            "greedy": {"num_beams": 1, "max_length": gen.max_length},
            "beam3": {"num_beams": 3, "max_length": gen.max_length,
                      "length_penalty": gen.length_penalty,
                      "early_stopping": gen.early_stopping},
            "ids_note": "generate() output: decoder start token first, </s> last; "
            "max_length counts the start token",
        },
        "images": records,
    }
    (out_dir / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    agree = sum(r["greedy"]["text"] == r["truth"] for r in records)
    agree3 = sum(r["beam3"]["text"] == r["truth"] for r in records)
    print(f"reference.json: {len(records)} images; greedy right on {agree}, beam 3 on {agree3}")


if __name__ == "__main__":
    main()
