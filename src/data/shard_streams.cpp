#include "data/shard_streams.h"

#include <array>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "data/formats/document_store.h"
#include "data/cerebras_rows.h"
#include "data/packed_documents.h"

namespace kiln {
namespace {

ShardFormat shard_format(DataFormat f) {
  if (f == DataFormat::hdf5) return ShardFormat::hdf5;
  if (f == DataFormat::mmap) return ShardFormat::mmap;
  throw std::invalid_argument("data.format synthetic has no shards");
}

// Document boundaries of the [train, valid, test] ranges for D documents.
std::array<uint64_t, 4> split_bounds(const std::vector<double>& split, uint64_t documents) {
  const double total = split[0] + split[1] + split[2];
  std::array<uint64_t, 4> b{0, 0, 0, documents};
  double acc = 0;
  for (int i = 0; i < 2; ++i) {
    acc += split[static_cast<size_t>(i)] / total;
    b[static_cast<size_t>(i) + 1] =
        std::min<uint64_t>(documents, static_cast<uint64_t>(std::llround(acc * static_cast<double>(documents))));
  }
  return b;
}

std::vector<BlendedDataset> weigh(std::vector<std::shared_ptr<const SampleDataset>> datasets,
                                  const std::vector<double>& weights) {
  std::vector<BlendedDataset> out;
  for (size_t i = 0; i < datasets.size(); ++i)
    out.push_back({datasets[i], weights.empty() ? static_cast<double>(datasets[i]->tokens()) : weights[i]});
  return out;
}

std::string list(const std::vector<std::string>& paths) {
  std::ostringstream s;
  for (size_t i = 0; i < paths.size(); ++i) s << (i ? ", " : "") << paths[i];
  return s.str();
}

}  // namespace

namespace {

// One file's datasets: the whole file, or its [train, valid] ranges when validation is carved.
struct FileDatasets {
  std::shared_ptr<const SampleDataset> train, valid;  // valid: null when not carved or too small
};

FileDatasets open_file(const std::string& path, const DataConfig& data, bool carve, int64_t vocab_size, int seq,
                       const std::string& whole_label) {
  const DocumentMasking masking{data.reset_attention_mask, data.reset_position_ids};
  const bool cerebras = data.format == DataFormat::hdf5 && detect_format(path) == DetectedFormat::cerebras_hdf5;
  const uint64_t units = cerebras ? CerebrasRows::count_rows(path) : 0;  // rows or documents
  std::shared_ptr<const DocumentStore> store;
  if (!cerebras) store = open_document_store(path, shard_format(data.format));
  const uint64_t count = cerebras ? units : store->num_documents();
  if (count == 0) throw DataFormatError(path + ": the dataset has no " + (cerebras ? "rows" : "documents"));

  auto make = [&](uint64_t begin, uint64_t end, const std::string& label) -> std::shared_ptr<const SampleDataset> {
    if (cerebras) return std::make_shared<CerebrasRows>(path, RowRange{begin, end}, seq, vocab_size, masking,
                                                        data.eod_token_id, label);
    return std::make_shared<PackedDocuments>(store, DocumentRange{begin, end}, seq, vocab_size, masking, label);
  };
  if (!carve) return {make(0, count, whole_label), nullptr};

  const auto b = split_bounds(data.split, count);
  if (b[1] == 0)
    throw DataFormatError(path + ": data.split gives the train split none of the file's " + std::to_string(count) +
                          (cerebras ? " rows" : " documents"));
  FileDatasets out{make(0, b[1], "train"), nullptr};
  // A validation range too short for one sample is left out rather than failing the run; the
  // caller still fails if no file has validation data at all.
  const bool valid_fits = cerebras ? b[2] > b[1]
                                   : b[2] > b[1] && store->doc_offset(b[2]) - store->doc_offset(b[1]) >
                                                        static_cast<uint64_t>(seq);
  if (valid_fits) out.valid = make(b[1], b[2], "valid");
  return out;
}

}  // namespace

ShardStreams open_shard_streams(const DataConfig& data, int64_t vocab_size, int64_t seq_length) {
  if (data.train_paths.empty())
    throw std::invalid_argument("data.format " + std::string(data.format == DataFormat::hdf5 ? "hdf5" : "mmap") +
                                " needs data.train_paths (shard prefixes or files made by kiln-data tokenize)");
  shard_format(data.format);  // refuses synthetic
  const int seq = static_cast<int>(seq_length);
  const bool carve = data.valid_paths.empty();

  std::vector<std::shared_ptr<const SampleDataset>> train, valid;
  for (const auto& path : data.train_paths) {
    FileDatasets f = open_file(path, data, carve, vocab_size, seq, "train");
    train.push_back(f.train);
    if (f.valid) valid.push_back(f.valid);
  }
  for (const auto& path : data.valid_paths) valid.push_back(open_file(path, data, false, vocab_size, seq, "valid").train);

  ShardStreams streams;
  const auto seed = static_cast<uint64_t>(data.seed);
  streams.train = std::make_unique<BlendedSource>(weigh(train, data.train_weights), seq, seed, Split::train);
  if (!valid.empty())
    streams.valid = std::make_unique<BlendedSource>(weigh(valid, carve ? std::vector<double>{} : data.valid_weights),
                                                    seq, seed, Split::valid);
  else if (carve && data.split[1] > 0) {
    std::ostringstream m;
    m << "data.split [" << data.split[0] << ", " << data.split[1] << ", " << data.split[2]
      << "] leaves no validation sample of " << seq + 1 << " tokens in " << list(data.train_paths)
      << "; raise data.split[1], set data.valid_paths, or set data.split[1] to 0 to train without evaluation";
    throw std::invalid_argument(m.str());
  }
  return streams;
}

}  // namespace kiln
