// ParamRegistry: the layout of every parameter in one flat buffer.
//
// The model registers each parameter once, by its global name (the Hugging Face StableLM name
// where one exists) and shape, with the optimizer group it belongs to. The registry gives each a
// fixed offset; finalize() fixes the total. The same layout then serves every flat buffer that
// holds one value per parameter element: the parameters, the gradients, fp32 master weights and
// Adam moments. bind() turns a buffer into named TensorViews, so layers read their weights from
// and write their gradients into slices of one allocation, and reduce-scatter, clipping, the
// optimizer and checkpoint I/O work on contiguous ranges instead of hundreds of small tensors.
//
// Layout: tensors lie in registration order, each starting at a multiple of kAlignment elements,
// and the total is rounded up to kAlignment as well. The padding is why offsets are aligned:
//   - 64 elements are 128 bytes of bf16 and 256 of fp32, so with the buffer itself aligned
//     (Buffer: 64 bytes on the host; cudaMalloc: 256) every tensor starts on a cache line and at
//     an address that vectorised CPU loads and CUDA 16-byte loads / cuBLASLt want, in either
//     dtype and in every buffer sharing the layout;
//   - the cost is at most 63 elements per tensor, a few thousand elements for a whole model.
// ZeRO shard boundaries do not depend on this: shards cut the flat range element-exactly and may
// split a tensor; the optimizer maps a shard back to (tensor, range) through entries().
// Padding elements belong to no tensor. Buffers are zero-filled and no kernel writes padding, so
// it stays zero in every buffer, and zero is inert: it adds nothing to a gradient norm, and AdamW
// and weight decay leave a zero parameter with a zero gradient at zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/buffer.h"
#include "tensor/tensor_view.h"

namespace kiln {

// The optimizer group of a parameter. Only what the optimizer needs today.
struct ParamInfo {
  bool decay = true;      // AdamW weight decay applies; false for biases and norm gains
  double lr_scale = 1.0;  // multiplies the scheduled LR; µP gives hidden matrices width_scale
};

struct ParamEntry {
  std::string name;
  Shape shape;
  ParamInfo info;
  int64_t offset = 0;  // of the first element in the flat buffer; a multiple of kAlignment

  int64_t numel() const { return shape.numel(); }
  int64_t end() const { return offset + numel(); }  // one past the last element
};

class ParamViews;

class ParamRegistry {
 public:
  static constexpr int64_t kAlignment = 64;  // elements; see the comment at the top

  // Registers a tensor and returns its index in registration order.
  // Throws std::logic_error after finalize(); std::invalid_argument, naming the tensor, for an
  // empty or duplicate name, a dimension < 1, a rank above Shape::kMaxRank, or an lr_scale that is
  // negative or not finite.
  size_t add(std::string name, std::vector<int64_t> shape, ParamInfo info = {});

  // Freezes the layout and returns total_numel(). Calling it again returns the same total.
  int64_t finalize();
  bool finalized() const { return finalized_; }

  // Elements a buffer needs for this layout, padding included. Throws std::logic_error before
  // finalize(), when more tensors could still be added.
  int64_t total_numel() const;
  // Elements that belong to tensors, padding excluded: the model's parameter count.
  int64_t param_count() const;

  // Entries in registration order, also through begin()/end().
  const std::vector<ParamEntry>& entries() const { return entries_; }
  std::vector<ParamEntry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<ParamEntry>::const_iterator end() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }

  bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }
  // Throws std::out_of_range naming `name` and the registered names closest to it.
  size_t index_of(std::string_view name) const;
  const ParamEntry& at(std::string_view name) const { return entries_[index_of(name)]; }

  // Views of every tensor in `buffer`, which may have any dtype and device. The buffer may be
  // longer than total_numel() (e.g. padded to divide evenly among data-parallel ranks), never
  // shorter. The registry and the buffer must outlive the result and the views taken from it.
  // Throws std::logic_error before finalize() and std::invalid_argument for a short buffer.
  ParamViews bind(Buffer& buffer) const;
  // The same for memory given as a view (its element count is what must suffice).
  ParamViews bind(const TensorView& flat) const;

 private:
  std::vector<ParamEntry> entries_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in entries_
  int64_t next_offset_ = 0;
  int64_t param_count_ = 0;
  bool finalized_ = false;
};

// A finalized registry's layout applied to one flat buffer.
class ParamViews {
 public:
  // The tensor's view, with its registered shape. By name, throws as ParamRegistry::index_of does.
  TensorView at(std::string_view name) const { return at(registry_->index_of(name)); }
  TensorView at(size_t index) const {
    const ParamEntry& e = registry_->entries().at(index);  // throws std::out_of_range
    char* first = static_cast<char*>(flat_.raw()) + static_cast<size_t>(e.offset) * size_of(flat_.dtype());
    return TensorView(first, flat_.dtype(), flat_.device(), e.shape);
  }

  // The whole buffer as one flat view (padding and any tail included).
  const TensorView& flat() const { return flat_; }
  const ParamRegistry& registry() const { return *registry_; }

 private:
  friend class ParamRegistry;
  ParamViews(const ParamRegistry* registry, TensorView flat) : registry_(registry), flat_(flat) {}

  const ParamRegistry* registry_;
  TensorView flat_;
};

}  // namespace kiln
