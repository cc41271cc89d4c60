#include "data/synthetic_source.h"

#include "data/counter_hash.h"

#include <bit>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace kiln {
namespace {

// Counter-based randomness (data/counter_hash.h): every stream is a SplitMix64 sequence whose
// start is a hash of its key, so sample i needs no generator state from samples 0 … i−1.
uint64_t draw(uint64_t& state) { return mix64(state += kGoldenGamma); }

// Uniform in [0, 1) with 53 random bits.
double uniform(uint64_t& state) { return static_cast<double>(draw(state) >> 11) * 0x1.0p-53; }

// Purpose tags keep the chain's stream and the samples' streams apart even for equal counters.
constexpr uint64_t kChainTag = 0x636861696eull;   // "chain"
constexpr uint64_t kTrainTag = 0x747261696eull;   // "train"
constexpr uint64_t kValidTag = 0x76616c6964ull;   // "valid"
constexpr uint64_t kKindTag = 0x73796e7468ull;    // "synth", for the fingerprint

std::vector<double> zipf_weights(int k) {
  std::vector<double> w(k);
  double sum = 0;
  for (int i = 0; i < k; ++i) sum += (w[i] = 1.0 / (i + 1));
  for (double& x : w) x /= sum;
  return w;
}

double xlogx(double x) { return x > 0 ? x * std::log(x) : 0.0; }

void check(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("synthetic data: " + what);
}

}  // namespace

SyntheticSource::SyntheticSource(const SyntheticOptions& options, Split split)
    : opt_(options), split_(split) {
  constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
  check(opt_.successors >= 1, "successors must be at least 1, got " + std::to_string(opt_.successors));
  check(opt_.vocab_size >= opt_.successors + 1 && opt_.vocab_size <= kMaxInt32,
        "vocab_size must be in [successors + 1, 2^31 - 1] = [" + std::to_string(opt_.successors + 1) +
            ", 2147483647] (token vocab_size - 1 is the end of document), got " +
            std::to_string(opt_.vocab_size));
  check(opt_.seq_length >= 1 && opt_.seq_length <= kMaxInt32,
        "seq_length must be in [1, 2^31 - 1], got " + std::to_string(opt_.seq_length));
  check(std::isfinite(opt_.mean_doc_tokens) && opt_.mean_doc_tokens >= 1,
        "mean_doc_tokens must be a finite number >= 1, got " + std::to_string(opt_.mean_doc_tokens));

  const int k = opt_.successors;
  eod_ = static_cast<int32_t>(opt_.vocab_size - 1);
  doc_end_p_ = 1.0 / opt_.mean_doc_tokens;
  row_starts_with_eod_p_ = doc_end_p_ / (1.0 + doc_end_p_);
  stream_key_ = hash_combine(opt_.seed, split == Split::train ? kTrainTag : kValidTag);

  // The chain depends on the seed only, so both splits speak the same language.
  const uint64_t words = static_cast<uint64_t>(eod_);
  const uint64_t chain_key = hash_combine(opt_.seed, kChainTag);
  successor_.resize(static_cast<size_t>(opt_.vocab_size) * k);
  for (int32_t token = 0; token <= eod_; ++token) {
    uint64_t rng = hash_combine(chain_key, static_cast<uint64_t>(token));
    int32_t* out = &successor_[static_cast<size_t>(token) * k];
    // Distinct successors by rejection: k is a handful against thousands of words. The modulo
    // bias (words / 2^64) is far below anything a test or a model could see.
    for (int i = 0; i < k;) {
      const int32_t cand = static_cast<int32_t>(draw(rng) % words);
      bool seen = false;
      for (int j = 0; j < i; ++j) seen = seen || out[j] == cand;
      if (!seen) out[i++] = cand;
    }
  }

  const std::vector<double> w = zipf_weights(k);
  word_cdf_.resize(k + 1);
  eod_cdf_.resize(k);
  double word_acc = doc_end_p_, eod_acc = 0;
  word_cdf_[0] = word_acc;
  for (int i = 0; i < k; ++i) {
    word_cdf_[i + 1] = (word_acc += (1.0 - doc_end_p_) * w[i]);
    eod_cdf_[i] = (eod_acc += w[i]);
  }

  uint64_t f = hash_combine(kKindTag, opt_.seed);
  for (uint64_t field : {static_cast<uint64_t>(split == Split::train ? kTrainTag : kValidTag),
                         static_cast<uint64_t>(opt_.vocab_size), static_cast<uint64_t>(opt_.seq_length),
                         static_cast<uint64_t>(k), std::bit_cast<uint64_t>(opt_.mean_doc_tokens),
                         static_cast<uint64_t>(opt_.reset_attention_mask),
                         static_cast<uint64_t>(opt_.reset_position_ids)})
    f = hash_combine(f, field);
  fingerprint_ = f;
}

int32_t SyntheticSource::next_token(int32_t current, uint64_t& rng) const {
  const double u = uniform(rng);
  const int k = opt_.successors;
  const int32_t* succ = &successor_[static_cast<size_t>(current) * k];
  // Linear scans over k + 1 entries; the last outcome also takes any u a rounded cdf leaves over.
  if (current == eod_) {
    int i = 0;
    while (i < k - 1 && u >= eod_cdf_[i]) ++i;
    return succ[i];
  }
  if (u < word_cdf_[0]) return eod_;
  int i = 0;
  while (i < k - 1 && u >= word_cdf_[i + 1]) ++i;
  return succ[i];
}

void SyntheticSource::fill(BatchStorage& out, uint64_t first_sample) const {
  check(out.seq == opt_.seq_length, "batch storage has seq " + std::to_string(out.seq) +
                                        ", the source produces rows of " + std::to_string(opt_.seq_length));
  const size_t t_len = static_cast<size_t>(out.seq);
  for (int b = 0; b < out.batch; ++b) {
    uint64_t rng = hash_combine(stream_key_, first_sample + static_cast<uint64_t>(b));
    const size_t row = static_cast<size_t>(b) * t_len;
    int32_t* tokens = out.tokens.data() + row;
    int32_t* targets = out.targets.data() + row;
    int32_t* positions = out.position_ids.data() + row;
    int32_t* docs = out.doc_ids.data() + row;
    float* mask = out.loss_mask.data() + row;

    // Start in the stationary EOD rate, so no column is special in expectation (see header).
    int32_t current = uniform(rng) < row_starts_with_eod_p_ ? eod_ : next_token(eod_, rng);
    int32_t pos = 0, doc = 0;
    for (size_t t = 0; t < t_len; ++t) {
      tokens[t] = current;
      positions[t] = opt_.reset_position_ids ? pos : static_cast<int32_t>(t);
      docs[t] = opt_.reset_attention_mask ? doc : 0;
      mask[t] = 1.0f;  // packed rows: no padding to mask
      const int32_t following = next_token(current, rng);
      targets[t] = following;
      if (current == eod_) {
        ++doc;
        pos = 0;
      } else {
        ++pos;
      }
      current = following;
    }
  }
}

void SyntheticSource::next(BatchStorage& out) {
  fill(out, cursor_);
  cursor_ += static_cast<uint64_t>(out.batch);
}

DataState SyntheticSource::state_at(uint64_t next_sample) const { return {next_sample, fingerprint_, {}}; }

void SyntheticSource::restore(const DataState& state) {
  check(state.fingerprint == fingerprint_,
        "cannot restore a data state from a different stream (seed, split, vocabulary, sequence length, "
        "chain parameters or reset flags changed) into " + describe());
  cursor_ = state.next_sample;
}

std::string SyntheticSource::describe() const {
  std::ostringstream s;
  s << "synthetic Markov language (split " << split_name(split_) << ", seed " << opt_.seed << ", vocab "
    << opt_.vocab_size << " with EOD " << eod_ << ", seq " << opt_.seq_length << ", " << opt_.successors
    << " successors, mean document " << opt_.mean_doc_tokens << " words, reset_attention_mask "
    << (opt_.reset_attention_mask ? "on" : "off") << ", reset_position_ids "
    << (opt_.reset_position_ids ? "on" : "off") << "; optimal loss " << optimal_loss() << " nats/token)";
  return s.str();
}

double SyntheticSource::optimal_loss() const {
  double h_w = 0;
  for (double w : zipf_weights(opt_.successors)) h_w -= xlogx(w);
  const double p = doc_end_p_, pi = row_starts_with_eod_p_;
  const double word_entropy = -xlogx(p) - xlogx(1.0 - p) + (1.0 - p) * h_w;
  return pi * h_w + (1.0 - pi) * word_entropy;
}

}  // namespace kiln
