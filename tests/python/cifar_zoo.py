"""PyTorch definitions of the ReviewKD Studio zoo, written from the engine's C++ (core/models/*.cpp).

Every parameter and buffer has exactly the engine's name, so a state dict the studio exports loads with
``load_state_dict(sd, strict=True)``, and the eval-mode forward is the engine's: same layers, same order, and
the global average pool (adaptive) in front of the classifier, so any input size the engine accepts works.

    import torch, cifar_zoo
    model = cifar_zoo.build('resnet20', num_classes=100, in_channels=3)
    model.load_state_dict(torch.load('run-7.pt'))
    model.eval()

Only the logits are returned (what an export is used for); the stage features are the engine's business.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def _pool(x):
    # The engine's x.mean({2, 3}): adaptive average pool to 1x1, flattened.
    return x.mean(dim=(2, 3))


def _channel_shuffle(x, groups):
    if groups == 1:
        return x
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)


# ---- CIFAR ResNet (resnet8..110, resnet8x4, resnet32x4) -----------------------------------------------------

class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut (downsample.0 conv 1x1, downsample.1 BN), ReLU."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    def __init__(self, depth, widths, num_classes, in_channels):
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ValueError('ResNet depth must be 6n+2, got %d' % depth)
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        for s in range(3):
            blocks = []
            for i in range(n):
                stride = 2 if (i == 0 and s > 0) else 1
                blocks.append(BasicBlock(in_planes, widths[s + 1], stride))
                in_planes = widths[s + 1]
            setattr(self, 'layer%d' % (s + 1), nn.Sequential(*blocks))
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(_pool(x))


# ---- CIFAR ResNet50 -------------------------------------------------------------------------------------------

class Bottleneck(nn.Module):
    """1x1-3x3(stride)-1x1, expansion 4; shortcut.0 conv 1x1, shortcut.1 BN when the shape changes."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.shortcut = None
        if stride != 1 or in_planes != 4 * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, 4 * planes, 1, stride, bias=False), nn.BatchNorm2d(4 * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class ResNet50(nn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_planes = 64
        for s, (count, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
            blocks = []
            for i in range(count):
                blocks.append(Bottleneck(in_planes, planes, 2 if (i == 0 and s > 0) else 1))
                in_planes = 4 * planes
            setattr(self, 'layer%d' % (s + 1), nn.Sequential(*blocks))
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(_pool(x))


# ---- Wide ResNet (pre-activation) ---------------------------------------------------------------------------

class WrnBlock(nn.Module):
    """BN-ReLU-conv3x3(stride)-BN-ReLU-conv3x3 + identity on the raw x, or convShortcut on relu(bn1(x))."""

    def __init__(self, in_planes, out_planes, stride):
        super().__init__()
        self.equal_in_out = in_planes == out_planes
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, 1, 1, bias=False)
        self.convShortcut = None
        if not self.equal_in_out:
            self.convShortcut = nn.Conv2d(in_planes, out_planes, 1, stride, 0, bias=False)

    def forward(self, x):
        if self.equal_in_out:
            out = F.relu(self.bn1(x))
        else:
            x = F.relu(self.bn1(x))  # the shortcut takes the activated input
            out = x
        out = F.relu(self.bn2(self.conv1(out)))
        out = self.conv2(out)
        return (x if self.equal_in_out else self.convShortcut(x)) + out


class WrnGroup(nn.Module):
    """The reference's NetworkBlock: its blocks live under `layer`."""

    def __init__(self, n, in_planes, out_planes, stride):
        super().__init__()
        self.layer = nn.Sequential(*[WrnBlock(in_planes if i == 0 else out_planes, out_planes,
                                              stride if i == 0 else 1) for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth, widen, num_classes, in_channels):
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError('WRN depth must be 6n+4, got %d' % depth)
        n = (depth - 4) // 6
        ch = (16, 16 * widen, 32 * widen, 64 * widen)
        self.conv1 = nn.Conv2d(in_channels, ch[0], 3, 1, 1, bias=False)
        self.block1 = WrnGroup(n, ch[0], ch[1], 1)
        self.block2 = WrnGroup(n, ch[1], ch[2], 2)
        self.block3 = WrnGroup(n, ch[2], ch[3], 2)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.fc = nn.Linear(ch[3], num_classes)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.fc(_pool(F.relu(self.bn1(x))))


# ---- VGG with BatchNorm -------------------------------------------------------------------------------------

class VGG(nn.Module):
    """blockB = [conv, BN, ReLU] per conv with the block's last ReLU dropped (applied in forward)."""

    def __init__(self, cfg, num_classes, in_channels):
        super().__init__()
        in_planes = in_channels
        for b, widths in enumerate(cfg):
            layers = []
            for w in widths:
                layers += [nn.Conv2d(in_planes, w, 3, padding=1, bias=True), nn.BatchNorm2d(w), nn.ReLU()]
                in_planes = w
            setattr(self, 'block%d' % b, nn.Sequential(*layers[:-1]))
        self.num_blocks = len(cfg)
        self.classifier = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        height = x.shape[2]
        x = F.relu(self.block0(x))
        for b in range(1, self.num_blocks):
            # pool0..2 always, pool3 only for inputs of 64 and more (the engine's rule).
            if b <= 3 or height >= 64:
                x = F.max_pool2d(x, 2, 2)
            x = F.relu(getattr(self, 'block%d' % b)(x))
        return self.classifier(_pool(x))


# ---- MobileNetV2 (width 0.5, expansion 6) -------------------------------------------------------------------

def _conv_bn(in_planes, out_planes, kernel, stride, groups, relu):
    layers = [nn.Conv2d(in_planes, out_planes, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_planes)]
    if relu:
        layers.append(nn.ReLU())
    return layers


class InvertedResidual(nn.Module):
    """conv.{0,1,2}: 1x1 expand-BN-ReLU, conv.{3,4,5}: depthwise 3x3-BN-ReLU, conv.{6,7}: 1x1 project-BN."""

    def __init__(self, in_planes, out_planes, stride, expand):
        super().__init__()
        hidden = in_planes * expand
        self.residual = stride == 1 and in_planes == out_planes
        self.conv = nn.Sequential(*(_conv_bn(in_planes, hidden, 1, 1, 1, True)
                                    + _conv_bn(hidden, hidden, 3, stride, hidden, True)
                                    + _conv_bn(hidden, out_planes, 1, 1, 1, False)))

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    SETTING = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1))

    def __init__(self, num_classes, in_channels, width=0.5):
        super().__init__()
        in_planes = int(32 * width)
        self.conv1 = nn.Sequential(*_conv_bn(in_channels, in_planes, 3, 2, 1, True))
        groups = []
        for t, c, n, s in self.SETTING:
            out_planes = int(c * width)
            group = []
            for i in range(n):
                group.append(InvertedResidual(in_planes, out_planes, s if i == 0 else 1, t))
                in_planes = out_planes
            groups.append(nn.Sequential(*group))
        self.blocks = nn.Sequential(*groups)
        self.conv2 = nn.Sequential(*_conv_bn(in_planes, 1280, 1, 1, 1, True))
        self.classifier = nn.Sequential(nn.Linear(1280, num_classes))

    def forward(self, x):
        x = self.conv2(self.blocks(self.conv1(x)))
        return self.classifier(_pool(x))


# ---- ShuffleNetV1 (3 groups) --------------------------------------------------------------------------------

class ShuffleV1Unit(nn.Module):
    """Grouped 1x1-BN-ReLU, shuffle, depthwise 3x3-BN-ReLU, grouped 1x1-BN; + x, or at stride 2 concatenated
    with AvgPool(3, 2, 1) of x; ReLU."""

    def __init__(self, in_planes, out_planes, stride, groups, first_unit):
        super().__init__()
        self.stride = stride
        self.g1 = 1 if first_unit else groups
        mid = out_planes // 4
        self.conv1 = nn.Conv2d(in_planes, mid, 1, groups=self.g1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_planes, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = _channel_shuffle(out, self.g1)
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.stride == 2:
            out = torch.cat([out, F.avg_pool2d(x, 3, 2, 1)], 1)
        else:
            out = out + x
        return F.relu(out)


class ShuffleV1(nn.Module):
    def __init__(self, num_classes, in_channels, groups=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        in_planes = 24
        for s, (out_planes, count) in enumerate(zip((240, 480, 960), (4, 8, 4))):
            units = []
            for i in range(count):
                cat_planes = in_planes if i == 0 else 0
                units.append(ShuffleV1Unit(in_planes, out_planes - cat_planes, 2 if i == 0 else 1, groups,
                                           first_unit=in_planes == 24))
                in_planes = out_planes
            setattr(self, 'layer%d' % (s + 1), nn.Sequential(*units))
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(_pool(x))


# ---- ShuffleNetV2 (1x) --------------------------------------------------------------------------------------

class ShuffleV2DownBlock(nn.Module):
    """left: dw3x3(s2)-BN, 1x1-BN-ReLU; right: 1x1-BN-ReLU, dw3x3(s2)-BN, 1x1-BN-ReLU; concat, shuffle 2."""

    def __init__(self, in_planes, out_planes):
        super().__init__()
        mid = out_planes // 2
        self.conv1 = nn.Conv2d(in_planes, in_planes, 3, 2, 1, groups=in_planes, bias=False)
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv2 = nn.Conv2d(in_planes, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(in_planes, mid, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv4 = nn.Conv2d(mid, mid, 3, 2, 1, groups=mid, bias=False)
        self.bn4 = nn.BatchNorm2d(mid)
        self.conv5 = nn.Conv2d(mid, mid, 1, bias=False)
        self.bn5 = nn.BatchNorm2d(mid)

    def forward(self, x):
        left = self.bn1(self.conv1(x))
        left = F.relu(self.bn2(self.conv2(left)))
        right = F.relu(self.bn3(self.conv3(x)))
        right = self.bn4(self.conv4(right))
        right = F.relu(self.bn5(self.conv5(right)))
        return _channel_shuffle(torch.cat([left, right], 1), 2)


class ShuffleV2BasicBlock(nn.Module):
    """Split in halves; the second: 1x1-BN-ReLU, dw3x3-BN, 1x1-BN-ReLU; concat, shuffle 2."""

    def __init__(self, channels):
        super().__init__()
        c = channels // 2
        self.conv1 = nn.Conv2d(c, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(c, c, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c)

    def forward(self, x):
        c = x.shape[1] // 2
        x1, x2 = x[:, :c], x[:, c:]
        out = F.relu(self.bn1(self.conv1(x2)))
        out = self.bn2(self.conv2(out))
        out = F.relu(self.bn3(self.conv3(out)))
        return _channel_shuffle(torch.cat([x1, out], 1), 2)


class ShuffleV2(nn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        out_channels = (116, 232, 464, 1024)
        self.conv1 = nn.Conv2d(in_channels, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        in_planes = 24
        for s, basic in enumerate((3, 7, 3)):
            units = [ShuffleV2DownBlock(in_planes, out_channels[s])]
            units += [ShuffleV2BasicBlock(out_channels[s]) for _ in range(basic)]
            setattr(self, 'layer%d' % (s + 1), nn.Sequential(*units))
            in_planes = out_channels[s]
        self.conv2 = nn.Conv2d(in_planes, out_channels[3], 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels[3])
        self.linear = nn.Linear(out_channels[3], num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.linear(_pool(x))


# ---- the zoo ------------------------------------------------------------------------------------------------

_VGG_CFG = {
    'vgg8': [[64], [128], [256], [512], [512]],
    'vgg11': [[64], [128], [256, 256], [512, 512], [512, 512]],
    'vgg13': [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    'vgg16': [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    'vgg19': [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
}


def _factories():
    f = {}
    for depth in (8, 14, 20, 32, 44, 56, 110):
        f['resnet%d' % depth] = (lambda d: lambda nc, ic: ResNet(d, (16, 16, 32, 64), nc, ic))(depth)
    for depth in (8, 32):
        f['resnet%dx4' % depth] = (lambda d: lambda nc, ic: ResNet(d, (32, 64, 128, 256), nc, ic))(depth)
    for depth, widen in ((16, 1), (16, 2), (40, 1), (40, 2)):
        f['wrn-%d-%d' % (depth, widen)] = (lambda d, k: lambda nc, ic: WideResNet(d, k, nc, ic))(depth, widen)
    for name, cfg in _VGG_CFG.items():
        f[name] = (lambda c: lambda nc, ic: VGG(c, nc, ic))(cfg)
    f['mobilenetv2'] = MobileNetV2
    f['shufflev1'] = ShuffleV1
    f['shufflev2'] = ShuffleV2
    f['resnet50'] = ResNet50
    return f


_ZOO = _factories()

#: Every network name, in the engine's zoo order.
ARCHS = tuple(_ZOO)


def build(arch, num_classes=100, in_channels=3):
    """A fresh network `arch` of the studio's zoo (PyTorch's default initialisation)."""
    if arch not in _ZOO:
        raise ValueError("unknown network '%s'; allowed: %s" % (arch, ', '.join(ARCHS)))
    if num_classes <= 0 or in_channels <= 0:
        raise ValueError('num_classes and in_channels must be positive')
    return _ZOO[arch](num_classes, in_channels)
