// The statistics of repeated runs (core/services/statistics.h) on samples whose answers are known, and the
// study tables made of them (core/services/study_table.h): Python's
// statistics module (mean, stdev), the closed forms of Student's t for 1 and 2 degrees of freedom, and the
// printed t table (two-sided 95% and 99%, six digits).
#include <QtTest/QtTest>

#include <cmath>
#include <map>
#include <vector>

#include "core/common/errors.h"
#include "core/services/statistics.h"
#include "core/services/study_table.h"

namespace stats = rkd::services::stats;

namespace {

bool near(double a, double b, double tolerance) { return std::abs(a - b) <= tolerance * std::max(1.0, std::abs(b)); }

}  // namespace

class TestStatistics : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void tDistributionClosedForms() {
    // df = 1 is the Cauchy distribution, df = 2 has a closed form too: P(T <= t) = 1/2 + t / (2 sqrt(2 + t^2)).
    for (double t : {-30.0, -2.5, -0.3, 0.0, 0.7, 4.0, 12.7, 100.0}) {
      QVERIFY2(near(stats::studentTCdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-12), qPrintable(QString::number(t)));
      QVERIFY2(near(stats::studentTCdf(t, 2), 0.5 + t / (2.0 * std::sqrt(2.0 + t * t)), 1e-12),
               qPrintable(QString::number(t)));
    }
    for (double p : {0.6, 0.9, 0.975, 0.995, 0.9995}) {
      QVERIFY(near(stats::studentTQuantile(p, 1), std::tan(M_PI * (p - 0.5)), 1e-9));
      QVERIFY(near(stats::studentTQuantile(p, 2), (2 * p - 1) * std::sqrt(2.0 / (4 * p * (1 - p))), 1e-9));
      QVERIFY(near(stats::studentTQuantile(1 - p, 2), -stats::studentTQuantile(p, 2), 1e-12));
    }
    QCOMPARE(stats::studentTQuantile(0.5, 7), 0.0);
  }

  void tDistributionAgainstTheTable() {
    // Two-sided 95% (p = 0.975) and 99% (p = 0.995) critical values, as printed to six digits.
    const std::vector<std::pair<double, double>> at975 = {
        {3, 3.182446}, {4, 2.776445}, {5, 2.570582}, {7, 2.364624}, {9, 2.262157}, {10, 2.228139}, {29, 2.045230}};
    for (const auto& [df, t] : at975) {
      QVERIFY2(near(stats::studentTQuantile(0.975, df), t, 3e-7), qPrintable(QString::number(df)));
      QVERIFY(near(stats::studentTTwoSided(t, df), 0.05, 1e-5));
    }
    const std::vector<std::pair<double, double>> at995 = {{4, 4.604095}, {9, 3.249836}, {29, 2.756386}};
    for (const auto& [df, t] : at995) {
      QVERIFY2(near(stats::studentTQuantile(0.995, df), t, 3e-7), qPrintable(QString::number(df)));
      QVERIFY(near(stats::studentTTwoSided(-t, df), 0.01, 1e-5));
    }
    QCOMPARE(stats::studentTTwoSided(0.0, 5), 1.0);
    QCOMPARE(stats::studentTTwoSided(INFINITY, 5), 0.0);
  }

  void incompleteBetaEdges() {
    QCOMPARE(stats::incompleteBeta(0, 2, 3), 0.0);
    QCOMPARE(stats::incompleteBeta(1, 2, 3), 1.0);
    // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b.
    for (double x : {0.01, 0.3, 0.5, 0.77, 0.999}) {
      QVERIFY(near(stats::incompleteBeta(x, 1, 1), x, 1e-13));
      QVERIFY(near(stats::incompleteBeta(x, 3.5, 1), std::pow(x, 3.5), 1e-12));
      QVERIFY(near(stats::incompleteBeta(x, 1, 4), 1 - std::pow(1 - x, 4), 1e-12));
    }
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, stats::incompleteBeta(1.5, 1, 1));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, stats::studentTQuantile(1.0, 3));
  }

  void summaryOfASample() {
    // Python: statistics.mean and statistics.stdev of the same values.
    const stats::Summary s = stats::summarize({2, 4, 4, 4, 5, 5, 7, 9});
    QCOMPARE(s.n, size_t(8));
    QCOMPARE(s.mean, 5.0);
    QVERIFY(near(s.sd, 2.138089935299395, 1e-14));
    QCOMPARE(s.min, 2.0);
    QCOMPARE(s.max, 9.0);
    QVERIFY(s.ciLow && s.ciHigh);
    const double half = 2.364624 * 2.138089935299395 / std::sqrt(8.0);  // t(0.975, 7) from the table
    QVERIFY(near(*s.ciLow, 5.0 - half, 1e-6));
    QVERIFY(near(*s.ciHigh, 5.0 + half, 1e-6));

    const stats::Summary three = stats::summarize({71.32, 70.88, 71.95});
    QVERIFY(near(three.mean, 71.38333333333333, 1e-14));
    QVERIFY(near(three.sd, 0.5378041774971051, 1e-13));
    const double half3 = 4.302652729749464 * 0.5378041774971051 / std::sqrt(3.0);
    QVERIFY(near(*three.ciHigh - three.mean, half3, 1e-9));
  }

  void smallSamples() {
    const stats::Summary one = stats::summarize({70.1});
    QCOMPARE(one.n, size_t(1));
    QCOMPARE(one.mean, 70.1);
    QVERIFY(std::isnan(one.sd));
    QVERIFY(!one.ciLow && !one.ciHigh);  // n = 1: no interval
    const stats::Summary two = stats::summarize({70.0, 72.0});
    QCOMPARE(two.n, size_t(2));
    QCOMPARE(two.mean, 71.0);
    QVERIFY(near(two.sd, std::sqrt(2.0), 1e-14));
    QVERIFY(near(*two.ciHigh - 71.0, 12.706204736174696 * std::sqrt(2.0) / std::sqrt(2.0), 1e-8));  // t(0.975, 1)
    const stats::Summary none = stats::summarize({});
    QCOMPARE(none.n, size_t(0));
    QVERIFY(std::isnan(none.mean));
  }

  void pairedBySeed() {
    // Seeds 1..3 shared, seed 4 only in the baseline, seed 9 only in the row: differences 2.0, 1.5, 1.5.
    const std::map<int64_t, double> row{{1, 71.0}, {2, 72.0}, {3, 70.5}, {9, 99.0}};
    const std::map<int64_t, double> base{{1, 69.0}, {2, 70.5}, {3, 69.0}, {4, 68.0}};
    const stats::PairedDifference d = stats::pairedDifference(row, base);
    QCOMPARE(d.n, size_t(3));
    QVERIFY(near(d.mean, 1.6666666666666667, 1e-14));
    QVERIFY(near(d.sd, 0.28867513459481287, 1e-13));
    // t = 10 with 2 degrees of freedom: p = 1 - 10 / sqrt(102) in closed form.
    QVERIFY(d.pValue);
    QVERIFY(near(*d.pValue, 0.0098524570233256, 1e-10));
    const double half = 4.302652729749464 * 0.28867513459481287 / std::sqrt(3.0);
    QVERIFY(near(*d.ciLow, d.mean - half, 1e-9));
    QVERIFY(near(*d.ciHigh, d.mean + half, 1e-9));
    QVERIFY(d.significant());

    // Noise around no effect: the interval contains 0.
    const stats::PairedDifference noise =
        stats::pairedDifference({{1, 70.0}, {2, 71.0}, {3, 69.5}}, {{1, 70.5}, {2, 70.0}, {3, 70.0}});
    QVERIFY(!noise.significant());
    QVERIFY(*noise.pValue > 0.05);

    // One shared seed: a difference, no interval, no p-value.
    const stats::PairedDifference single = stats::pairedDifference({{1, 71.0}, {2, 70.0}}, {{2, 69.0}});
    QCOMPARE(single.n, size_t(1));
    QCOMPARE(single.mean, 1.0);
    QVERIFY(!single.ciLow && !single.pValue && !single.significant());

    // The same difference on every seed: sd 0, the interval is that value, p = 0.
    const stats::PairedDifference constant =
        stats::pairedDifference({{1, 72.0}, {2, 73.0}}, {{1, 71.0}, {2, 72.0}});
    QCOMPARE(constant.sd, 0.0);
    QCOMPARE(*constant.ciLow, 1.0);
    QCOMPARE(*constant.pValue, 0.0);
    QVERIFY(constant.significant());
  }

  void studyTables() {
    using rkd::services::StudyMetric;
    // Three seeds of the student alone and of ReviewKD (differences 2.0, 1.5, 1.5: t = 10, df = 2), one seed of
    // Hinton KD, a row that finished nothing, and a label that needs quoting and escaping.
    const std::vector<rkd::services::StudyRowValues> values = {
        {"student alone", {{1, 69.0}, {2, 70.5}, {3, 69.0}}, 69.06},
        {"Hinton KD", {{1, 70.0}}, std::nullopt},
        {"ReviewKD", {{1, 71.0}, {2, 72.0}, {3, 70.5}}, 71.89},
        {"not run", {}, std::nullopt},
        {"a_b & c%, d", {{2, 69.5}, {3, 69.0}}, std::nullopt},
    };
    const auto rows = rkd::services::studyStatistics(values, "student alone");
    QCOMPARE(int(rows.size()), 5);
    QVERIFY(!rows[0].delta);  // the baseline itself
    QVERIFY(rows[2].delta && rows[2].delta->significant());

    const QStringList csv = QString::fromStdString(rkd::services::studyCsv(rows, StudyMetric::Best)).split('\n');
    QCOMPARE(csv[0], QStringLiteral("row,metric,n,mean,std,ci95_low,ci95_high,delta,delta_ci95_low,delta_ci95_high,"
                                    "p_value,paper"));
    QCOMPARE(csv[1], QStringLiteral("student alone,best,3,69.5000,0.8660,67.3487,71.6513,,,,,69.0600"));
    QCOMPARE(csv[2], QStringLiteral("Hinton KD,best,1,70.0000,,,,1.0000,,,,"));
    QCOMPARE(csv[3], QStringLiteral("ReviewKD,best,3,71.1667,0.7638,69.2694,73.0640,1.6667,0.9496,2.3838,0.00985246,"
                                    "71.8900"));
    QCOMPARE(csv[4], QStringLiteral("not run,best,0,,,,,,,,,"));
    QVERIFY(csv[5].startsWith(QStringLiteral("\"a_b & c%, d\",best,2,69.2500,")));
    QCOMPARE(csv[6], QString());  // the text ends with a newline
    QCOMPARE(csv.size(), 7);

    const QString md = QString::fromStdString(rkd::services::studyMarkdown("resnet56 -> resnet20", rows,
                                                                          StudyMetric::Last));
    QVERIFY(md.contains(QStringLiteral("Top-1 (last), mean \u00b1 std (n)")));
    QVERIFY(md.contains(QStringLiteral("| student alone | 69.50 \u00b1 0.87 (3) | [67.35, 71.65] |")));
    QVERIFY(md.contains(QStringLiteral("| ReviewKD | 71.17 \u00b1 0.76 (3) | [69.27, 73.06] | +1.67 * | [0.95, 2.38] "
                                       "| 0.0099 | 71.89 |")));
    QVERIFY(md.contains(QStringLiteral("| Hinton KD | 70.00 (n=1) |  | +1.00 |  |  |  |")));
    QVERIFY(md.contains(QStringLiteral("| not run | no finished run |")));
    QVERIFY(md.contains(QStringLiteral("excludes 0")));

    const QString tex = QString::fromStdString(rkd::services::studyLatex("Ablation, 3 seeds", rows,
                                                                         StudyMetric::Best));
    QVERIFY(tex.contains(QStringLiteral("\\toprule")));
    QVERIFY(tex.contains(QStringLiteral("\\midrule")));
    QVERIFY(tex.contains(QStringLiteral("\\bottomrule")));
    QVERIFY(tex.contains(QStringLiteral("Row & Top-1 (best) & $\\Delta$ vs student alone & Paper \\\\")));
    QVERIFY(tex.contains(QStringLiteral("\\textbf{ReviewKD} & \\textbf{71.17 $\\pm$ 0.76 (3)} & $+1.67$ [0.95, 2.38] & "
                                        "71.89 \\\\")));
    QVERIFY(tex.contains(QStringLiteral("student alone & 69.50 $\\pm$ 0.87 (3) & -- & 69.06 \\\\")));
    QVERIFY(tex.contains(QStringLiteral("a\\_b \\& c\\%, d & ")));
    QCOMPARE(tex.count(QStringLiteral("\\textbf{")), 2);  // one bold row

    QCOMPARE(rkd::services::studyMetricFromName("last"), StudyMetric::Last);
    QVERIFY_THROWS_EXCEPTION(rkd::InputError, rkd::services::studyMetricFromName("mean"));
  }
};

QTEST_GUILESS_MAIN(TestStatistics)
#include "test_statistics.moc"
