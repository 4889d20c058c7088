#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small valid files of every format
each reader takes, in the input layout its target expects (see the comment at the top of each fuzz_*.cpp).

Usage: /usr/bin/python3 tests/fuzz/make_corpus.py [--cli build/app/reviewkd]
The files named regress_* are inputs the fuzzers found (each with its regression test in the Qt Test suites);
this script leaves them alone.
Needs Python's torch (Debian python3-torch) for the checkpoints, a C compiler and stb (libstb-dev) for the JPEG
seeds, and the reviewkd CLI for the store seed (a one-epoch run on a few Fashion-MNIST images). The seeds are
committed; run this only to change them. Each file is at most a few kB.
"""
import argparse
import gzip
import io
import os
import pathlib
import re
import sqlite3
import struct
import subprocess
import tempfile
import zipfile
import zlib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"


def put(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


# ---- IDX: [u32 LE label-file length][label file][image file]

def idx_images(n, rows, cols):
    pixels = bytes((i * 37 + 11) % 256 for i in range(n * rows * cols))
    return struct.pack(">IIII", 2051, n, rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">II", 2049, len(labels)) + bytes(labels)


def idx_input(labels, images):
    return struct.pack("<I", len(labels)) + labels + images


def make_idx():
    put("fuzz_idx", "three_4x4", idx_input(idx_labels([0, 5, 9]), idx_images(3, 4, 4)))
    put("fuzz_idx", "one_28x28", idx_input(idx_labels([7]), idx_images(1, 28, 28)))
    put("fuzz_idx", "gzip_both", idx_input(gzip.compress(idx_labels([1, 2]), mtime=0),
                                           gzip.compress(idx_images(2, 6, 5), mtime=0)))
    put("fuzz_idx", "empty_set", idx_input(idx_labels([]), idx_images(0, 28, 28)))


# ---- CIFAR: [1 byte: bit 0 = CIFAR-100][batch file]

def cifar_record(labels, seed):
    pixels = bytes((i * seed + 3) % 256 for i in range(3 * 32 * 32))
    return bytes(labels) + pixels


def make_cifar():
    ten = cifar_record([3], 7) + cifar_record([9], 13)
    hundred = cifar_record([4, 42], 5) + cifar_record([19, 99], 11)
    put("fuzz_cifar", "cifar10_two", b"\x00" + ten)
    put("fuzz_cifar", "cifar100_two", b"\x01" + hundred)
    flat = bytes([1]) + bytes(3072)  # compresses to a few bytes
    put("fuzz_cifar", "cifar10_gzip", b"\x00" + gzip.compress(flat * 2, mtime=0))
    put("fuzz_cifar", "cifar100_gzip", b"\x01" + gzip.compress(bytes([0, 0]) + bytes(3072), mtime=0))


# ---- images: [options byte][PNG or JPEG file]

def png(width, height, color_type, depth, rows, palette=None, trns=None):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 (none) on every row
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    if trns:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def make_png_seeds():
    w, h = 4, 3
    grey = [bytes((x * 60 + y * 20) % 256 for x in range(w)) for y in range(h)]
    rgb = [bytes(v for x in range(w) for v in ((x * 60) % 256, (y * 90) % 256, 128)) for y in range(h)]
    rgba = [bytes(v for x in range(w) for v in (x * 50, y * 70, 30, 255 - x * 10)) for y in range(h)]
    grey_alpha = [bytes(v for x in range(w) for v in (x * 50, 200)) for y in range(h)]
    grey16 = [b"".join(struct.pack(">H", (x * 9000 + y * 3000) % 65536) for x in range(w)) for y in range(h)]
    pal = [bytes((x + y) % 3 for x in range(w)) for y in range(h)]
    bits = [bytes([0b10100000]) for _ in range(h)]  # 1-bit grey, 4 pixels in the high bits
    # Options byte: bits 0-1 image size (0 keep, 8, 32, 1), bits 2-3 channels (auto, 1, 3, auto).
    put("fuzz_image", "png_grey", b"\x00" + png(w, h, 0, 8, grey))
    put("fuzz_image", "png_rgb_resize8", b"\x01" + png(w, h, 2, 8, rgb))
    put("fuzz_image", "png_rgba_grey", b"\x04" + png(w, h, 6, 8, rgba))
    put("fuzz_image", "png_grey_alpha_rgb", b"\x08" + png(w, h, 4, 8, grey_alpha))
    put("fuzz_image", "png_grey16_resize1", b"\x03" + png(w, h, 0, 16, grey16))
    put("fuzz_image", "png_palette_trns", b"\x02" + png(w, h, 3, 8, pal, palette=bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]),
                                                         trns=bytes([128])))
    put("fuzz_image", "png_1bit", b"\x00" + png(w, h, 0, 1, bits))


JPEG_WRITER = r"""
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#include <stdio.h>
static void sink(void* ctx, void* data, int size) { fwrite(data, 1, size, (FILE*)ctx); }
int main(int argc, char** argv) {
  /* argv: out w h channels quality */
  int w = atoi(argv[2]), h = atoi(argv[3]), c = atoi(argv[4]), q = atoi(argv[5]);
  unsigned char px[16 * 16 * 3];
  for (int i = 0; i < w * h * c; ++i) px[i] = (unsigned char)(i * 29 + 7);
  FILE* f = fopen(argv[1], "wb");
  if (!f || !stbi_write_jpg_to_func(sink, f, w, h, c, px, q)) return 1;
  return fclose(f) != 0;
}
"""


def make_jpeg_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "w.c"), os.path.join(tmp, "w")
        pathlib.Path(src).write_text(JPEG_WRITER)
        subprocess.run(["cc", "-O1", "-o", exe, src, "-lm"], check=True)
        for name, options, w, h, c, q in [("jpeg_grey_8x8", 0, 8, 8, 1, 90), ("jpeg_rgb_16x8", 0, 16, 8, 3, 50),
                                          ("jpeg_rgb_grey_resize32", 6, 5, 7, 3, 95)]:
            out = os.path.join(tmp, name)
            subprocess.run([exe, out, str(w), str(h), str(c), str(q)], check=True)
            put("fuzz_image", name, bytes([options]) + pathlib.Path(out).read_bytes())


# ---- checkpoints: the file torch.save wrote

def make_checkpoints():
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    # The network of fuzz_checkpoint.cpp, so that a seed reaches the copy into the module.
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    sd = net.state_dict()

    def save(name, obj, **kwargs):
        buf = io.BytesIO()
        torch.save(obj, buf, **kwargs)
        put("fuzz_checkpoint", name, buf.getvalue())

    save("state_dict_zip.pt", sd)
    save("state_dict_legacy.pt", sd, _use_new_zipfile_serialization=False)
    save("state_dict_protocol4.pt", sd, pickle_protocol=4)
    # A training script's checkpoint: the weights nested under 'model' beside other values.
    save("nested_model_epoch.pt", {"model": sd, "epoch": 3, "best_acc": 71.5, "name": "r8", "flags": [True, None],
                                   "sizes": (1, 2), "blob": b"\x00\x01", "big": 2 ** 70, "neg": -5})
    # DataParallel prefix, float16 / bfloat16 / float64 / int tensors, shared storage and views with offsets.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    mixed = {"module.0.weight": sd["0.weight"].half(), "module.0.bias": sd["0.bias"].double(),
             "module.1.weight": sd["1.weight"].bfloat16(), "module.1.running_mean": base[1, 2:6],
             "module.1.running_var": base[:, 3], "module.1.num_batches_tracked": torch.tensor(7),
             "module.3.weight": base[2:4, 1:5], "module.3.bias": base.t()[0, :2], "mask": torch.tensor([True, False]),
             "ids": torch.tensor([1, 2, 3], dtype=torch.int32), "empty": torch.zeros(0, 3),
             "expanded": torch.zeros(1).expand(3)}
    save("mixed_dtypes_views_legacy.pt", mixed, _use_new_zipfile_serialization=False)
    save("mixed_dtypes_views_zip.pt", mixed)
    # This studio's flat layout: model.* beside the review head and optimizer state.
    flat = {"model." + k: v for k, v in sd.items()}
    flat.update({"head.0.weight": torch.ones(2, 2), "optim.0.momentum": torch.zeros(4)})
    save("studio_flat.pt", flat)
    # LibTorch's pickler tags typed dicts: torch.jit._pickle.restore_type_tag(dict, "Dict[str, Tensor]").
    import torch.jit._pickle as jit_pickle

    class Tagged:
        def __reduce__(self):
            return (jit_pickle.restore_type_tag, ({"model.0.bias": sd["0.bias"]}, "Dict[str, Tensor]"))
    save("libtorch_type_tag.pt", Tagged())
    # nn.Parameter values, an OrderedDict with _metadata, and a pickled whole module (refused with a message).
    save("parameters.pt", {"0.weight": nn.Parameter(sd["0.weight"]), "3.bias": nn.Parameter(sd["3.bias"])})
    save("whole_module.pt", nn.Sequential(nn.Linear(2, 2)))
    save("whole_module_under_model.pt", {"model": nn.Linear(2, 1), "epoch": 1})
    # A TorchScript archive: refused, with the line that re-saves it.
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(nn.Linear(2, 1)), buf)
    put("fuzz_checkpoint", "torchscript.pt", buf.getvalue())

    # Hand-written pickles the reader refuses (tests/test_io.cpp builds the same): a view that repeats one float
    # 2^40 times (zero stride), and five nested _rebuild_from_type_v2 calls.
    def unicode(text):
        return b"X" + struct.pack("<I", len(text)) + text.encode()

    def storage(numel):
        return b"((" + unicode("storage") + b"ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") + \
            b"J" + struct.pack("<i", numel) + b"tQ"

    def stored_zip(name, pkl, data0):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", pkl)
            z.writestr("archive/data/0", data0)
        put("fuzz_checkpoint", name, buf.getvalue())

    repeated = (b"\x80\x02}" + unicode("w") + b"ctorch._utils\n_rebuild_tensor_v2\n" + storage(1) + b"K\x00" +
                b"\x8a\x08" + struct.pack("<q", 2 ** 40) + b"\x85K\x00\x85\x89NtRs.")
    stored_zip("refused_repeated_storage.pt", repeated, struct.pack("<f", 1.5))
    callable_, args = b"ctorch._utils\n_rebuild_tensor_v2\n", storage(2) + b"K\x00K\x02\x85K\x01\x85\x89Nt"
    for _ in range(5):
        args = b"(" + callable_ + b"ctorch\nTensor\n" + args + b"}t"
        callable_ = b"ctorch._tensor\n_rebuild_from_type_v2\n"
    stored_zip("refused_rebuild_wrappers.pt", b"\x80\x02}" + unicode("w") + callable_ + args + b"Rs.",
               struct.pack("<2f", 3, 4))


# ---- config: [JSON file][NUL][override lines]

def make_configs():
    put("fuzz_config", "teacher.json", b'{"kind": "teacher", "student": "resnet8", "optim": {"epochs": 2}}')
    put("fuzz_config", "student_full.json",
        b'{"name": "r56-r20", "kind": "student", "method": "reviewkd", "student": "resnet20",\n'
        b' "teacher": {"arch": "resnet56", "checkpoint": "t.pt", "mode": "eval", "run": 0},\n'
        b' "data": {"kind": "cifar100", "path": "/data", "per_class": 10, "test_per_class": 5, "validation": 100,\n'
        b'          "pad_to": 32, "image_size": 0, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],\n'
        b'          "flip": "on", "crop_padding": 4, "channels": 3},\n'
        b' "review": {"review": true, "residual": true, "abf": true, "hcl": true, "pyramid": [4, 2, 1],\n'
        b'            "weight": 0.6, "warmup_epochs": 20},\n'
        b' "ce_weight": 1.0, "kd_weight": 0.0, "kd_temperature": 4.0,\n'
        b' "optim": {"epochs": 240, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "nesterov": true,\n'
        b'           "weight_decay": 5e-4, "schedule": "multistep", "milestones": [150, 180, 210], "gamma": 0.1},\n'
        b' "device": "auto", "seed": 1, "threads": 0, "snapshot_every": 50, "channels_last": "auto",\n'
        b' "sync_bn": false}\n')
    put("fuzz_config", "kd_with_overrides",
        b'{"method": "kd", "kd_weight": 0.9, "teacher": {"arch": "resnet32"}}\x00'
        b'optim.epochs=5\nreview.abf=false\ndata.channels=1\nteacher.mode=batch-stats\noptim.milestones=[2,4]\n'
        b'data.mean=[0.5]\ndata.std=[0.2]\nname=7\n')
    put("fuzz_config", "folder_cosine", b'{"data": {"kind": "folder", "path": "imgs", "image_size": 64}, '
                                        b'"optim": {"schedule": "cosine", "lr": 1e-2}, "teacher": {"run": 3}}')
    put("fuzz_config", "overrides_only", b'\x00optim=3\noptim.lr=0.5\nseed=1e3\ndevice=cuda:1\nunknown.key=1\n')


# ---- store: the SQLite file a run store is (no -wal beside it)

def shrink(db):
    """Rewrites a store with 512-byte pages (SQLite's smallest), so the seed stays a few kB."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA page_size=512")
    con.execute("VACUUM")
    con.close()


def schema_v1_sql():
    text = (ROOT / "core/store/store_schema.cpp").read_text()
    return re.search(r'kSchemaV1 = R"sql\((.*?)\)sql"', text, re.S).group(1)


def make_stores(cli):
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "runs.sqlite")
        config = os.path.join(tmp, "tiny.json")
        pathlib.Path(config).write_text(
            '{"name": "fuzz-seed", "kind": "teacher", "student": "resnet8", "device": "cpu", "threads": 1,'
            ' "data": {"kind": "fashion-mnist", "per_class": 2, "test_per_class": 1},'
            ' "optim": {"epochs": 1, "batch_size": 8, "milestones": []}, "snapshot_every": 0}')
        subprocess.run([cli, "--db", db, "teacher", "--config", config], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([cli, "--db", db, "runs", "tag", "1", "seed"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([cli, "--db", db, "runs", "note", "1", "a note"], check=True, stdout=subprocess.DEVNULL)
        shrink(db)
        put("fuzz_store", "one_run.sqlite", pathlib.Path(db).read_bytes())

        # A store of schema version 1 (before distributed runs and the store id): opening it migrates it.
        old = os.path.join(tmp, "v1.sqlite")
        con = sqlite3.connect(old)
        con.execute("PRAGMA page_size=512")
        con.executescript(schema_v1_sql())
        con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL,"
                    " description TEXT NOT NULL DEFAULT '')")
        con.execute("INSERT INTO schema_version VALUES (1, 0, 'initial')")
        con.execute("INSERT INTO runs(name, kind, method, status, config, started_at, pid, hostname)"
                    " VALUES ('old', 'student', 'kd', 'running', '{\"optim\": {\"epochs\": 2}}', 1, 1, 'elsewhere')")
        con.execute("INSERT INTO metrics VALUES (1, 0, -1, 'top1', 12.5)")
        con.commit()
        con.close()
        put("fuzz_store", "schema_v1_running.sqlite", pathlib.Path(old).read_bytes())

        # Another program's database: refused untouched.
        other = os.path.join(tmp, "other.sqlite")
        con = sqlite3.connect(other)
        con.execute("PRAGMA page_size=512")
        con.execute("CREATE TABLE songs (title TEXT)")
        con.commit()
        con.close()
        put("fuzz_store", "foreign.sqlite", pathlib.Path(other).read_bytes())
    put("fuzz_store", "empty_new_store", b"")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default=str(ROOT / "build/app/reviewkd"), help="the reviewkd CLI (for the store seed)")
    args = parser.parse_args()
    make_idx()
    make_cifar()
    make_png_seeds()
    make_jpeg_seeds()
    make_checkpoints()
    make_configs()
    make_stores(args.cli)
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file() and f.suffix != ".dict")
    print(f"make_corpus: {sum(1 for f in CORPUS.rglob('*') if f.is_file())} files, {total} bytes of seeds in {CORPUS}")


if __name__ == "__main__":
    main()
