#!/usr/bin/python3
"""Writes more real torch.save files for the checkpoint reader's tests, all from the weights of
tests/data/checkpoints/resnet8_state_dict.pt (so every one must give resnet8_expected_logits.pt's logits):
float64 and bfloat16 copies, tensors that are views with offsets into one shared storage (some not contiguous),
a checkpoint nested under 'net' beside numpy scalars, an argparse Namespace and optimizer state, a state dict
one level down under an unusual name, and the state dict in pickle protocol 4, and a 10-class copy (a 3-channel Fashion-MNIST teacher's shape).

Run with Debian's python3-torch:  /usr/bin/python3 tests/python/make_checkpoint_variants.py tests/data/checkpoints
"""
import argparse
import collections
import os
import sys

import numpy
import torch


def main(folder):
    sd = torch.load(os.path.join(folder, "resnet8_state_dict.pt"))

    def save(obj, name, **kw):
        torch.save(obj, os.path.join(folder, name), **kw)
        print("wrote", name)

    save(collections.OrderedDict((k, v.double() if v.is_floating_point() else v) for k, v in sd.items()),
         "resnet8_float64.pt")
    save(collections.OrderedDict((k, v.bfloat16() if v.is_floating_point() else v) for k, v in sd.items()),
         "resnet8_bfloat16.pt")

    # One float storage behind every floating tensor, each a view at its own offset; 4-d weights are stored
    # transposed and handed out as a permuted (non-contiguous) view.
    floats = [(k, v) for k, v in sd.items() if v.is_floating_point()]
    flat = torch.cat([(v.permute(0, 2, 3, 1) if v.dim() == 4 else v).reshape(-1) for _, v in floats] +
                     [torch.zeros(7)])
    views = collections.OrderedDict()
    offset = 0
    for k, v in sd.items():
        if not v.is_floating_point():
            views[k] = v
            continue
        n = v.numel()
        piece = flat[offset:offset + n]
        if v.dim() == 4:
            o, i, h, w = v.shape
            piece = piece.view(o, h, w, i).permute(0, 3, 1, 2)
        else:
            piece = piece.view(v.shape)
        assert torch.equal(piece, v)
        views[k] = piece
        offset += n
    save(views, "resnet8_views.pt")

    model_like = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model_like.parameters(), lr=0.1, momentum=0.9)
    model_like(torch.ones(1, 2)).sum().backward()
    opt.step()
    save({"net": sd, "args": argparse.Namespace(lr=0.1, arch="resnet8"), "best_acc": numpy.float64(72.5),
          "epoch": numpy.int64(240), "optimizer": opt.state_dict(), "history": [1.0, 2.0, {"a": (1, 2)}]},
         "resnet8_net_extras.pt")
    save({"weights_v2": sd, "epoch": 3}, "resnet8_one_level_down.pt")
    save(sd, "resnet8_protocol4.pt", pickle_protocol=4)

    # A teacher as trained in PyTorch on Fashion-MNIST with grey replicated to 3 channels: 10 classes, 3 inputs.
    ten = collections.OrderedDict(sd)
    ten["fc.weight"] = sd["fc.weight"][:10].clone()
    ten["fc.bias"] = sd["fc.bias"][:10].clone()
    save(ten, "resnet8_10class_3channel.pt")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "data", "checkpoints"))
