// The generation loop of one edit process: rows go into the generator
// `batch_size` at a time (continuous batching: a finished row's place is
// taken at once), each finished picture is written atomically and recorded.
#include <emu35/emu35.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <set>

#include "app/edit/csv_appender.h"
#include "app/edit/edit_plan.h"
#include "app/edit/image_refs.h"
#include "app/edit/interrupt.h"
#include "app/edit/output_names.h"
#include "app/edit/remote_image.h"
#include "app/edit/row_progress.h"
#include "common/error.h"
#include "image/image_read.h"
#include "image/image_write.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace emu35::app::edit {

std::string process_suffix(const ProcessPlacement& p) {
  std::string s;
  if (p.num_nodes > 1) s += "_node" + std::to_string(p.node_rank);
  if (p.num_workers > 1) s += "_process" + std::to_string(p.local_rank);
  return s;
}

fs::path with_suffix(const fs::path& path, const std::string& suffix) {
  return path.parent_path() / (path.stem().string() + suffix + path.extension().string());
}

fs::path failures_path_for(const fs::path& results_csv) {
  const std::string stem = results_csv.stem().string();
  const std::string name = stem.rfind("results", 0) == 0 ? "failures" + stem.substr(7) : stem + "_failures";
  return results_csv.parent_path() / (name + results_csv.extension().string());
}

namespace {
const std::vector<std::string> kOurColumns = {"output_image", "seed", "tokens", "seconds"};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

std::string now_text() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

// A crash during a write leaves "<name>.tmp.<pid>" behind; the rows of this
// process are its own, so their leftovers are removed before work starts.
void remove_stale_temps(const fs::path& out_dir, const std::vector<const EditRow*>& rows, RunLog& log) {
  std::map<fs::path, std::set<std::string>> by_dir;
  for (const EditRow* r : rows)
    if (r->error.empty()) {
      fs::path p = out_dir / r->output_name;
      by_dir[p.parent_path()].insert(p.filename().string());
    }
  for (auto& [dir, names] : by_dir) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const std::string f = it->path().filename().string();
      const size_t k = f.rfind(".tmp.");
      if (k == std::string::npos || !names.count(f.substr(0, k))) continue;
      const std::string pid = f.substr(k + 5);
      if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::error_code rm;
      if (fs::remove(it->path(), rm)) log.info("Removed a partial file left by an interrupted run: " + it->path().string());
    }
  }
}

Request build_request(const EditSettings& s, const EditRow& r) {
  Request req;
  req.task = Task::X2I;
  req.prompt = r.instruction;
  for (const std::string& ref : r.images) {
    if (is_remote_ref(ref)) {
      if (!s.allow_remote_images)
        throw Error("image " + ref + ": http(s) pictures are fetched only with --allow_remote_images");
      req.images.push_back({ref, fetch_remote_image(ref, s.image_cache_dir)});
    } else {
      req.images.push_back({ref, read_image(ref)});
    }
  }
  req.guidance_scale = s.cfg;
  req.max_new_tokens = s.max_new_tokens;
  req.image_area = s.image_area;
  req.start_image = s.start_image;
  req.seed = s.base_seed + static_cast<uint64_t>(*r.index);
  return req;
}

// Why a finished generation gave no picture, in words a user can act on.
std::string no_picture_reason(const GenerationResult& g, int max_new_tokens) {
  const std::string n = std::to_string(g.generated_ids.size());
  if (g.stop_reason == "max_new_tokens")
    return "no complete picture within " + std::to_string(max_new_tokens) +
           " new tokens (raise DG_EMU35_MAX_NEW_TOKENS / --max_new_tokens)";
  if (g.stop_reason == "eos")
    return "the model ended its answer after " + n + " tokens without drawing a complete picture" +
           " (random-weight test models need --start_image)";
  return "no picture (generation stopped: " + g.stop_reason + " after " + n + " tokens)";
}

struct Flight {
  const EditRow* row = nullptr;
  size_t id = 0;
  int handle = -1;
  PreparedRequest prep;
  std::shared_ptr<std::atomic<bool>> cancel;
  Clock::time_point start;
};

}  // namespace

std::vector<std::string> results_columns(const Dataset& d) {
  std::vector<std::string> cols;
  for (auto& c : d.columns)
    if (std::find(kOurColumns.begin(), kOurColumns.end(), c) == kOurColumns.end()) cols.push_back(c);
  cols.insert(cols.end(), kOurColumns.begin(), kOurColumns.end());
  return cols;
}

const std::vector<std::string>& failures_columns() {
  static const std::vector<std::string> cols = {"index", "error", "instruction", "input_images", "line", "time"};
  return cols;
}

int process_rows(const EditSettings& s, const Dataset& d, const std::vector<const EditRow*>& rows,
                 const ProcessPlacement& where, const Tables& tables, RunLog& log) {
  const std::string tag = where.tag();
  const auto t_start = Clock::now();
  const std::vector<std::string> rcols = results_columns(d);
  // Both tables are checked now, opened when their first row comes.
  check_csv_header(tables.results, rcols);
  check_csv_header(tables.failures, failures_columns());
  CsvAppender results, failures;
  remove_stale_temps(s.output_dir, rows, log);

  log.info("Loading model...");
  EngineOptions eo;
  eo.model_dir = s.model_dir;
  eo.vq_dir = s.vq_dir;
  eo.tokenizer_dir = s.tokenizer_dir;
  eo.device = s.device;
  eo.vq_device = s.vq_device;
  eo.threads = s.threads;
  std::unique_ptr<Engine> engine = Engine::open(eo);
  log.info("Model loaded in " + fmt_seconds(seconds_since(t_start)) + " s");
  if (interrupted()) {
    log.error("Interrupted by user");
    return 130;
  }

  RowProgress progress(rows.size(), !s.quiet && where.local_rank == 0);
  log.set_before_print([&progress] { progress.clear(); });
  log.set_after_print([&progress] { progress.redraw(); });
  size_t ok = 0, failed = 0;
  const auto t_gen = Clock::now();

  auto record_failure = [&](const EditRow& r, size_t id, const std::string& why) {
    log.error(tag + " Failed row " + r.index_text + " (line " + std::to_string(r.line) + "): " + why);
    if (!failures.is_open()) failures.open(tables.failures, failures_columns());
    failures.append({r.index_text, why, r.instruction, r.images_text, std::to_string(r.line), now_text()});
    ++failed;
    progress.row_done(id, false);
  };

  Generator gen(engine->backend());
  std::vector<Flight> flights;
  size_t next = 0;
  for (;;) {
    while (!interrupted() && flights.size() < static_cast<size_t>(s.batch_size) && next < rows.size()) {
      const size_t id = next++;
      const EditRow& r = *rows[id];
      if (!r.error.empty()) {
        record_failure(r, id, r.error);
        continue;
      }
      Flight f;
      f.row = &r;
      f.id = id;
      f.start = Clock::now();
      try {
        f.prep = engine->prepare(build_request(s, r));
        f.cancel = std::make_shared<std::atomic<bool>>(false);
        f.handle = gen.submit(f.prep.gen, [&progress, id](const StepEvent& e) { progress.row_event(id, e); }, f.cancel);
      } catch (const std::exception& e) {
        record_failure(r, id, e.what());
        continue;
      }
      flights.push_back(std::move(f));
    }
    if (flights.empty()) break;
    if (interrupted())
      for (auto& f : flights) f.cancel->store(true);

    std::vector<std::pair<int, GenerationResult>> done;
    try {
      done = gen.step();
    } catch (const std::exception& e) {
      // The backend itself failed: every row in flight fails, and so does the run.
      for (auto& f : flights) record_failure(*f.row, f.id, std::string("generation failed: ") + e.what());
      progress.finish();
      throw Error(std::string("generation failed: ") + e.what());
    }
    for (auto& [handle, result] : done) {
      auto it = std::find_if(flights.begin(), flights.end(), [h = handle](const Flight& f) { return f.handle == h; });
      if (it == flights.end()) continue;
      Flight f = std::move(*it);
      flights.erase(it);
      const EditRow& r = *f.row;
      if (result.stop_reason == "canceled") continue;  // interrupted: nothing written, the row stays pending
      if (result.stop_reason == "error") {
        record_failure(r, f.id, "generation failed: " + result.error);
        continue;
      }
      try {
        const size_t tokens = result.generated_ids.size();
        const std::string reason = no_picture_reason(result, s.max_new_tokens);
        Output o = engine->finish(std::move(f.prep), std::move(result));
        if (o.images.empty()) throw Error(reason);
        const fs::path out = s.output_dir / r.output_name;
        fs::create_directories(out.parent_path());
        write_image(out, o.images.front(), output_format_for(r.output_name), kDefaultImageQuality);
        std::vector<std::string> fields;
        for (const std::string& c : rcols) {
          if (c == "output_image") fields.push_back(r.output_name);
          else if (c == "seed") fields.push_back(std::to_string(o.request.params.seed));
          else if (c == "tokens") fields.push_back(std::to_string(tokens));
          else if (c == "seconds") fields.push_back(fmt_seconds(seconds_since(f.start)));
          else {
            auto v = r.fields.find(c);
            fields.push_back(v == r.fields.end() ? "" : v->second);
          }
        }
        if (!results.is_open()) results.open(tables.results, rcols);
        results.append(fields);
        ++ok;
        progress.row_done(f.id, true);
        log.info(tag + " Saved: " + r.output_name);
      } catch (const std::exception& e) {
        record_failure(r, f.id, e.what());
      }
    }
  }
  const double rph = progress.rows_per_hour();
  progress.finish();
  log.set_before_print({});
  log.set_after_print({});

  const double el = seconds_since(t_gen);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", rph);
  log.info(std::string(60, '='));
  if (interrupted()) {
    log.info(tag + " Interrupted: " + std::to_string(ok) + " successful, " + std::to_string(failed) + " failed, " +
             std::to_string(rows.size() - ok - failed) + " left for the next run");
  } else {
    log.info(tag + " Completed: " + std::to_string(ok) + " successful, " + std::to_string(failed) + " failed in " +
             fmt_seconds(el) + " s (" + buf + " rows/h)");
  }
  if (ok) log.info(tag + " Results: " + tables.results.string());
  if (failed) log.info(tag + " Failures: " + tables.failures.string());
  log.info(std::string(60, '='));
  if (interrupted()) {
    log.error("Interrupted by user");
    return 130;
  }
  return failed ? 1 : 0;
}

}  // namespace emu35::app::edit
