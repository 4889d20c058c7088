#include "core/services/study_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>

#include "core/common/errors.h"
#include "core/vocabulary/config_text.h"

namespace rkd::services {
using rkd::detail::csvField;
namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string signedFixed(double v, int decimals) { return (v >= 0 ? "+" : "") + fixed(v, decimals); }

std::string pText(double p) {
  if (p < 1e-4) return "<0.0001";
  return fixed(p, 4);
}

std::string latexEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += '\\'; out += c; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      default: out += c;
    }
  }
  return out;
}

std::string markdownCell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

// "71.38 ± 0.54 (3)", "70.10 (n=1)", or "no finished run".
std::string meanText(const stats::Summary& s, const char* plusMinus) {
  if (s.n == 0) return "no finished run";
  if (s.n == 1) return fixed(s.mean, 2) + " (n=1)";
  return fixed(s.mean, 2) + " " + plusMinus + " " + fixed(s.sd, 2) + " (" + std::to_string(s.n) + ")";
}

std::string intervalText(const std::optional<double>& low, const std::optional<double>& high) {
  if (!low || !high) return "";
  return "[" + fixed(*low, 2) + ", " + fixed(*high, 2) + "]";
}

// What both text tables show in their headers: the baseline's label (the one row without a difference, when
// the other rows have one; empty when none was given) and whether any row has the paper's number.
std::pair<std::string, bool> tableFacts(const std::vector<StudyRowStats>& rows) {
  std::string baseline;
  bool anyDelta = false, anyPaper = false;
  for (const auto& r : rows) {
    if (r.delta) anyDelta = true;
    else baseline = r.label;
    anyPaper = anyPaper || r.paper.has_value();
  }
  return {anyDelta ? baseline : std::string(), anyPaper};
}

}  // namespace

std::string studyMetricName(StudyMetric metric) { return metric == StudyMetric::Best ? "best" : "last"; }

StudyMetric studyMetricFromName(const std::string& name) {
  if (name == "best") return StudyMetric::Best;
  if (name == "last") return StudyMetric::Last;
  throw InputError("unknown metric '" + name + "'", "give best (the best epoch's top-1, as the field reports) or last");
}

std::vector<StudyRowStats> studyStatistics(const std::vector<StudyRowValues>& rows, const std::string& baseline) {
  const StudyRowValues* base = nullptr;
  for (const auto& r : rows)
    if (!baseline.empty() && r.label == baseline) base = &r;
  std::vector<StudyRowStats> out;
  for (const auto& r : rows) {
    StudyRowStats s;
    s.label = r.label;
    std::vector<double> values;
    for (const auto& [seed, v] : r.bySeed) values.push_back(v);
    s.summary = stats::summarize(values);
    if (base && &r != base) s.delta = stats::pairedDifference(r.bySeed, base->bySeed);
    s.paper = r.paper;
    out.push_back(std::move(s));
  }
  return out;
}

std::string studyCsv(const std::vector<StudyRowStats>& rows, StudyMetric metric) {
  std::ostringstream out;
  out << "row,metric,n,mean,std,ci95_low,ci95_high,delta,delta_ci95_low,delta_ci95_high,p_value,paper\n";
  const auto opt = [](const std::optional<double>& v) { return v ? fixed(*v, 4) : std::string(); };
  for (const auto& r : rows) {
    const stats::Summary& s = r.summary;
    out << csvField(r.label) << ',' << studyMetricName(metric) << ',' << s.n << ',' << (s.n > 0 ? fixed(s.mean, 4) : "")
        << ',' << (s.n > 1 ? fixed(s.sd, 4) : "") << ',' << opt(s.ciLow) << ',' << opt(s.ciHigh) << ',';
    if (r.delta && r.delta->n > 0) {
      char p[32] = "";
      if (r.delta->pValue) std::snprintf(p, sizeof p, "%.6g", *r.delta->pValue);
      out << fixed(r.delta->mean, 4) << ',' << opt(r.delta->ciLow) << ',' << opt(r.delta->ciHigh) << ',' << p;
    } else {
      out << ",,,";
    }
    out << ',' << opt(r.paper) << '\n';
  }
  return out.str();
}

std::string studyMarkdown(const std::string& title, const std::vector<StudyRowStats>& rows, StudyMetric metric) {
  const auto [baseline, anyPaper] = tableFacts(rows);
  std::ostringstream out;
  out << "### " << markdownCell(title) << "\n\n";
  out << "| Row | Top-1 (" << studyMetricName(metric) << "), mean \u00b1 std (n) | 95% CI | \u0394 vs "
      << (baseline.empty() ? std::string("baseline") : markdownCell(baseline)) << " | \u0394 95% CI | p |"
      << (anyPaper ? " Paper |" : "") << "\n";
  out << "|---|---|---|---|---|---|" << (anyPaper ? "---|" : "") << "\n";
  bool marked = false;
  for (const auto& r : rows) {
    out << "| " << markdownCell(r.label) << " | " << meanText(r.summary, "\u00b1") << " | "
        << intervalText(r.summary.ciLow, r.summary.ciHigh) << " | ";
    if (r.delta && r.delta->n > 0) {
      const bool star = r.delta->significant();
      marked = marked || star;
      out << signedFixed(r.delta->mean, 2) << (star ? " *" : "") << " | "
          << intervalText(r.delta->ciLow, r.delta->ciHigh) << " | " << (r.delta->pValue ? pText(*r.delta->pValue) : "");
    } else {
      out << " | | ";
    }
    out << " |";
    if (anyPaper) out << ' ' << (r.paper ? fixed(*r.paper, 2) : "") << " |";
    out << "\n";
  }
  out << "\nSeeds are paired across rows: a difference is taken seed by seed, over the seeds both rows finished.";
  if (marked) out << " * the 95% interval of the difference excludes 0.";
  out << "\n";
  return out.str();
}

std::string studyLatex(const std::string& caption, const std::vector<StudyRowStats>& rows, StudyMetric metric) {
  const auto [baseline, anyPaper] = tableFacts(rows);
  // The best row: the highest mean among rows with a finished run.
  const StudyRowStats* best = nullptr;
  for (const auto& r : rows)
    if (r.summary.n > 0 && (!best || r.summary.mean > best->summary.mean)) best = &r;
  std::ostringstream out;
  out << "\\begin{table}[t]\n  \\centering\n  \\caption{" << latexEscape(caption) << "}\n";
  out << "  \\begin{tabular}{l" << (anyPaper ? "ccc" : "cc") << "}\n    \\toprule\n";
  out << "    Row & Top-1 (" << studyMetricName(metric) << ") & $\\Delta$ vs "
      << (baseline.empty() ? std::string("baseline") : latexEscape(baseline)) << (anyPaper ? " & Paper" : "")
      << " \\\\\n    \\midrule\n";
  for (const auto& r : rows) {
    std::string value = meanText(r.summary, "$\\pm$");
    std::string label = latexEscape(r.label);
    if (&r == best) {
      value = "\\textbf{" + value + "}";
      label = "\\textbf{" + label + "}";
    }
    std::string delta = "--";
    if (r.delta && r.delta->n > 0) {
      delta = "$" + signedFixed(r.delta->mean, 2) + "$";
      if (r.delta->ciLow && r.delta->ciHigh)
        delta += " [" + fixed(*r.delta->ciLow, 2) + ", " + fixed(*r.delta->ciHigh, 2) + "]";
    }
    out << "    " << label << " & " << value << " & " << delta;
    if (anyPaper) out << " & " << (r.paper ? fixed(*r.paper, 2) : std::string("--"));
    out << " \\\\\n";
  }
  out << "    \\bottomrule\n  \\end{tabular}\n\\end{table}\n";
  return out.str();
}

}  // namespace rkd::services
