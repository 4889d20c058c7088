#pragma once
// The experiment form's "Dataset" group: which data, where, how much of it (per class, validation), its image
// size and channels, and the last check's verdict. It keeps the data settings the form does not show (from the
// last load) so dataConfig() is complete.
#include <QGroupBox>

#include "core/services/inspect.h"
#include "core/vocabulary/run_config.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace rkd::gui {

class DatasetGroup : public QGroupBox {
  Q_OBJECT

 public:
  explicit DatasetGroup(QWidget* parent);

  void load(const rkd::RunConfig& config);
  void apply(rkd::RunConfig& config) const { config.data = dataConfig(); }
  /// The data settings as the form shows them, over those of the last load.
  rkd::DataConfig dataConfig() const;
  /// While a job runs nothing is editable; the image size is only for image folders.
  void updateEnabled(bool editable);

  /// The dataset is being read (grey), or the check's report (green, red when it failed).
  void showChecking();
  void showReport(const rkd::services::DatasetReport& report);

  QComboBox* kindCombo() const { return m_kind; }
  QLineEdit* pathEdit() const { return m_path; }
  QSpinBox* perClassSpin() const { return m_perClass; }
  QSpinBox* validationSpin() const { return m_validation; }
  QComboBox* channelsCombo() const { return m_channels; }
  QLabel* statusLabel() const { return m_status; }

 Q_SIGNALS:
  /// The user chose another kind of data (the location was cleared first).
  void kindChanged();
  /// A field changed; `shapeToo` when the images' size or channels may have changed with it.
  void edited(bool shapeToo);

 private:
  bool m_loading = false;  // load() in progress: no per-field reactions
  rkd::DataConfig m_base;

  QComboBox* m_kind = nullptr;
  QLineEdit* m_path = nullptr;
  QPushButton* m_browse = nullptr;
  QSpinBox* m_perClass = nullptr;
  QSpinBox* m_testPerClass = nullptr;
  QSpinBox* m_validation = nullptr;
  QSpinBox* m_padTo = nullptr;
  QSpinBox* m_imageSize = nullptr;
  QComboBox* m_channels = nullptr;
  QLabel* m_status = nullptr;
};

}  // namespace rkd::gui
