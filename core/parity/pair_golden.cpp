#include "core/parity/pair_golden.h"

#include <ATen/Parallel.h>

#include "core/runtime/device.h"
#include "core/runtime/nesterov_sgd.h"

#include <limits>

#include "core/common/errors.h"
#include "core/distill/objective.h"
#include "core/io/state_dict.h"
#include "core/models/backbone.h"

namespace rkd {

namespace {

const torch::Tensor& requireKey(const TensorMap& file, const std::string& key) {
  auto it = file.find(key);
  if (it == file.end())
    throw InputError("the golden pair file has no '" + key + "'",
                     "use a pair file from shared/golden/pairs (see its README)");
  return it->second;
}

/// Compares when the file holds the key (the README lists a subset of after-step parameters).
void checkIfPresent(std::vector<TensorCheck>& checks, const TensorMap& file, const std::string& key,
                    const torch::Tensor& actual, double tolerance) {
  auto it = file.find(key);
  if (it != file.end()) addCheck(checks, key, actual.detach().cpu(), it->second, tolerance);
}

/// An after-step parameter: kAfterStepTolerance, or the measured tolerance of an ill-conditioned key.
void checkAfterStep(std::vector<TensorCheck>& checks, const TensorMap& file, const std::string& teacher,
                    const std::string& student, const std::string& key, const torch::Tensor& actual) {
  const IllConditionedKeys* rule = illConditionedRule(teacher, student, key);
  const size_t before = checks.size();
  checkIfPresent(checks, file, key, actual, rule != nullptr ? rule->tolerance : kAfterStepTolerance);
  if (rule != nullptr && checks.size() > before) checks.back().relaxedBecause = rule->because;
}

}  // namespace

const std::vector<IllConditionedKeys>& illConditionedGoldenKeys() {
  // Measured with `reviewkd parity` on this file under 18 configurations: the reference BLAS and OpenBLAS 0.3.21
  // with each of its x86 kernels (OPENBLAS_CORETYPE Prescott, Core2, Nehalem, Sandybridge, Haswell, Zen,
  // SkylakeX, and Cooperlake, the one it picks on the test machine), each with OMP_NUM_THREADS 1 and 2 (the step
  // itself always runs on one intra-op thread). Worst relative error against the golden (reference BLAS -> worst
  // OpenBLAS kernel):
  //   after_step.model.student.*conv1.weight (17 keys)  9.8e-6 -> 2.62e-2 (Haswell; 8.2e-3 with Cooperlake)
  //   after_step.model.abfs.1.att_conv.0.weight          4.1e-6 -> 3.87e-5 (Haswell)
  //   after_step.model.abfs.1.conv2.0.weight             8.8e-7 -> 2.59e-5 (Cooperlake)
  //   every other key of this file and every key of resnet56 -> resnet20 and of the 8 architecture files stays
  //   inside the README's tolerance under all 18 (largest: student linear.weight 1.34e-5 of 2e-5).
  // The golden step is ill-conditioned, not the engine: the PyTorch reference itself misses these keys by
  // 2.5e-2 with 2 threads instead of 1, and shared/notes/blas-and-allocator.md traces it to the pooled level's
  // BatchNorm, which at the golden batch of 4 (shared/golden/README.md, pairs/) normalises 4 values per channel.
  // The step is large here (review weight 5; it moves those conv weights by 0.38 to 1.05 times their largest
  // value), so a change in the last bits of a gradient shows. The tolerances keep 2.6x to 3x headroom over the
  // worst measurement; a wrong loss or optimizer still fails the losses (1e-5) and the other after-step keys
  // (2e-5) of both pairs. A 2% change of the review weight moves these conv keys by up to 2.1e-2 (10%: 1.05e-1).
  static const std::vector<IllConditionedKeys> rules = {
      {"wrn-40-2", "shufflev1", "after_step.model.student.", "conv1.weight", 8e-2,
       "wrn-40-2 -> shufflev1 moves with the BLAS and its CPU kernel by up to 2.6e-2 (reference BLAS 1e-5), "
       "the PyTorch reference by 2.5e-2 with 2 threads: 3x the worst measured"},
      {"wrn-40-2", "shufflev1", "after_step.model.abfs.1.att_conv.0.weight", "", kFeatureTolerance,
       "wrn-40-2 -> shufflev1 moves with the BLAS and its CPU kernel by up to 3.9e-5 (reference BLAS 4e-6): "
       "the feature tolerance, 2.6x the worst measured"},
      {"wrn-40-2", "shufflev1", "after_step.model.abfs.1.conv2.0.weight", "", kFeatureTolerance,
       "wrn-40-2 -> shufflev1 moves with the BLAS and its CPU kernel by up to 3.9e-5 (reference BLAS 4e-6): "
       "the feature tolerance, 2.6x the worst measured"},
  };
  return rules;
}

const IllConditionedKeys* illConditionedRule(const std::string& teacher, const std::string& student,
                                             const std::string& key) {
  for (const auto& rule : illConditionedGoldenKeys()) {
    const bool covered = rule.teacher == teacher && rule.student == student && key.rfind(rule.keyPrefix, 0) == 0 &&
                         key.size() >= rule.keyPrefix.size() + rule.keySuffix.size() &&
                         key.compare(key.size() - rule.keySuffix.size(), rule.keySuffix.size(), rule.keySuffix) == 0;
    if (covered) return &rule;
  }
  return nullptr;
}

std::vector<TensorCheck> checkPairGolden(const std::string& teacherName, const std::string& studentName,
                                         double reviewWeight, const TensorMap& file, torch::Device device,
                                         bool channelsLast) {
  torch::Tensor input = requireKey(file, "input").to(device);
  const torch::Tensor labels = requireKey(file, "labels").to(torch::kLong).to(device);
  if (input.dim() != 4)
    throw InputError("the golden input is not N x C x H x W", "use a pair file from shared/golden/pairs");

  BackboneOptions teacherOptions{teacherName, 100, input.size(1)};
  BackboneOptions studentOptions{studentName, 100, input.size(1)};
  Backbone teacher = createBackbone(teacherOptions);
  Backbone student = createBackbone(studentOptions);
  loadStateDictStrict(*teacher, withPrefix(file, "teacher."), "teacher." + teacherName);
  loadStateDictStrict(*student, withPrefix(file, "model.student."), "model.student." + studentName);
  teacher->to(device);
  student->to(device);

  PairLevels levels = derivePairLevels(*student, *teacher, input.size(1), input.size(2));
  DistillSettings settings;
  settings.method = Method::ReviewKD;
  settings.reviewWeight = reviewWeight;
  settings.warmupEpochs = 0;  // factor 1, as the golden step
  DistillObjective objective(settings, levels);
  ReviewHead head = objective.head();
  TensorMap headTensors;
  for (const auto& [name, t] : withPrefix(file, "model."))
    if (name.rfind("student.", 0) != 0) headTensors.emplace(name, t);
  loadStateDictStrict(*head, headTensors, "model.abfs");
  head->to(device);
  if (channelsLast) {
    convertToChannelsLast(*teacher);
    convertToChannelsLast(*student);
    convertToChannelsLast(*head);
    input = input.contiguous(torch::MemoryFormat::ChannelsLast);
  }

  std::vector<TensorCheck> checks;

  // ---- eval mode: features, head outputs, logits, HCL
  {
    torch::NoGradGuard noGrad;
    teacher->eval();
    student->eval();
    head->eval();
    BackboneOutput s = student->forwardAll(input, false);
    BackboneOutput t = teacher->forwardAll(input, teacher->hasPreact());
    for (size_t k = 0; k < s.features.size(); ++k)
      checkIfPresent(checks, file, "expected.student_feature." + std::to_string(k), s.features[k],
                     kFeatureTolerance);
    checkIfPresent(checks, file, "expected.student_feature." + std::to_string(s.features.size()),
                   s.pooled.view({s.pooled.size(0), s.pooled.size(1), 1, 1}), kFeatureTolerance);
    auto teacherLevels = distilledLevels(t, true);
    auto alignedTeacher = alignedTail(teacherLevels, levels.size());
    for (size_t k = 0; k < alignedTeacher.size(); ++k)
      addCheck(checks, "expected.teacher_feature." + std::to_string(k), alignedTeacher[k].cpu(),
               requireKey(file, "expected.teacher_feature." + std::to_string(k)), kFeatureTolerance);
    auto studentLevels = alignedTail(distilledLevels(s, false), levels.size());
    auto outputs = head->forward(studentLevels);
    for (size_t k = 0; k < outputs.size(); ++k)
      addCheck(checks, "expected.review_output." + std::to_string(k), outputs[k].cpu(),
               requireKey(file, "expected.review_output." + std::to_string(k)), kFeatureTolerance);
    addCheck(checks, "expected.student_logits", s.logits.cpu(), requireKey(file, "expected.student_logits"),
             kFeatureTolerance);
    addCheck(checks, "expected.teacher_logits", t.logits.cpu(), requireKey(file, "expected.teacher_logits"),
             kFeatureTolerance);
    LossParts parts = objective.compute(s, &t, labels, 0);
    addCheck(checks, "expected.hcl_eval", parts.review.cpu(), requireKey(file, "expected.hcl_eval"),
             kLossTolerance);
  }

  // ---- one training step from the stored weights
  {
    teacher->eval();
    student->train();
    head->train();
    // One intra-op thread: the wrn-40-2 -> shufflev1 step is ill-conditioned (its pooled-level BatchNorm
    // normalises 4 values), so a different summation order moves the result by up to 1e-2, while one thread
    // reproduces the reference to ~1e-5 with the reference BLAS. Another BLAS changes the order inside every
    // product: those keys have their own measured tolerance (illConditionedGoldenKeys). The trainer's own
    // optimizer does the update.
    const int previousThreads = at::get_num_threads();
    at::set_num_threads(1);
    struct RestoreThreads {
      int n;
      ~RestoreThreads() { at::set_num_threads(n); }
    } restore{previousThreads};
    std::vector<torch::Tensor> params;
    std::vector<std::string> names;
    for (const auto& p : student->named_parameters(true)) {
      params.push_back(p.value());
      names.push_back("student." + p.key());
    }
    for (const auto& p : head->named_parameters(true)) {
      params.push_back(p.value());
      names.push_back("head." + p.key());
    }
    NesterovSgd optimizer(params, names, {0.1, 0.9, true, 5e-4});
    optimizer.zeroGrad();
    LossParts parts = objective.forward(*student, teacher.get(), input, labels, 0);
    parts.total.backward();
    optimizer.step();
    addCheck(checks, "expected.train_ce", parts.ce.detach().cpu(), requireKey(file, "expected.train_ce"),
             kLossTolerance);
    addCheck(checks, "expected.train_hcl", parts.review.detach().cpu(), requireKey(file, "expected.train_hcl"),
             kLossTolerance);
    addCheck(checks, "expected.train_loss", parts.total.detach().cpu(), requireKey(file, "expected.train_loss"),
             kLossTolerance);
    for (const auto& [name, t] : stateDict(*student))
      checkAfterStep(checks, file, teacherName, studentName, "after_step.model.student." + name, t);
    for (const auto& [name, t] : stateDict(*head))
      checkAfterStep(checks, file, teacherName, studentName, "after_step.model." + name, t);
    // Any after-step key we have no tensor for is a failure, not a silent skip.
    for (const auto& [key, t] : withPrefix(file, "after_step.model.")) {
      bool matched = false;
      for (const auto& c : checks)
        if (c.name == "after_step.model." + key) matched = true;
      if (!matched) {
        TensorCheck c;
        c.name = "after_step.model." + key;
        c.error = std::numeric_limits<double>::infinity();
        c.tolerance = kAfterStepTolerance;
        c.detail = "no such parameter or buffer in the student or the review head";
        checks.push_back(c);
      }
    }
  }
  return checks;
}

}  // namespace rkd
