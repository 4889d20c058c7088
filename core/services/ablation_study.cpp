#include "core/services/ablation_study.h"

#include <cstdio>

#include "core/vocabulary/config_text.h"

namespace rkd {

std::vector<std::pair<std::string, RunConfig>> ablationGrid(const RunConfig& reviewStudent) {
  std::vector<std::pair<std::string, RunConfig>> rows;
  RunConfig alone = reviewStudent;
  alone.method = "student-alone";
  alone.kdWeight = 0;
  alone.name = reviewStudent.name + "-alone";
  rows.emplace_back("student alone", alone);
  RunConfig kd = reviewStudent;
  kd.method = "kd";
  kd.kdWeight = 0.9;
  kd.ceWeight = 0.1;
  kd.name = reviewStudent.name + "-kd";
  rows.emplace_back("Hinton KD", kd);
  struct Switches {
    bool review, residual, abf, hcl;
    const char* label;
  };
  const Switches grid[] = {{false, false, false, false, "same-level only"},
                           {true, false, false, false, "review"},
                           {true, true, false, false, "review + residual"},
                           {true, true, true, false, "review + residual + ABF"},
                           {true, true, false, true, "review + residual + HCL"},
                           {true, true, true, true, "full ReviewKD"}};
  for (const auto& g : grid) {
    RunConfig c = reviewStudent;
    c.method = "reviewkd";
    c.kdWeight = 0;
    c.review.review = g.review;
    c.review.residual = g.residual;
    c.review.abf = g.abf;
    c.review.hcl = g.hcl;
    c.name = reviewStudent.name + "-" + std::string(g.review ? "R" : "r") + (g.residual ? "S" : "s") +
             (g.abf ? "A" : "a") + (g.hcl ? "H" : "h");
    rows.emplace_back(g.label, c);
  }
  return rows;
}

}  // namespace rkd

namespace rkd::services {
using rkd::detail::csvField;

// --- ablation -------------------------------------------------------------------------------------------------

std::vector<AblationRow> ablationRows(const RunConfig& reviewStudent) {
  const auto published = publishedNumbers(reviewStudent.teacher.arch, reviewStudent.student);
  std::vector<AblationRow> out;
  for (auto& [label, config] : ablationGrid(reviewStudent)) {
    AblationRow row{label, config, std::nullopt};
    if (published) {
      if (config.method == "student-alone") {
        row.published = published->student;
      } else if (config.method == "kd") {
        row.published = published->kd;
      } else {
        const std::vector<bool> key{config.review.review, config.review.residual, config.review.abf, config.review.hcl};
        for (const auto& [switches, top1] : published->ablation)
          if (switches == key) row.published = top1;
        if (!row.published && config.review.review && config.review.residual && config.review.abf && config.review.hcl)
          row.published = published->reviewkd;
      }
    }
    out.push_back(std::move(row));
  }
  return out;
}

namespace {

std::string percent(const std::optional<double>& v) {
  if (!v) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", *v);
  return buf;
}

}  // namespace

const std::vector<std::string>& ablationHeaders() {
  static const std::vector<std::string> headers{"Row", "Review", "Residual", "ABF", "HCL", "Run", "Status",
                                                "Best top-1", "Last top-1", "vs alone", "Paper"};
  return headers;
}

std::vector<std::vector<std::string>> ablationCells(const std::vector<AblationResult>& rows) {
  std::optional<double> alone;
  for (const auto& r : rows)
    if (r.row.config.method == "student-alone") alone = r.best;
  std::vector<std::vector<std::string>> out;
  for (const auto& r : rows) {
    const RunConfig& c = r.row.config;
    const bool reviewkd = c.method == "reviewkd";
    const auto onOff = [&](bool on) { return reviewkd ? std::string(on ? "on" : "-") : std::string(); };
    std::string delta;
    if (r.best && alone && c.method != "student-alone") {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%+.2f", *r.best - *alone);
      delta = buf;
    }
    out.push_back({r.row.label, onOff(c.review.review), onOff(c.review.residual), onOff(c.review.abf),
                   onOff(c.review.hcl), r.runId > 0 ? std::to_string(r.runId) : std::string(), r.status,
                   percent(r.best), percent(r.last), delta, percent(r.row.published)});
  }
  return out;
}

std::string ablationMarkdown(const std::string& title, const std::vector<AblationResult>& rows) {
  const auto& headers = ablationHeaders();
  std::string out = "Ablation of " + title + "\n\n|";
  for (const auto& h : headers) out += " " + h + " |";
  out += "\n|";
  for (size_t c = 0; c < headers.size(); ++c) out += c >= 7 ? "---:|" : "---|";
  out += "\n";
  for (const auto& cells : ablationCells(rows)) {
    out += "|";
    for (const auto& cell : cells) out += " " + cell + " |";
    out += "\n";
  }
  return out;
}

std::string ablationCsv(const std::vector<AblationResult>& rows) {
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) out += (c ? "," : "") + csvField(cells[c]);
    out += "\n";
  };
  line(ablationHeaders());
  for (const auto& cells : ablationCells(rows)) line(cells);
  return out;
}

}  // namespace rkd::services
