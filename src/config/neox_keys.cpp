// The tables declared in neox_keys.h. A key that is in none of them, and that the importer does not
// map, is refused as unknown.
#include "config/neox_keys.h"

namespace kiln::neox {

// Keys that only say where things run, log or are stored: nothing they hold changes what is
// computed. Kept as an explicit list so that an unfamiliar key is refused rather than guessed at.
const std::set<std::string> kInfrastructure = {
    "use_wandb",           "launcher",            "deepspeed_slurm",        "deepspeed_mpi",
    "num_workers",         "distributed_backend", "steps_per_print",        "wall_clock_breakdown",
    "extra_save_iters",    "eval_tasks",          "eval_batch_size",        "partition_activations",
    "synchronize_each_layer", "checkpoint_num_layers", "save_base_shapes",  "base_shapes_file",
    "coord_check",         "tokenizer_type",      "merge_file",             "test_data_paths",
    "test_data_weights",   "tensorboard_dir",     "log_dir",                "log_grad_norm",
    "log_param_norm",      "log_optimizer_states", "log_grad_pct_zeros",    "log_gradient_noise_scale",
    "use_shared_fs",       "mmap_warmup",         "hostfile",               "include",
    "master_port",         "master_addr",         "exit_interval",
    // experiment tracking, profiling and launcher bookkeeping
    "use_comet",           "comment",             "global_num_gpus",        "deepspeed_extra_args",
    "checkpoint_validation_with_forward_pass",    "profile",                "profile_step_start",
    "profile_step_stop",   "memory_profiling",    "memory_profiling_path",
    // how a checkpoint is loaded (kiln: checkpoint.init_from / resume), not what is computed
    "finetune",            "override_lr_scheduler",
    // text generation (deepy.py generate.py), not training
    "text_gen_type",       "temperature",         "top_p",                  "top_k",
    "maximum_tokens",      "num_samples",         "sample_input_file",      "sample_output_file",
    "recompute",           "prompt_end",
};
const std::vector<std::string> kInfrastructurePrefixes = {"wandb_", "s3_", "comet_"};

// Fused kernels and similar implementation choices: the same math computed another way.
const std::set<std::string> kImplementation = {
    "scaled_upper_triang_masked_softmax_fusion", "scaled_masked_softmax_fusion", "bias_gelu_fusion",
    "bias_dropout_fusion", "use_flash_cross_entropy", "rope_fusion", "layernorm_fusion",
    "use_flashattn_swiglu", "mamba_selective_scan_fusion", "mamba_causal_conv_fusion", "mamba_inner_func_fusion",
};

// GPT-NeoX's µP hyper-parameters; they do nothing unless use_mup is true (which is refused).
const std::set<std::string> kMupOnly = {
    "mup_init_scale", "mup_attn_temp", "mup_output_temp", "mup_embedding_mult", "mup_rp_embedding_mult",
    "mup_width_scale",
};

// GPT-NeoX configs do not state the vocabulary size: it is the tokenizer's. These files are common
// enough to know by name.
const std::vector<KnownTokenizer> kKnownTokenizers = {
    {"arcade100k.tiktoken", 100289, "Arcade100k (Stable LM 2)"},
    {"neox-tokenizer-vocab.json", 50277, "the GPT-NeoX-20B tokenizer"},
    {"20B_tokenizer.json", 50277, "the GPT-NeoX-20B tokenizer"},
    {"gpt2-vocab.json", 50257, "GPT-2 BPE"},
    {"gpt2-tokenizer.json", 50257, "GPT-2 BPE"},
};

}  // namespace kiln::neox
