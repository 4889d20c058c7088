// The one-line summary of a config. The field table, the JSON reader and writer, --set and validate() live in
// run_config_fields.cpp; presets and the paper's numbers in catalog.cpp.
#include "core/vocabulary/run_config.h"

#include "core/vocabulary/config_text.h"

namespace rkd {
using detail::valueText;

std::string RunConfig::summary() const {
  std::string s = kind == "teacher" ? student + " teacher" : (method == "student-alone" ? student + " alone"
                                                                                       : teacher.arch + " -> " + student);
  if (kind == "student") {
    s += " " + method;
    if (method == "reviewkd") {
      s += " [";
      s += review.review ? "review" : "same-level";
      if (review.residual) s += " residual";
      if (review.abf) s += " abf";
      s += review.hcl ? " hcl" : " mse";
      s += "] w=" + valueText(review.weight);
    }
    if (kdWeight > 0) s += " kd=" + valueText(kdWeight);
  }
  return s;
}

}  // namespace rkd
