// `emu35 edit` from parsed options to exit code: environment, dataset, row
// filter, resume scan and sharding all happen before any weights load, so a
// bad setting fails at once and a finished dataset exits in milliseconds.
// Then either this process edits its rows, or (several model instances on
// one host) it starts one worker per GPU slice and waits for them.
#include <emu35/emu35.h>

#include <thread>

#include "app/edit/dataset.h"
#include "app/edit/edit_options.h"
#include "app/edit/edit_plan.h"
#include "app/edit/env_vars.h"
#include "app/edit/gpu_slices.h"
#include "app/edit/interrupt.h"
#include "app/edit/row_filter.h"
#include "app/edit/run_log.h"
#include "app/edit/sharding.h"
#include "app/edit/worker_spawn.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace emu35::app::edit {

namespace {

EditSettings resolve_settings(const EditOptions& o, const Emu35Env& env) {
  EditSettings s;
  s.model_dir = o.model_name;
  if (o.model_name.empty()) throw Error("--model_name is required: the Emu3.5 model folder");
  const std::string vq = o.vq ? *o.vq : env.vq_path;
  if (vq.empty())
    throw Error("DG_EMU35_VQ_PATH is not set: point it at the Emu3.5-VisionTokenizer folder (or pass --vq DIR)");
  s.vq_dir = vq;
  s.tokenizer_dir = o.tokenizer ? *o.tokenizer : env.tokenizer_path;
  s.cfg = o.cfg ? *o.cfg : env.cfg;
  if (!(s.cfg >= 0) || s.cfg > 1e6) throw Error("--cfg: guidance must be a number >= 0");
  s.max_new_tokens = o.max_new_tokens ? *o.max_new_tokens : env.max_new_tokens;
  if (s.max_new_tokens < 1) throw Error("--max_new_tokens must be at least 1");
  s.image_area = o.image_area ? *o.image_area : env.image_area;
  if (s.image_area < 256 || s.image_area > (int64_t(16) << 20)) throw Error("--image_area must be 256..16777216 pixels");
  s.device = o.device ? check_device(*o.device, "--device") : env.hf_device;
  s.vq_device = env.vq_device;
  s.base_seed = o.seed.value_or(6666);
  s.batch_size = o.batch_size;
  if (s.batch_size < 1) throw Error("--batch_size must be at least 1, got " + std::to_string(s.batch_size));
  s.threads = o.threads;
  if (s.threads < 0) throw Error("--threads must be >= 0");
  s.start_image = o.start_image;
  s.allow_remote_images = o.allow_remote_images;
  s.image_cache_dir = o.image_cache_dir;
  s.output_dir = o.output_dir;
  if (o.output_dir.empty()) throw Error("--output_dir is required");
  s.quiet = o.quiet;
  return s;
}

std::pair<size_t, size_t> parse_row_range(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) throw Error("--row_range: expected A:B, got \"" + text + "\"");
  const int64_t a = parse_int_strict(text.substr(0, colon), "--row_range");
  const int64_t b = parse_int_strict(text.substr(colon + 1), "--row_range");
  if (a < 0 || b < a) throw Error("--row_range: bad range \"" + text + "\"");
  return {static_cast<size_t>(a), static_cast<size_t>(b)};
}

bool is_cpu(const std::string& device) { return device == "cpu" || (device == "auto" && !cuda_available()); }

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string float_text(float x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(x));
  return buf;
}

}  // namespace

int run_edit(const EditOptions& o) {
  install_interrupt_handlers();
  const bool is_worker = o.local_rank.has_value();
  if (is_worker) follow_parent_death();
  const EnvLookup env = process_env();

  // ---- settings: everything checked before anything heavy ----
  Emu35Env e = read_emu35_env(env);
  EditSettings s = resolve_settings(o, e);
  const int gpus_per_model = o.gpus_per_model ? *o.gpus_per_model : e.gpus_per_model;
  if (gpus_per_model < 0) throw Error("--gpus_per_model must be >= 0");
  const NodePlacement node = resolve_node_placement(o.node_rank, o.num_nodes, env);
  const RowFilter filter = o.filter_rows.empty() ? RowFilter() : RowFilter::parse(o.filter_rows);
  std::optional<std::pair<size_t, size_t>> range;
  if (!o.row_range.empty()) range = parse_row_range(o.row_range);

  ProcessPlacement where;
  where.node_rank = node.rank;
  where.num_nodes = node.count;
  std::vector<std::string> slices;
  if (is_worker) {
    where.local_rank = *o.local_rank;
    // Our parent passes --num_workers; diffgentor's manual worker form says --num_gpus.
    where.num_workers = o.num_workers ? *o.num_workers : o.num_gpus.value_or(1);
    if (where.num_workers < 1 || where.local_rank < 0 || where.local_rank >= where.num_workers)
      throw Error("--local_rank " + std::to_string(where.local_rank) + " is outside 0.." +
                  std::to_string(where.num_workers - 1) + " (--num_workers)");
  } else {
    slices = gpu_slices(visible_gpus(o.num_gpus, env), gpus_per_model);
    where.num_workers = slices.empty() ? 1 : static_cast<int>(slices.size());
  }
  if (is_worker && where.num_workers > 1 && s.threads == 0 && is_cpu(s.device))
    s.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / where.num_workers);

  const fs::path out_dir = s.output_dir;
  const fs::path csv_base = o.output_csv.empty() ? out_dir / "results.csv" : fs::path(o.output_csv);
  const fs::path log_dir = o.log_dir.empty() ? out_dir / "logs" / log_timestamp_folder() : fs::path(o.log_dir);
  const bool launcher = !is_worker && where.num_workers > 1;

  RunLog log;
  if (launcher) {
    log.open(log_dir / (node.count > 1 ? "node" + std::to_string(node.rank) + "_launcher.log" : "launcher.log"), 0);
  } else {
    const bool single = node.count == 1 && where.num_workers == 1;
    log.open(log_dir / (single ? std::string("process_0.log")
                               : "node" + std::to_string(node.rank) + "_process" + std::to_string(where.local_rank) + ".log"),
             where.local_rank);
    log.set_terminal(where.local_rank == 0);
  }

  // Everything after this point also lands in the log file, fatal errors included.
  auto body = [&]() -> int {
    const std::string bar(80, '=');
    log.info(bar);
    log.info("emu35 edit - diffgentor-compatible image editing with Emu3.5 (x2i)");
    log.info("  Backend: emu35");
    log.info("  Model: " + s.model_dir.string());
    log.info("  Vision tokenizer: " + s.vq_dir.string());
    log.info("  Input: " + o.input);
    log.info("  Output: " + out_dir.string());
    log.info("  Node: " + std::to_string(node.rank) + "/" + std::to_string(node.count) +
             (node.source != "default" ? " (from " + node.source + ")" : ""));
    log.info("  Process: " + std::to_string(where.local_rank) + "/" + std::to_string(where.num_workers));
    log.info("  Guidance: " + float_text(s.cfg) + ", max new tokens: " + std::to_string(s.max_new_tokens) +
             ", image area: " + std::to_string(s.image_area) + ", seed: " + std::to_string(s.base_seed) + " + row index" +
             (s.start_image ? ", answers start with a picture" : ""));
    log.info("  Device: " + s.device + (s.vq_device.empty() ? "" : ", vision tokenizer: " + s.vq_device) +
             ", batch size: " + std::to_string(s.batch_size));
    log.info(bar);
    if (!o.ignored.empty() && where.local_rank == 0 && !range)  // a worker's parent already said it
      log.warn("Ignored (no meaning for emu35): " + join(o.ignored, ", "));

    // ---- scan: filter -> skip finished -> shard ----
    DatasetOptions dopt;
    dopt.instruction_key = o.instruction_key;
    dopt.output_name_column = o.output_name_column;
    const Dataset d = load_dataset(o.input, dopt);
    std::vector<const EditRow*> pending;
    size_t selected = 0, completed = 0;
    for (const EditRow& r : d.rows) {
      if (!filter.contains(r.position)) continue;
      if (range && (r.position < range->first || r.position >= range->second)) continue;
      ++selected;
      if (!o.no_resume && r.error.empty() && fs::exists(out_dir / r.output_name)) {
        ++completed;
        continue;
      }
      pending.push_back(&r);
    }
    std::vector<const EditRow*> mine;
    if (range) {
      mine = pending;  // the parent already cut this worker's share out of the node's rows
    } else {
      auto [a, b] = contiguous_chunk(pending.size(), node.count, node.rank);
      mine.assign(pending.begin() + static_cast<std::ptrdiff_t>(a), pending.begin() + static_cast<std::ptrdiff_t>(b));
      if (is_worker) {  // started by hand with --local_rank: this worker's share of the node's rows
        auto [c, e2] = contiguous_chunk(mine.size(), where.num_workers, where.local_rank);
        mine = std::vector<const EditRow*>(mine.begin() + static_cast<std::ptrdiff_t>(c),
                                           mine.begin() + static_cast<std::ptrdiff_t>(e2));
      }
    }
    log.info("Scan:");
    log.info("  Source: " + d.source.string() + " (" + d.format + ")");
    log.info("  Total samples: " + std::to_string(d.rows.size()));
    if (!filter.all() || range) log.info("  Selected: " + std::to_string(selected));
    log.info(std::string("  Completed (skipped): ") + std::to_string(completed) + (o.no_resume ? " (--no_resume: none skipped)" : ""));
    log.info("  All pending: " + std::to_string(pending.size()));
    log.info("  This " + std::string(launcher ? "node" : "process") + " will handle: " + std::to_string(mine.size()) + " samples");
    if (mine.empty()) {
      log.info("Nothing to do: every selected row of this " + std::string(launcher || node.count > 1 ? "node" : "run") +
               " already has its picture.");
      return 0;
    }

    if (!launcher) {
      const std::string suffix = process_suffix(where);
      Tables t{with_suffix(csv_base, suffix), with_suffix(failures_path_for(csv_base), suffix)};
      return process_rows(s, d, mine, where, t, log);
    }

    // ---- several model instances on this host: one worker per GPU slice ----
    log.info("Selected launch strategy: multiprocess (" + std::to_string(slices.size()) + " instances of " +
             std::to_string(gpus_per_model) + " GPU(s))");
    std::vector<WorkerLaunch> launches;
    for (size_t i = 0; i < slices.size(); ++i) {
      auto [a, b] = contiguous_chunk(mine.size(), static_cast<int>(slices.size()), static_cast<int>(i));
      if (a == b) continue;
      WorkerLaunch w;
      w.cuda_visible_devices = slices[i];
      w.extra_args = {"--local_rank", std::to_string(i), "--num_workers", std::to_string(slices.size()), "--row_range",
                      std::to_string(mine[a]->position) + ":" + std::to_string(mine[b - 1]->position + 1)};
      if (o.log_dir.empty()) w.extra_args.insert(w.extra_args.end(), {"--log_dir", log_dir.string()});
      log.info("Instance " + std::to_string(i) + ": CUDA_VISIBLE_DEVICES=" + slices[i] + ", " + std::to_string(b - a) +
               " rows (positions " + std::to_string(mine[a]->position) + ".." + std::to_string(mine[b - 1]->position) + ")");
      launches.push_back(std::move(w));
    }
    const auto outcomes = run_workers(launches, {});
    int code = 0;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const int c = outcomes[i].exit_code;
      log.info("Instance " + launches[i].extra_args[1] + " finished with exit code " + std::to_string(c) +
               (c == 0 ? "" : " (see its log in " + log_dir.string() + ")"));
      if (c != 0) code = 1;
    }
    if (interrupted()) {
      log.error("Interrupted by user");
      return 130;
    }
    return code;
  };
  try {
    return body();
  } catch (const std::exception& ex) {
    log.record("ERROR", ex.what());  // the terminal gets it from main
    throw;
  }
}

}  // namespace emu35::app::edit
