// A small model of Prometheus metrics: a family (name, type, help, samples), a sample (labels and
// a value). Families are built from the service's counters and rendered once in the text
// exposition format 0.0.4; labels are added to samples as data, never spliced into text.
#pragma once

#include <string>
#include <vector>

namespace batch_cleanup::observability {

struct Label {
  std::string name;
  std::string value;
};
using Labels = std::vector<Label>;

struct Sample {
  // Appended to the family's name: "" for counters and gauges; "_bucket", "_sum" or "_count" for
  // the samples of a histogram.
  std::string suffix;
  Labels labels;
  double value = 0;
};

enum class MetricType { kCounter, kGauge, kHistogram };

struct MetricFamily {
  std::string name;
  MetricType type = MetricType::kGauge;
  std::string help;
  std::vector<Sample> samples;
};

// "counter", "gauge" or "histogram".
const char* type_name(MetricType type);

// The text format 0.0.4: for each family its "# HELP" and "# TYPE" lines, then its samples, one
// per line: name+suffix, {labels} when there are any, value. Label values are escaped (\\, \",
// \n), help texts too (\\, \n); values print as the shortest exact decimal, NaN, +Inf or -Inf.
std::string render_text(const std::vector<MetricFamily>& families);

// Inserts `label` before the existing labels of every sample of `families`.
void prepend_label(std::vector<MetricFamily>& families, const Label& label);

// Appends the samples of each family of `more` to the family of the same name in `into`, or the
// family itself (at the end) when `into` has none of that name. Families keep their order.
void merge_families(std::vector<MetricFamily>& into, std::vector<MetricFamily> more);

}  // namespace batch_cleanup::observability
