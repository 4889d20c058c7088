#include "widgets/studio_icon.h"

#include <QPainter>
#include <QPainterPath>

namespace rkd::gui {

// Same drawing as resources/icons/reviewkd-studio.svg (128-unit canvas), painted so no SVG plugin is needed.
QPixmap studioIconPixmap(int size) {
  QPixmap pm(size, size);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  p.setRenderHint(QPainter::Antialiasing);
  p.scale(size / 128.0, size / 128.0);
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(0x1f, 0x4e, 0x79));
  p.drawRoundedRect(QRectF(4, 4, 120, 120), 22, 22);
  const QColor teacher[] = {QColor(0x9e, 0xca, 0xe1), QColor(0x6b, 0xae, 0xd6), QColor(0x42, 0x92, 0xc6), QColor(0x21, 0x71, 0xb5)};
  for (int i = 0; i < 4; ++i) {
    p.setBrush(teacher[i]);
    p.drawRoundedRect(QRectF(18, 22 + 20 * i, 30, 14), 3, 3);
  }
  const QColor student[] = {QColor(0xfd, 0xd0, 0xa2), QColor(0xfd, 0xae, 0x6b), QColor(0xfd, 0x8d, 0x3c)};
  for (int i = 0; i < 3; ++i) {
    p.setBrush(student[i]);
    p.drawRoundedRect(QRectF(84, 34 + 18 * i, 26, 12), 3, 3);
  }
  QPen link(Qt::white, 3);
  link.setCapStyle(Qt::RoundCap);
  p.setPen(link);
  p.setBrush(Qt::NoBrush);
  const double curves[][4] = {{40, 40, 29, 29}, {58, 58, 49, 49}, {58, 58, 33, 31}, {76, 76, 69, 69}, {76, 76, 89, 89}};
  for (const auto& c : curves) {
    QPainterPath path(QPointF(84, c[0]));
    path.cubicTo(QPointF(66, c[1]), QPointF(66, c[2]), QPointF(48, c[3]));
    p.drawPath(path);
  }
  return pm;
}

QIcon studioIcon() {
  QIcon icon;
  for (int s : {16, 24, 32, 48, 64, 128, 256}) icon.addPixmap(studioIconPixmap(s));
  return icon;
}

}  // namespace rkd::gui
