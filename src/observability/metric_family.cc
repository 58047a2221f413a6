#include "observability/metric_family.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace batch_cleanup::observability {
namespace {

std::string escaped(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kGauge:
      break;
  }
  return "gauge";
}

std::string render_text(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const auto& family : families) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name, escaped(family.help, false),
                       family.name, type_name(family.type));
    for (const auto& sample : family.samples) {
      out += family.name;
      out += sample.suffix;
      if (!sample.labels.empty()) {
        out += '{';
        for (std::size_t i = 0; i < sample.labels.size(); ++i) {
          if (i > 0) out += ',';
          out += fmt::format("{}=\"{}\"", sample.labels[i].name,
                             escaped(sample.labels[i].value, true));
        }
        out += '}';
      }
      out += ' ';
      out += number(sample.value);
      out += '\n';
    }
  }
  return out;
}

void prepend_label(std::vector<MetricFamily>& families, const Label& label) {
  for (auto& family : families) {
    for (auto& sample : family.samples) sample.labels.insert(sample.labels.begin(), label);
  }
}

void merge_families(std::vector<MetricFamily>& into, std::vector<MetricFamily> more) {
  for (auto& family : more) {
    const auto same = std::find_if(into.begin(), into.end(), [&](const MetricFamily& existing) {
      return existing.name == family.name;
    });
    if (same == into.end()) {
      into.push_back(std::move(family));
    } else {
      same->samples.insert(same->samples.end(), std::make_move_iterator(family.samples.begin()),
                           std::make_move_iterator(family.samples.end()));
    }
  }
}

}  // namespace batch_cleanup::observability
