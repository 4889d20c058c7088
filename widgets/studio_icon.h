#pragma once
#include <QIcon>
#include <QPixmap>

namespace rkd::gui {
/// The studio's icon (teacher stages, student stages, review links), painted at `size` pixels.
QPixmap studioIconPixmap(int size);
/// The icon at the usual sizes.
QIcon studioIcon();
}  // namespace rkd::gui
