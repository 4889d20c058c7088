#pragma once
// The experiment form's "Student and method" group: the student network, the method, ReviewKD's four switches
// (residual needs review, ABF needs residual: a switch that is not allowed is off and says why), the loss
// weights, and the level table the pair derives.
#include <QGroupBox>
#include <QString>

#include "core/services/inspect.h"
#include "core/vocabulary/run_config.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTableWidget;

namespace rkd::gui {

class StudentGroup : public QGroupBox {
  Q_OBJECT

 public:
  explicit StudentGroup(QWidget* parent);

  /// A teacher config (kind "teacher") shows as "student alone".
  void load(const rkd::RunConfig& config);
  /// Writes the student, method, review settings and KD weights onto `config`. Its incoming method decides the
  /// CE weight: Hinton KD keeps a KD config's CE weight (else the usual 0.1); leaving KD restores 1.0.
  void apply(rkd::RunConfig& config) const;
  /// Empty, or what is wrong with a field that does not parse (the HCL pyramid).
  QString fieldError() const;
  /// While a job runs nothing is editable; the switches and weights follow the method, the switches each other.
  void updateEnabled(bool editable);

  QString method() const;
  /// The method distils from a teacher (not "student alone").
  bool needsTeacher() const;
  QString arch() const;
  void setReviewWeight(double weight);

  /// The derived level table, or its error in red.
  void showLevels(const rkd::services::LevelTable& table);
  /// No table (yet), and why.
  void clearLevels(const QString& note);
  /// The note under the table ("Deriving the levels...").
  void setLevelNote(const QString& note);

  QComboBox* archCombo() const { return m_arch; }
  QComboBox* methodCombo() const { return m_method; }
  QCheckBox* reviewCheck() const { return m_review; }
  QCheckBox* residualCheck() const { return m_residual; }
  QCheckBox* abfCheck() const { return m_abf; }
  QCheckBox* hclCheck() const { return m_hcl; }
  QLineEdit* pyramidEdit() const { return m_pyramid; }
  QDoubleSpinBox* reviewWeightSpin() const { return m_reviewWeight; }
  QTableWidget* levelTable() const { return m_levels; }
  QLabel* levelNote() const { return m_levelNote; }

 Q_SIGNALS:
  /// A switch was toggled.
  void switchToggled();
  /// The user chose another method (the KD weight already follows it).
  void methodChanged();
  /// The student network changed.
  void pairChanged();
  /// A weight or the pyramid changed.
  void edited();

 private:
  bool m_loading = false;  // load() in progress: no per-field reactions

  QComboBox* m_arch = nullptr;
  QComboBox* m_method = nullptr;
  QCheckBox* m_review = nullptr;
  QCheckBox* m_residual = nullptr;
  QCheckBox* m_abf = nullptr;
  QCheckBox* m_hcl = nullptr;
  QLineEdit* m_pyramid = nullptr;
  QDoubleSpinBox* m_reviewWeight = nullptr;
  QSpinBox* m_warmup = nullptr;
  QDoubleSpinBox* m_kdWeight = nullptr;
  QDoubleSpinBox* m_kdTemperature = nullptr;
  QTableWidget* m_levels = nullptr;
  QLabel* m_levelNote = nullptr;
};

}  // namespace rkd::gui
