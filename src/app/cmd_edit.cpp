// `emu35 edit` (also run as `diffgentor edit` through a link): batch image
// editing over a CSV/JSONL dataset with diffgentor's flags, file layout and
// DG_EMU35_* variables. The work is in src/app/edit/.
#include <CLI/CLI.hpp>
#include <memory>

#include "app/command.h"
#include "app/edit/edit_options.h"

namespace emu35::app {
namespace {

using edit::EditOptions;

// diffgentor flags that mean nothing for Emu3.5; accepted so existing scripts
// run, and listed once as ignored.
struct IgnoredFlags {
  std::vector<std::pair<std::string, CLI::Option*>> opts;
  std::string model_type, torch_dtype, optimize, attention_backend, cache_type, negative_prompt, prompt_enhance_type;
  std::string timeout, api_max_retries, retry_delay, max_global_workers, num_processes;
  std::string num_inference_steps, guidance_scale, true_cfg_scale, max_retries;
  bool enable_compile = false, enable_cpu_offload = false, enable_vae_slicing = false, enable_vae_tiling = false;
  bool resume = false;
};

std::function<int()> setup_edit(CLI::App& sub) {
  auto o = std::make_shared<EditOptions>();
  auto ig = std::make_shared<IgnoredFlags>();
  sub.footer(
      "Environment: DG_EMU35_VQ_PATH (required), DG_EMU35_TOKENIZER_PATH, DG_EMU35_CFG (3.0), "
      "DG_EMU35_MAX_NEW_TOKENS (5120), DG_EMU35_IMAGE_AREA (1048576), DG_EMU35_HF_DEVICE (auto), "
      "DG_EMU35_VQ_DEVICE, DG_EMU35_VQ_TYPE (ibq), DG_EMU35_GPUS_PER_MODEL (0). Node rank also from "
      "SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX (+ JOB_COMPLETIONS). See docs/edit.md.");
  // diffgentor's flags, same names and defaults
  sub.add_option("--model_name", o->model_name, "Emu3.5 model folder (config.json + safetensors)")->required();
  sub.add_option("--input", o->input, "dataset: .csv or .jsonl (columns instruction, input_images, optional index)")->required();
  sub.add_option("--output_dir", o->output_dir, "picture folder (%06d.png per row)")->required();
  sub.add_option("--backend", o->backend, "diffgentor backend; this tool is the emu35 backend")->capture_default_str();
  sub.add_option("--output_csv", o->output_csv, "results table (default <output_dir>/results.csv; appended)");
  sub.add_option("--instruction_key", o->instruction_key, "column holding the edit instruction")->capture_default_str();
  sub.add_option("--image_cache_dir", o->image_cache_dir, "cache for http(s) pictures (with --allow_remote_images)");
  sub.add_option("--seed", o->seed, "base seed; row seed = seed + row index (default 6666, upstream's)");
  sub.add_flag("--resume", ig->resume, "skip rows whose picture exists (the default)");
  sub.add_flag("--no_resume", o->no_resume, "regenerate rows even when their picture exists");
  sub.add_option("--filter_rows", o->filter_rows, "rows to consider, by 0-based position: 0:100, 100:, 0,5,10");
  sub.add_option("--output_name_column", o->output_name_column, "column naming each row's output file (inside --output_dir)");
  sub.add_option("--node_rank", o->node_rank, "this node's rank (default 0, or from Slurm / Kubernetes)");
  sub.add_option("--num_nodes", o->num_nodes, "number of nodes (default 1, or from Slurm / Kubernetes)");
  sub.add_option("--num_gpus", o->num_gpus, "GPUs to use (default: CUDA_VISIBLE_DEVICES entries)");
  sub.add_option("--batch_size", o->batch_size, "rows generated together")->capture_default_str();
  sub.add_option("--log_dir", o->log_dir, "log folder (default <output_dir>/logs/<YYYYmmdd_HHMM>)");
  sub.add_option("--device", o->device, "model device: auto, cpu, cuda or cuda:N (default DG_EMU35_HF_DEVICE or auto)");
  // ours
  sub.add_option("--vq", o->vq, "vision tokenizer folder (overrides DG_EMU35_VQ_PATH)");
  sub.add_option("--tokenizer", o->tokenizer, "text tokenizer folder (overrides DG_EMU35_TOKENIZER_PATH)");
  sub.add_option("--cfg", o->cfg, "classifier-free guidance (overrides DG_EMU35_CFG)");
  sub.add_option("--max_new_tokens", o->max_new_tokens, "token budget per row (overrides DG_EMU35_MAX_NEW_TOKENS)");
  sub.add_option("--image_area", o->image_area, "pixel area of the input pictures (overrides DG_EMU35_IMAGE_AREA)");
  sub.add_option("--gpus_per_model", o->gpus_per_model, "GPUs per model instance (overrides DG_EMU35_GPUS_PER_MODEL)");
  sub.add_flag("--start_image", o->start_image, "begin each answer with <|image start|> (random-weight models need it)");
  sub.add_flag("--allow_remote_images", o->allow_remote_images, "fetch http(s) input pictures (with curl)");
  sub.add_option("--threads", o->threads, "CPU threads (0 = all cores)")->capture_default_str();
  sub.add_flag("--quiet", o->quiet, "no progress bar");
  // set by the parent for its workers
  sub.add_option("--local_rank", o->local_rank)->group("");
  sub.add_option("--num_workers", o->num_workers)->group("");
  sub.add_option("--row_range", o->row_range)->group("");
  // accepted, ignored
  const std::string ign = "Accepted for diffgentor compatibility, ignored";
  auto add_ignored = [&](const std::string& name, std::string& target) {
    ig->opts.push_back({name, sub.add_option(name, target)->group(ign)});
  };
  add_ignored("--model_type", ig->model_type);
  add_ignored("--torch_dtype", ig->torch_dtype);
  add_ignored("--optimize", ig->optimize);
  add_ignored("--attention_backend", ig->attention_backend);
  add_ignored("--cache_type", ig->cache_type);
  add_ignored("--timeout", ig->timeout);
  add_ignored("--api_max_retries", ig->api_max_retries);
  add_ignored("--retry_delay", ig->retry_delay);
  add_ignored("--max_global_workers", ig->max_global_workers);
  add_ignored("--num_processes", ig->num_processes);
  add_ignored("--num_inference_steps", ig->num_inference_steps);
  add_ignored("--guidance_scale", ig->guidance_scale);
  add_ignored("--true_cfg_scale", ig->true_cfg_scale);
  add_ignored("--negative_prompt", ig->negative_prompt);
  add_ignored("--max_retries", ig->max_retries);
  add_ignored("--prompt_enhance_type", ig->prompt_enhance_type);
  ig->opts.push_back({"--enable_compile", sub.add_flag("--enable_compile", ig->enable_compile)->group(ign)});
  ig->opts.push_back({"--enable_cpu_offload", sub.add_flag("--enable_cpu_offload", ig->enable_cpu_offload)->group(ign)});
  ig->opts.push_back({"--enable_vae_slicing", sub.add_flag("--enable_vae_slicing", ig->enable_vae_slicing)->group(ign)});
  ig->opts.push_back({"--enable_vae_tiling", sub.add_flag("--enable_vae_tiling", ig->enable_vae_tiling)->group(ign)});
  return [o, ig] {
    for (auto& [name, opt] : ig->opts)
      if (opt->count() > 0 && !(name == "--model_type" && ig->model_type == "emu35")) o->ignored.push_back(name);
    if (o->backend != "emu35") o->ignored.push_back("--backend " + o->backend + " (this is the emu35 backend)");
    return edit::run_edit(*o);
  };
}

const RegisterCommand reg_edit{"edit", "Batch image editing over a CSV/JSONL dataset (diffgentor-compatible)", 30,
                               setup_edit};

}  // namespace
}  // namespace emu35::app
