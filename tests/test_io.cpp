#include <QtTest/QtTest>

#include "core/common/errors.h"
#include "core/io/tensor_file.h"
#include "test_support.h"

class TestIo : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void readsGoldenFile() {
    auto path = rkdtest::findGolden("architectures/resnet8.pt");
    QVERIFY(!path.empty());
    auto t = rkd::readTensorFile(path);
    QVERIFY(t.count("input"));
    QCOMPARE(t.at("input").sizes().vec(), (std::vector<int64_t>{2, 3, 32, 32}));
  }
};

QTEST_GUILESS_MAIN(TestIo)
#include "test_io.moc"
