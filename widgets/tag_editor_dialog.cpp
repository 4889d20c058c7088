#include "widgets/tag_editor_dialog.h"

#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include "widgets/history_text.h"

namespace rkd::gui {

TagEditorDialog::TagEditorDialog(const QStringList& allTags, const std::map<QString, int>& counts, int runs,
                                 QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(QStringLiteral("Tags of %1").arg(runCount(runs)));
  auto* layout = new QVBoxLayout(this);
  auto* help = new QLabel(QStringLiteral("Checked: every selected run has the tag. Partly checked: some have it (left as is)."), this);
  help->setWordWrap(true);
  layout->addWidget(help);
  m_list = new QListWidget(this);
  for (const QString& tag : allTags) {
    const auto it = counts.find(tag);
    const int c = it == counts.end() ? 0 : it->second;
    const Qt::CheckState state = c == 0 ? Qt::Unchecked : c == runs ? Qt::Checked : Qt::PartiallyChecked;
    m_initial[tag] = state;
    addItem(tag, state);
  }
  layout->addWidget(m_list, 1);
  auto* row = new QHBoxLayout;
  m_edit = new QLineEdit(this);
  m_edit->setPlaceholderText(QStringLiteral("New tag"));
  auto* add = new QPushButton(QStringLiteral("Add"), this);
  row->addWidget(m_edit, 1);
  row->addWidget(add);
  layout->addLayout(row);
  connect(add, &QPushButton::clicked, this, [this] { addTyped(); });
  connect(m_edit, &QLineEdit::returnPressed, this, [this] { addTyped(); });
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  add->setAutoDefault(false);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);
  resize(360, 420);
}

void TagEditorDialog::addItem(const QString& tag, Qt::CheckState state) {
  auto* item = new QListWidgetItem(tag, m_list);
  item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable | (state == Qt::PartiallyChecked ? Qt::ItemIsUserTristate : Qt::NoItemFlags));
  item->setCheckState(state);
}

void TagEditorDialog::addTyped() {
  const QString tag = m_edit->text().trimmed();
  if (tag.isEmpty()) return;
  const auto found = m_list->findItems(tag, Qt::MatchExactly);
  if (found.isEmpty())
    addItem(tag, Qt::Checked);
  else
    found.front()->setCheckState(Qt::Checked);
  m_edit->clear();
}

void TagEditorDialog::accept() {
  addTyped();
  QDialog::accept();
}

QStringList TagEditorDialog::changedTo(Qt::CheckState state) const {
  QStringList tags;
  for (int i = 0; i < m_list->count(); ++i) {
    const QListWidgetItem* item = m_list->item(i);
    const auto it = m_initial.find(item->text());
    const Qt::CheckState before = it == m_initial.end() ? Qt::Unchecked : it->second;
    if (item->checkState() != before && item->checkState() == state) tags << item->text();
  }
  return tags;
}

QStringList TagEditorDialog::tagsToAdd() const { return changedTo(Qt::Checked); }

QStringList TagEditorDialog::tagsToRemove() const { return changedTo(Qt::Unchecked); }

}  // namespace rkd::gui
