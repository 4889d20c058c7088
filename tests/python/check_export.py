#!/usr/bin/python3
"""Loads a file the studio exported into the PyTorch definition of its network and compares logits.

    check_export.py FILE ARCH CLASSES CHANNELS REFERENCE

FILE       what the engine wrote: a flat state dict (rkd::exportStateDict, studio::exportWeights,
           `reviewkd runs weights`) or a trainer checkpoint (a flat dict whose network entries are prefixed
           `model.` beside `head.`, `optim.` and `meta.` entries).
ARCH       the zoo name (resnet20, wrn-40-2, ...); CLASSES and CHANNELS as the network was built.
REFERENCE  a file written by rkd::writeTensorFile holding {'input': N x C x H x W, 'logits': N x CLASSES},
           the engine's eval-mode logits on that input.

Prints one line `arch=... max_rel_err=...` (error max|a - b| / max|b| over the logits, b = the engine's) and exits
0 when it is within 1e-5, 1 when the file does not load strictly or the logits differ (saying why), 2 for usage
errors (wrong arguments, unknown network, missing files, a reference without `input`/`logits`).
"""

import os
import sys

TOLERANCE = 1e-5
USAGE = 'usage: check_export.py FILE ARCH CLASSES CHANNELS REFERENCE'


def usage_error(message):
    print('error: ' + message, file=sys.stderr)
    print(USAGE, file=sys.stderr)
    sys.exit(2)


def fail(arch, message, err=None):
    line = 'arch=%s max_rel_err=%s' % (arch, 'n/a' if err is None else '%.3e' % err)
    print(line + ' FAIL: ' + message)
    sys.exit(1)


def network_entries(loaded):
    """The network's state dict out of what torch.load returned, and a word on the layout found."""
    if not isinstance(loaded, dict):
        return None, 'a %s, not a dict of tensors' % type(loaded).__name__
    # No zoo network has a `model` submodule, so `model.` keys can only be a trainer checkpoint's.
    model = {k[len('model.'):]: v for k, v in loaded.items() if isinstance(k, str) and k.startswith('model.')}
    if model:
        return model, 'trainer checkpoint (%d of %d entries under model.)' % (len(model), len(loaded))
    return dict(loaded), 'flat state dict (%d entries)' % len(loaded)


def main(argv):
    if len(argv) != 6:
        usage_error('expected 5 arguments, got %d' % (len(argv) - 1))
    path, arch, classes, channels, reference = argv[1:]
    try:
        classes, channels = int(classes), int(channels)
    except ValueError:
        usage_error('CLASSES and CHANNELS must be integers, got %r and %r' % (argv[3], argv[4]))
    for p in (path, reference):
        if not os.path.isfile(p):
            usage_error("no such file: '%s'" % p)

    import torch
    sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import cifar_zoo
    torch.manual_seed(0)
    try:
        model = cifar_zoo.build(arch, classes, channels)
    except ValueError as e:
        usage_error(str(e))

    ref = torch.load(reference, map_location='cpu')
    if not isinstance(ref, dict) or 'input' not in ref or 'logits' not in ref:
        usage_error("reference '%s' must be a dict with 'input' and 'logits'" % reference)

    try:
        loaded = torch.load(path, map_location='cpu')
    except Exception as e:  # a file Python cannot read is exactly what this check is for
        fail(arch, "torch.load('%s') failed: %s" % (path, e))
    sd, layout = network_entries(loaded)
    if sd is None:
        fail(arch, "'%s' holds %s" % (path, layout))
    non_tensors = sorted(k for k, v in sd.items() if not torch.is_tensor(v))
    if non_tensors:
        fail(arch, 'non-tensor entries in %s: %s' % (layout, ', '.join(map(str, non_tensors))))

    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted('%s: file %s vs model %s' % (k, list(sd[k].shape), list(own[k].shape))
                    for k in set(sd) & set(own) if sd[k].shape != own[k].shape)
    # load_state_dict would convert silently; a Python user expects the dtypes PyTorch itself uses.
    dtypes = sorted('%s: file %s vs model %s' % (k, sd[k].dtype, own[k].dtype)
                    for k in set(sd) & set(own) if sd[k].dtype != own[k].dtype)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        print('load_state_dict(strict=True) failed for %s of %s:' % (layout, path))
        print('  missing keys (%d): %s' % (len(missing), ', '.join(missing) or '-'))
        print('  unexpected keys (%d): %s' % (len(unexpected), ', '.join(unexpected) or '-'))
        for s in shapes:
            print('  shape mismatch ' + s)
        print('  ' + str(e).replace('\n', '\n  '))
        fail(arch, 'the file does not load strictly into cifar_zoo.%s' % arch)
    if dtypes:
        fail(arch, 'dtype differences: ' + '; '.join(dtypes))

    model.eval()
    with torch.no_grad():
        logits = model(ref['input'].float())
    expected = ref['logits'].float()
    if logits.shape != expected.shape:
        fail(arch, 'logits shape %s vs the engine\'s %s' % (list(logits.shape), list(expected.shape)))
    if not torch.isfinite(logits).all():
        fail(arch, 'non-finite logits')
    err = ((logits - expected).abs().max() / expected.abs().max().clamp_min(1e-6)).item()
    if not err <= TOLERANCE:
        fail(arch, 'logits differ beyond %g (%s; max|engine| %.4g)' % (TOLERANCE, layout, expected.abs().max().item()),
             err)
    print('arch=%s max_rel_err=%.3e (%s, input %s)' % (arch, err, layout, 'x'.join(map(str, ref['input'].shape))))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
