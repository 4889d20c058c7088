#pragma once
// The tags of several runs at once: every known tag with a check box (checked: every selected run has it;
// partly checked: some have it, left as is unless changed), and a field for a new tag.
#include <QDialog>
#include <QString>
#include <QStringList>
#include <map>

class QLineEdit;
class QListWidget;

namespace rkd::gui {

class TagEditorDialog : public QDialog {
  Q_OBJECT

 public:
  /// `allTags`: the store's tags, in order; `counts`: how many of the `runs` selected runs carry each tag.
  TagEditorDialog(const QStringList& allTags, const std::map<QString, int>& counts, int runs, QWidget* parent);

  /// After exec(): the tags the user checked (to add to every run) and unchecked (to remove from every run).
  QStringList tagsToAdd() const;
  QStringList tagsToRemove() const;

 public Q_SLOTS:
  /// A tag typed but not added yet is added first: the user meant it.
  void accept() override;

 private:
  void addItem(const QString& tag, Qt::CheckState state);
  void addTyped();
  /// The tags whose state changed to `state` since the dialog opened.
  QStringList changedTo(Qt::CheckState state) const;

  QListWidget* m_list = nullptr;
  QLineEdit* m_edit = nullptr;
  std::map<QString, Qt::CheckState> m_initial;
};

}  // namespace rkd::gui
