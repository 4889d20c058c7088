#pragma once
// The frozen teacher of a distillation run: which file its weights come from (teacher.checkpoint, or the
// checkpoint of teacher.run), the input channels that file implies for data.channels "auto", and the network
// loaded from it, with a message that says what the file does fit when it does not.
#include <cstdint>
#include <string>

#include "core/io/checkpoint.h"
#include "core/models/backbone.h"
#include "core/vocabulary/run_config.h"
#include "core/store/run_store.h"

namespace rkd {

/// Resolves, reads and loads the teacher of one run. Throws InputError for a teacher that cannot be used.
class TeacherLoader {
 public:
  /// Finds the teacher's file and reads its weights: teacher.checkpoint, or the best (else last) checkpoint of
  /// teacher.run, whose trained network then fills teacher.arch. `method` names the run's method in messages.
  /// Throws InputError: no teacher named, an unknown or unfinished teacher run, a teacher.arch that contradicts
  /// the run, a run without checkpoint, a file that cannot be read.
  TeacherLoader(RunStore& store, TeacherSource& teacher, const std::string& method);

  /// The file the weights come from.
  const std::string& file() const { return m_file; }
  /// For data.channels "auto": the input channels (1 or 3) the teacher's first convolution takes, so that the
  /// images and the student follow it; 0 when the config decides (not "auto") or the file does not say.
  int64_t autoInputChannels(const DataConfig& data) const;
  /// The teacher network (teacher.arch) with the file's weights. Throws InputError naming the keys that do not
  /// fit and, when the zoo knows it, the network and data the file does fit.
  Backbone load(int64_t numClasses, int64_t inChannels) const;

 private:
  std::string m_arch;
  std::string m_file;
  ImportedStateDict m_weights;
};

/// A warning when teacher.run is not above a finished student-alone run of the same student on the same data
/// (distillation then likely pulls the student down); "" otherwise.
std::string weakTeacherWarning(RunStore& store, const RunConfig& config);

}  // namespace rkd
