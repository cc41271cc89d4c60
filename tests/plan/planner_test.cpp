// Planner tests: published parameter totals, hand-counted components, FLOPs, tensor-parallel
// sharding, ZeRO-1 shards, the per-rank memory estimate and the per-rank communication volume.
// Configs are built field by field so the tests depend on nothing but config.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "plan/plan_report.h"
#include "plan/planner.h"

namespace kiln {
namespace {

// A tiny model whose every count is easy by hand: L 2, d 8, 2 heads, ffn 16, vocab 30 padded to
// 32, seq 4, layernorm with biases everywhere, swiglu, untied. Layout: t 1, D 1, no ZeRO, bf16.
Config small_config() {
  Config c;
  ModelConfig& m = c.model;
  m.num_layers = 2;
  m.hidden_size = 8;
  m.num_heads = 2;
  m.ffn_hidden_size = 16;
  m.mlp_multiple_of = 8;
  m.vocab_size = 30;
  m.vocab_pad_multiple = 8;
  m.seq_length = 4;
  m.max_position_embeddings = 4;
  m.norm = NormType::layernorm;
  m.norm_eps = 1e-5;
  m.norm_bias = true;
  m.final_norm_bias = true;
  m.positions = PositionType::rotary;
  m.rotary_pct = 0.25;
  m.rotary_theta = 10000.0;
  m.qkv_bias = true;
  m.linear_bias = true;
  m.parallel_residual = false;
  m.activation = Activation::swiglu;
  m.tied_embeddings = false;
  m.init.method = InitMethod::normal;
  m.init.std = 0.02;
  m.init.embedding_std = 0.02;
  m.init.scale_output_layers = false;
  m.init.truncation = 2.0;
  m.mup.enabled = false;
  m.mup.base_hidden_size = 256.0;
  m.mup.base_ffn_size = 682.6;
  m.mup.embeddings_scale = 1.0;
  m.mup.output_alpha = 1.0;
  m.mup.scale_qk_dot_by_d = false;

  c.parallel.tensor = 1;
  c.parallel.data = 1;
  c.parallel.zero_stage = 0;
  c.parallel.grad_reduce_dtype = Precision::fp32;

  c.optimizer.lr = 1e-3;
  c.optimizer.beta1 = 0.9;
  c.optimizer.beta2 = 0.95;
  c.optimizer.eps = 1e-8;
  c.optimizer.weight_decay = 0.1;
  c.optimizer.grad_clip = 1.0;

  c.schedule.style = ScheduleStyle::cosine;
  c.schedule.warmup_steps = 10;
  c.schedule.warmup_fraction = 0.01;
  c.schedule.decay_steps = 1000;
  c.schedule.min_lr = 1e-4;
  c.schedule.cooldown_steps = 0;
  c.schedule.cooldown_min_lr = 0.0;
  c.schedule.hybrid_switch = 0.25;

  c.batch.micro_batch = 1;
  c.batch.grad_accum = 1;
  c.batch.global_batch = 1;

  c.data.train_paths = {"data/train"};
  c.data.train_weights = {1.0};
  c.data.valid_paths = {};
  c.data.valid_weights = {};
  c.data.format = DataFormat::mmap;
  c.data.seed = 1234;
  c.data.split = {0.98, 0.02, 0.0};
  c.data.tokenizer = "tokenizer.json";
  c.data.eod_token_id = 0;
  c.data.reset_attention_mask = false;
  c.data.reset_position_ids = false;

  c.checkpoint.dir = "";
  c.checkpoint.interval = 0;
  c.checkpoint.keep_last = 1;
  c.checkpoint.resume = "none";
  c.checkpoint.save_on_signal = true;

  c.logging.level = LogLevel::info;
  c.logging.interval = 10;
  c.logging.all_ranks = false;
  c.logging.metrics_file = "metrics.jsonl";

  c.train.name = "test";
  c.train.output_dir = "runs";
  c.train.steps = 1000;
  c.train.seed = 1234;
  c.train.device = Device::cpu;
  c.train.precision = Precision::bf16;
  c.train.recompute = Recompute::none;
  c.train.eval_interval = 100;
  c.train.eval_steps = 10;
  return c;
}

ModelConfig stablelm_2_1_6b() {
  ModelConfig m = small_config().model;
  m.num_layers = 24;
  m.hidden_size = 2048;
  m.num_heads = 32;
  m.ffn_hidden_size = 5632;
  m.mlp_multiple_of = 256;
  m.vocab_size = 100289;
  m.vocab_pad_multiple = 64;
  m.seq_length = 4096;
  m.max_position_embeddings = 4096;
  m.qkv_bias = true;
  m.linear_bias = false;
  m.norm_bias = false;
  m.final_norm_bias = true;
  m.tied_embeddings = false;
  return m;
}

ModelConfig stablelm_3b_4e1t() {
  ModelConfig m = small_config().model;
  m.num_layers = 32;
  m.hidden_size = 2560;
  m.num_heads = 32;
  m.ffn_hidden_size = 6912;
  m.mlp_multiple_of = 256;
  m.vocab_size = 50257;
  m.vocab_pad_multiple = 128;
  m.seq_length = 4096;
  m.max_position_embeddings = 4096;
  m.qkv_bias = false;
  m.linear_bias = false;
  m.norm_bias = true;
  m.final_norm_bias = true;
  m.tied_embeddings = false;
  return m;
}

ModelConfig btlm_3b_8k() {
  ModelConfig m = small_config().model;
  m.num_layers = 32;
  m.hidden_size = 2560;
  m.num_heads = 32;
  m.ffn_hidden_size = 6826;
  m.vocab_size = 50257;
  m.vocab_pad_multiple = 1;
  m.seq_length = 8192;
  m.max_position_embeddings = 8192;
  m.positions = PositionType::alibi;
  m.qkv_bias = true;
  m.linear_bias = true;
  m.norm_bias = true;
  m.final_norm_bias = true;
  m.tied_embeddings = true;
  return m;
}

TEST(CountParameters, StableLm2_1_6bMatchesPublished) {
  EXPECT_EQ(count_parameters(stablelm_2_1_6b()).total, 1'644'417'024);
}

TEST(CountParameters, StableLm3b4e1tMatchesPublished) {
  EXPECT_EQ(count_parameters(stablelm_3b_4e1t()).total, 2'795'443'200);
}

TEST(CountParameters, Btlm3b8kMatchesHandCount) {
  // Per layer 4d² + 4d + 3·d·6826 + 2·6826 + d + 4d = 78,674,772; ×32 = 2,517,592,704;
  // + 50,257·2560 = 128,657,920 (tied: once) + final norm 2·2560 = 2,646,255,744.
  const ParamCounts c = count_parameters(btlm_3b_8k());
  EXPECT_EQ(c.layer.total(), 78'674'772);
  EXPECT_EQ(c.lm_head, 0);
  EXPECT_EQ(c.total, 2'646'255'744);
}

TEST(CountParameters, SmallConfigComponents) {
  // d 8, f 16, V 32, L 2.
  const ParamCounts c = count_parameters(small_config().model);
  EXPECT_EQ(c.embedding, 256);             // 32·8
  EXPECT_EQ(c.layer.qkv_weight, 192);      // 3·8²
  EXPECT_EQ(c.layer.qkv_bias, 24);         // 3·8
  EXPECT_EQ(c.layer.attn_out_weight, 64);  // 8²
  EXPECT_EQ(c.layer.attn_out_bias, 8);
  EXPECT_EQ(c.layer.mlp_weight, 384);      // 3·8·16
  EXPECT_EQ(c.layer.mlp_bias, 40);         // 2·16 + 8
  EXPECT_EQ(c.layer.norms, 32);            // 2·(8 + 8)
  EXPECT_EQ(c.layer.total(), 744);
  EXPECT_EQ(c.layers, 1488);
  EXPECT_EQ(c.final_norm, 16);
  EXPECT_EQ(c.lm_head, 256);
  EXPECT_EQ(c.total, 2016);    // 256 + 1488 + 16 + 256
  EXPECT_EQ(c.n_flops, 1760);  // total − embedding
}

TEST(CountParameters, GeluAndRmsNormVariants) {
  ModelConfig m = small_config().model;
  m.activation = Activation::gelu;
  m.norm = NormType::rmsnorm;  // no bias even with norm_bias and final_norm_bias set
  const ParamCounts c = count_parameters(m);
  EXPECT_EQ(c.layer.mlp_weight, 256);  // 2·8·16
  EXPECT_EQ(c.layer.mlp_bias, 24);     // 16 + 8
  EXPECT_EQ(c.layer.norms, 16);        // 2·8
  EXPECT_EQ(c.final_norm, 8);
}

TEST(CountParameters, TiedEmbeddingsCountedOnce) {
  Config config = small_config();
  const ParamCounts untied = count_parameters(config.model);
  config.model.tied_embeddings = true;
  const ParamCounts tied = count_parameters(config.model);
  // Tying removes exactly one V·d matrix from storage...
  EXPECT_EQ(tied.total, untied.total - 32 * 8);
  EXPECT_EQ(tied.total, 1760);
  EXPECT_EQ(tied.lm_head, 0);
  // ...but the head's matmul still costs FLOPs, so N is unchanged.
  EXPECT_EQ(tied.n_flops, untied.n_flops);
  // And a tensor-parallel rank holds the shared matrix once: 1064 − 128 (see PerRankParams).
  EXPECT_EQ(params_per_rank(config.model, 2), 936);
}

TEST(FlopsPerToken, StableLm2_1_6b) {
  // N = 1,644,417,024 − 100,352·2048 (input embedding 205,520,896) = 1,438,896,128
  // 6N = 8,633,376,768
  // PaLM:   12·L·d·T = 12·24·2048·4096 = 2,415,919,104 → 11,049,295,872
  // causal:  6·L·d·T =  6·24·2048·4096 = 1,207,959,552 →  9,841,336,320
  const ModelConfig m = stablelm_2_1_6b();
  EXPECT_EQ(count_parameters(m).n_flops, 1'438'896'128);
  EXPECT_EQ(flops_per_token(m, false), 11'049'295'872);
  EXPECT_EQ(flops_per_token(m, true), 9'841'336'320);
}

TEST(PerRankParams, TensorParallelTwo) {
  // Per layer, sharded /2: qkv w 192→96, qkv b 24→12, gate+up w 256→128, gate+up b 32→16,
  // attention-out w 64→32, down w 128→64: 348. Replicated: norms 32, attention-out b 8,
  // down b 8: 48. Layer 396, ×2 = 792; embedding 128 + head 128 + final norm 16 → 1064.
  EXPECT_EQ(params_per_rank(small_config().model, 1), 2016);
  EXPECT_EQ(params_per_rank(small_config().model, 2), 1064);
}

TEST(MakePlan, ZeroOneShardRoundsUp) {
  Config config = small_config();
  config.parallel.tensor = 2;
  config.parallel.data = 3;
  config.parallel.zero_stage = 1;
  const Plan plan = make_plan(config);
  EXPECT_EQ(plan.per_rank_params, 1064);
  EXPECT_EQ(plan.optimizer_shard_params, 355);  // 1064 = 3·354 + 2 → ceil 355
  EXPECT_EQ(plan.world, 6);

  config.parallel.zero_stage = 0;
  EXPECT_EQ(make_plan(config).optimizer_shard_params, 1064);
}

// t 2, D 3, ZeRO-1, bf16 with fp32 gradients, micro batch 2 (s·b = 8), h 8, f 16, a 2, V 32.
Config small_memory_config() {
  Config config = small_config();
  config.parallel.tensor = 2;
  config.parallel.data = 3;
  config.parallel.zero_stage = 1;
  config.batch.micro_batch = 2;
  config.batch.grad_accum = 4;
  config.batch.global_batch = 24;  // 2 × 4 × 3
  return config;
}

TEST(MakePlan, MemoryBytesByHand) {
  const Plan plan = make_plan(small_memory_config());
  // Per layer, e = 2:
  //   2·(4·8·8 = 256  +  4·8·8/2 = 128  +  3·8·16/2 = 192) = 1152
  //   4·(4·8 = 32  +  8·2/2 = 8) = 160                      → 1312; ×2 layers = 2624
  // Once: logits 2·8·32/2 = 256, lse 4·8 = 32, final norm 2·8·8 = 128 → 3040.
  EXPECT_EQ(plan.activations.per_layer, 1312);
  EXPECT_EQ(plan.activations.layers, 2624);
  EXPECT_EQ(plan.activations.recompute_working_set, 0);
  EXPECT_EQ(plan.activations.logits, 256);
  EXPECT_EQ(plan.activations.logits_lse, 32);
  EXPECT_EQ(plan.activations.final_norm, 128);
  EXPECT_EQ(plan.activations.total, 3040);

  EXPECT_EQ(plan.memory.weights, 2128);    // 1064·2
  EXPECT_EQ(plan.memory.gradients, 4256);  // 1064·4, not sharded
  EXPECT_EQ(plan.memory.optimizer, 4260);  // 355·12
  EXPECT_EQ(plan.memory.activations, 3040);
  EXPECT_EQ(plan.memory.total, 13684);

  EXPECT_EQ(plan.micro_batch, 2);
  EXPECT_EQ(plan.grad_accum, 4);
  EXPECT_EQ(plan.global_batch, 24);
  EXPECT_EQ(plan.tokens_per_step, 96);  // 24·4
}

TEST(MakePlan, RecomputeModes) {
  Config config = small_memory_config();
  config.train.recompute = Recompute::selective;
  // Without the MLP intermediates (2·192 = 384): 928 per layer, ×2 = 1856, + one shared set of
  // MLP intermediates 384, + 416 once.
  ActivationBytes act = make_plan(config).activations;
  EXPECT_EQ(act.per_layer, 928);
  EXPECT_EQ(act.recompute_working_set, 384);
  EXPECT_EQ(act.total, 2656);

  config.train.recompute = Recompute::full;
  // Layer inputs 2·8·8 = 128 each, ×2 = 256, + one full layer 1312, + 416 once.
  act = make_plan(config).activations;
  EXPECT_EQ(act.per_layer, 128);
  EXPECT_EQ(act.recompute_working_set, 1312);
  EXPECT_EQ(act.total, 1984);

  // Per layer: only the first layer recomputes, the second keeps all 1312.
  config.train.recompute_layers = 1;
  act = make_plan(config).activations;
  EXPECT_EQ(act.layers, 128 + 1312);
  EXPECT_EQ(act.total, 128 + 1312 + 1312 + 416);
  config.train.recompute_layers = 0;  // recomputing no layer is no recompute
  act = make_plan(config).activations;
  EXPECT_EQ(act.layers, 2 * 1312);
  EXPECT_EQ(act.recompute_working_set, 0);
}

TEST(MakePlan, TheCudaBackendKeepsBf16Gradients) {
  Config config = small_memory_config();
  config.parallel.grad_reduce_dtype = Precision::fp32;
  const int64_t cpu = make_plan(config).memory.gradients;
  config.train.device = Device::cuda;
  EXPECT_EQ(make_plan(config).memory.gradients * 2, cpu);
}

TEST(MakePlan, Fp32PrecisionAndBf16Gradients) {
  Config config = small_memory_config();
  config.train.precision = Precision::fp32;
  config.parallel.grad_reduce_dtype = Precision::bf16;
  const Plan plan = make_plan(config);
  EXPECT_EQ(plan.memory.weights, 4256);    // 1064·4
  EXPECT_EQ(plan.memory.gradients, 2128);  // 1064·2
  EXPECT_EQ(plan.memory.optimizer, 2840);  // 355·8: weights are the masters
  // e = 4: every bf16 activation term doubles, the fp32 ones do not.
  // Per layer 4·576 + 160 = 2464, ×2 = 4928; logits 512, lse 32, final norm 256.
  EXPECT_EQ(plan.activations.total, 5728);
}

TEST(Report, JsonAndTextCarryTheNumbers) {
  Config config = small_config();
  config.model = stablelm_2_1_6b();
  config.parallel.tensor = 2;
  config.parallel.data = 8;
  config.parallel.zero_stage = 1;
  config.batch.micro_batch = 4;
  config.batch.grad_accum = 2;
  config.batch.global_batch = 64;
  const Plan plan = make_plan(config);

  const nlohmann::json j = plan_to_json(plan);
  EXPECT_EQ(j["params"]["total"].get<int64_t>(), 1'644'417'024);
  EXPECT_EQ(j["flops_per_token"]["palm"].get<int64_t>(), 11'049'295'872);
  EXPECT_EQ(j["layout"]["tokens_per_step"].get<int64_t>(), 64 * 4096);
  EXPECT_EQ(j["per_rank"]["memory_bytes"]["total"].get<int64_t>(), plan.memory.total);
  EXPECT_TRUE(j["per_rank"]["memory_bytes"]["total"].is_number_integer());

  const std::string text = format_plan(plan, config);
  EXPECT_NE(text.find("1,644,417,024"), std::string::npos);
  EXPECT_NE(text.find("11,049,295,872"), std::string::npos);
  EXPECT_NE(text.find("tp 2 × dp 8 = 16"), std::string::npos);
  EXPECT_NE(text.find("262,144 tokens per step"), std::string::npos);
}

// ---- communication volume (comm_volume.h) -------------------------------------------------------

TEST(RingBytes, ChunksArePaddedToTheGroup) {
  // 9 elements over 3 ranks: chunks of 3; 10 elements: chunks of ceil(10/3) = 4.
  EXPECT_EQ(ring_reduce_scatter_bytes(9, 2, 3), 12);  // 2 chunks · 3 · 2 B
  EXPECT_EQ(ring_all_gather_bytes(9, 2, 3), 12);
  EXPECT_EQ(ring_all_reduce_bytes(10, 4, 3), 64);     // 2 · 2 chunks · 4 · 4 B
  EXPECT_EQ(ring_all_reduce_bytes(10, 4, 1), 0);      // a group of one moves nothing
  EXPECT_EQ(ring_reduce_scatter_bytes(10, 4, 1), 0);
}

TEST(CommVolume, SmallConfigByHand) {
  // t 2, D 3, ZeRO-1, bf16 weights, fp32 gradients, b 2, s 4, h 8, L 2, accum 4, no recompute.
  const Plan plan = make_plan(small_memory_config());
  const CommVolume& c = plan.comm;
  // P = 1064 per TP rank; ceil(1064/3) = 355 per chunk, buffer padded to 1065 elements.
  EXPECT_EQ(c.dp.grad_buffer_bytes, 4260);  // 1065 · 4
  EXPECT_EQ(c.dp.reduce_scatter, 2840);     // (3 − 1) · 355 · 4
  EXPECT_EQ(c.dp.all_gather, 1420);         // (3 − 1) · 355 · 2
  EXPECT_EQ(c.dp.all_reduce, 0);
  EXPECT_EQ(c.dp.total, 4260);

  // A = b·s·h = 64 elements, 128 bytes; AR(A) = 2 · (2 − 1) · 32 · 2 = 128.
  EXPECT_EQ(c.tp.activation_bytes, 128);
  EXPECT_EQ(c.tp.all_reduces_per_layer, 4);
  EXPECT_EQ(c.tp.layers, 1024);        // 2 layers · 4 · 128
  EXPECT_EQ(c.tp.embedding, 128);
  EXPECT_EQ(c.tp.lm_head, 128);
  EXPECT_EQ(c.tp.cross_entropy, 96);   // 2·(2 − 1)·ceil(8/2)·4 + 2·(2 − 1)·ceil(16/2)·4
  EXPECT_EQ(c.tp.per_micro_batch, 1376);
  EXPECT_EQ(c.tp.calls_per_micro_batch, 12);  // 2 · 4 + 1 + 1 + 2
  EXPECT_EQ(c.tp.per_step, 5504);      // × accum 4
  EXPECT_EQ(c.total_per_step, 9764);   // 4260 + 5504
}

TEST(CommVolume, FullRecomputeRerunsTheAttentionAllReduce) {
  Config config = small_memory_config();
  config.train.recompute = Recompute::full;
  const TensorParallelComm t = make_plan(config).comm.tp;
  EXPECT_EQ(t.all_reduces_per_layer, 5);
  EXPECT_EQ(t.layers, 1280);  // 2 · 5 · 128
  EXPECT_EQ(t.per_micro_batch, 1632);
  EXPECT_EQ(t.calls_per_micro_batch, 14);

  // Only the recomputing layers pay: one of the two.
  config.train.recompute_layers = 1;
  EXPECT_EQ(make_plan(config).comm.tp.layers, 1152);  // (4·2 + 1) · 128
  config.train.recompute_layers.reset();

  // Selective recompute reruns only the MLP's column-parallel half: no collective.
  config.train.recompute = Recompute::selective;
  EXPECT_EQ(make_plan(config).comm.tp.all_reduces_per_layer, 4);
}

TEST(CommVolume, ZeroStageZeroAllReducesTheGradients) {
  Config config = small_memory_config();
  config.parallel.zero_stage = 0;
  const DataParallelComm d = make_plan(config).comm.dp;
  EXPECT_EQ(d.reduce_scatter, 0);
  EXPECT_EQ(d.all_gather, 0);
  EXPECT_EQ(d.all_reduce, 5680);  // 2 · (3 − 1) · 355 · 4
  EXPECT_EQ(d.total, 5680);
}

TEST(CommVolume, OneRankMovesNothing) {
  Config config = small_config();
  config.parallel.zero_stage = 1;
  config.batch.micro_batch = 2;
  config.batch.grad_accum = 3;
  config.batch.global_batch = 6;
  const CommVolume c = make_plan(config).comm;
  EXPECT_EQ(c.dp.total, 0);
  EXPECT_EQ(c.dp.reduce_scatter, 0);
  EXPECT_EQ(c.dp.all_gather, 0);
  EXPECT_EQ(c.tp.per_micro_batch, 0);
  EXPECT_EQ(c.tp.calls_per_micro_batch, 0);
  EXPECT_EQ(c.tp.per_step, 0);
  EXPECT_EQ(c.total_per_step, 0);

  const std::string text = format_plan(make_plan(config), config);
  EXPECT_NE(text.find("dp 1, no gradient reduction"), std::string::npos) << text;
  EXPECT_NE(text.find("tp 1, no all-reduces"), std::string::npos) << text;
}

// Stable LM 2 1.6B as configs/stablelm-2-1_6b.yml has it (b 2, bf16, fp32 gradients, ZeRO-1,
// full recompute) on `tensor` × `data` ranks, grad_accum chosen to keep 2,048 sequences per step.
Config stablelm_2_layout(int64_t tensor, int64_t data) {
  Config config = small_config();
  config.model = stablelm_2_1_6b();
  config.parallel.tensor = tensor;
  config.parallel.data = data;
  config.parallel.zero_stage = 1;
  config.train.recompute = Recompute::full;
  config.batch.micro_batch = 2;
  config.batch.grad_accum = 2048 / (2 * data);
  config.batch.global_batch = 2048;
  return config;
}

TEST(CommVolume, MonotonicInTheLayout) {
  // More data-parallel ranks: each rank sends a larger share ((dp − 1)/dp) of the same buffer,
  // never more than the buffer itself.
  int64_t previous = 0;
  for (int64_t dp : {1, 2, 4, 8, 16, 64, 512}) {
    const DataParallelComm d = make_plan(stablelm_2_layout(1, dp)).comm.dp;
    EXPECT_GT(d.reduce_scatter, dp == 1 ? -1 : previous) << dp;
    EXPECT_LT(d.reduce_scatter, d.grad_buffer_bytes) << dp;
    EXPECT_EQ(d.all_gather * 2, d.reduce_scatter) << "bf16 weights, fp32 gradients: " << dp;
    previous = d.reduce_scatter;
  }
  // More tensor-parallel ranks at a fixed dp: fewer parameters per rank, so less DP traffic; a
  // larger (t − 1)/t share of every activation all-reduce, so more TP traffic.
  int64_t previous_dp = INT64_MAX, previous_tp = -1;
  for (int64_t tp : {1, 2, 4, 8}) {
    const CommVolume c = make_plan(stablelm_2_layout(tp, 64)).comm;
    EXPECT_LT(c.dp.total, previous_dp) << tp;
    EXPECT_GT(c.tp.per_step, previous_tp) << tp;
    previous_dp = c.dp.total;
    previous_tp = c.tp.per_step;
  }
  // TP traffic is linear in the micro batches per step.
  Config config = stablelm_2_layout(2, 8);
  const int64_t one = make_plan(config).comm.tp.per_micro_batch;
  EXPECT_EQ(make_plan(config).comm.tp.per_step, config.batch.grad_accum.value() * one);
  config.batch.micro_batch = 4;
  config.batch.grad_accum = 64;
  EXPECT_GT(make_plan(config).comm.tp.per_micro_batch, one);
}

// The numbers docs/parallelism.md quotes from `kiln plan configs/stablelm-2-1_6b.yml --set ...`.
TEST(CommVolume, StableLm2On512RanksAsDocumented) {
  // tp 1 × dp 512: P = 1,644,417,024 = 512 · 3,211,752 (no padding).
  CommVolume c = make_plan(stablelm_2_layout(1, 512)).comm;
  EXPECT_EQ(c.dp.grad_buffer_bytes, 6'577'668'096);
  EXPECT_EQ(c.dp.reduce_scatter, 6'564'821'088);  // 511 · 3,211,752 · 4
  EXPECT_EQ(c.dp.all_gather, 3'282'410'544);      // 511 · 3,211,752 · 2
  EXPECT_EQ(c.tp.per_step, 0);
  EXPECT_EQ(c.total_per_step, 9'847'231'632);

  // tp 2 × dp 256, accum 4: P = 822,259,712 = 256 · 3,211,952.
  c = make_plan(stablelm_2_layout(2, 256)).comm;
  EXPECT_EQ(c.dp.reduce_scatter, 3'276'191'040);  // 255 · 3,211,952 · 4
  EXPECT_EQ(c.dp.all_gather, 1'638'095'520);
  // A = 2·4096·2048 bf16 = 33,554,432 B; AR(A) over 2 ranks = 33,554,432 B.
  EXPECT_EQ(c.tp.activation_bytes, 33'554'432);
  EXPECT_EQ(c.tp.layers, 4'026'531'840);          // 24 · 5 · AR(A)
  EXPECT_EQ(c.tp.embedding, 33'554'432);
  EXPECT_EQ(c.tp.lm_head, 33'554'432);
  EXPECT_EQ(c.tp.cross_entropy, 98'304);          // 2·4096·4 + 2·8192·4
  EXPECT_EQ(c.tp.per_micro_batch, 4'093'739'008);
  EXPECT_EQ(c.tp.per_step, 16'374'956'032);       // × 4
  EXPECT_EQ(c.total_per_step, 21'289'242'592);

  const Config config = stablelm_2_layout(2, 256);
  const Plan plan = make_plan(config);
  const nlohmann::json j = plan_to_json(plan);
  EXPECT_EQ(j["comm_bytes_per_rank"]["data_parallel"]["reduce_scatter"].get<int64_t>(), 3'276'191'040);
  EXPECT_EQ(j["comm_bytes_per_rank"]["tensor_parallel"]["per_step"].get<int64_t>(), 16'374'956'032);
  EXPECT_EQ(j["comm_bytes_per_rank"]["total_per_step"].get<int64_t>(), 21'289'242'592);
  const std::string text = format_plan(plan, config);
  EXPECT_NE(text.find("3,276,191,040 B"), std::string::npos) << text;
  EXPECT_NE(text.find("16,374,956,032 B"), std::string::npos) << text;
}

}  // namespace
}  // namespace kiln
