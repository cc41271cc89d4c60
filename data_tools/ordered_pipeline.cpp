#include "ordered_pipeline.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace kiln::data_tools {

namespace {

// A batch's result: its tokens, or the exception that stopped its production or encoding.
struct Slot {
  TokenBatch batch;
  std::exception_ptr error;
};

class Pipeline {
 public:
  Pipeline(const PipelineOptions& options, const ProduceFn& produce, const EncodeFn& encode)
      : produce_(produce),
        encode_(encode),
        threads_(options.threads),
        max_in_flight_(options.max_in_flight ? options.max_in_flight : 2 * static_cast<size_t>(options.threads) + 2) {
    if (threads_ < 1) throw std::invalid_argument("run_ordered_pipeline: threads must be at least 1");
  }

  void run(const ConsumeFn& consume) {
    std::vector<std::thread> pool;
    // Joins on every exit path: a consumer exception must not leave threads running on our stack.
    struct Joiner {
      Pipeline& p;
      std::vector<std::thread>& pool;
      ~Joiner() {
        p.abort();
        for (auto& t : pool)
          if (t.joinable()) t.join();
      }
    } joiner{*this, pool};
    pool.emplace_back([this] { producer(); });
    for (int i = 0; i < threads_; ++i) pool.emplace_back([this] { worker(); });

    for (uint64_t next = 0;; ++next) {
      Slot slot;
      {
        std::unique_lock lock(mu_);
        result_ready_.wait(lock, [&] { return results_.count(next) || (producer_done_ && next >= produced_); });
        auto it = results_.find(next);
        if (it == results_.end()) return;  // every batch consumed
        slot = std::move(it->second);
        results_.erase(it);
      }
      if (slot.error) std::rethrow_exception(slot.error);
      consume(std::move(slot.batch));
      {
        std::lock_guard lock(mu_);
        consumed_ = next + 1;
      }
      space_.notify_one();
    }
  }

 private:
  void abort() {
    {
      std::lock_guard lock(mu_);
      aborted_ = true;
    }
    space_.notify_all();
    work_ready_.notify_all();
    result_ready_.notify_all();
  }

  void producer() {
    for (;;) {
      {
        std::unique_lock lock(mu_);
        space_.wait(lock, [&] { return aborted_ || produced_ - consumed_ < max_in_flight_; });
        if (aborted_) return;
      }
      TextBatch batch;
      bool more = false;
      std::exception_ptr error;
      try {
        more = produce_(batch);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard lock(mu_);
      if (error) {
        // The error takes the place of the next batch; nothing is produced after it.
        results_[produced_++].error = error;
        producer_done_ = true;
        result_ready_.notify_all();
        work_ready_.notify_all();
        return;
      }
      if (!more) {
        producer_done_ = true;
        result_ready_.notify_all();
        work_ready_.notify_all();
        return;
      }
      work_.emplace_back(produced_++, std::move(batch));
      work_ready_.notify_one();
    }
  }

  void worker() {
    for (;;) {
      uint64_t seq = 0;
      TextBatch batch;
      {
        std::unique_lock lock(mu_);
        work_ready_.wait(lock, [&] { return aborted_ || !work_.empty() || producer_done_; });
        if (aborted_ || work_.empty()) return;  // empty here means the producer is done
        seq = work_.front().first;
        batch = std::move(work_.front().second);
        work_.pop_front();
      }
      Slot slot;
      try {
        encode_batch(batch, slot.batch);
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard lock(mu_);
        results_[seq] = std::move(slot);
      }
      result_ready_.notify_all();
    }
  }

  void encode_batch(const TextBatch& in, TokenBatch& out) const {
    out.input_bytes = in.input_bytes;
    out.text_bytes = in.text_bytes;
    out.doc_ends.reserve(in.texts.size());
    for (size_t i = 0; i < in.texts.size(); ++i) {
      try {
        encode_(in.texts[i], out.tokens);
      } catch (const std::exception& e) {
        if (i < in.origins.size()) throw std::runtime_error(in.origins[i] + ": " + e.what());
        throw;
      }
      out.doc_ends.push_back(out.tokens.size());
    }
  }

  const ProduceFn& produce_;
  const EncodeFn& encode_;
  const int threads_;
  const size_t max_in_flight_;

  std::mutex mu_;
  std::condition_variable space_, work_ready_, result_ready_;
  std::deque<std::pair<uint64_t, TextBatch>> work_;
  std::map<uint64_t, Slot> results_;
  uint64_t produced_ = 0;  // batches handed out (including an error in a batch's place)
  uint64_t consumed_ = 0;
  bool producer_done_ = false;
  bool aborted_ = false;
};

}  // namespace

void run_ordered_pipeline(const PipelineOptions& options, const ProduceFn& produce, const EncodeFn& encode,
                          const ConsumeFn& consume) {
  Pipeline(options, produce, encode).run(consume);
}

}  // namespace kiln::data_tools
