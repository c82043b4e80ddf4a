#include "train/trainer.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "data/loader.h"
#include "models/factory.h"
#include "runtime/checked.h"
#include "runtime/cpu_isa.h"
#include "runtime/cuda_graph.h"
#include "runtime/error.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/detail/evaluate.h"
#include "train/grad_reducer.h"
#include "train/norm_stats.h"
#include "train/optim.h"
#include "train/run_norm.h"

namespace renorm {

namespace {
void truncate(Dataset& d, int64_t limit) {
  if (limit <= 0 || limit >= d.size()) return;
  d.labels.resize(limit);
  d.pixels.resize(limit * d.image_bytes());
}

Dataset load_split(const TrainConfig& c, bool train, const Communicator& world, int64_t* whole = nullptr) {
  Dataset d = load_dataset(c.dataset, c.data_dir, train);
  truncate(d, train ? c.train_limit : c.val_limit);
  if (whole) *whole = d.size();
  if (!train) keep_shard(d, world.rank(), world.size());
  return d;
}

ModelConfig model_config(const TrainConfig& c, const Dataset& d, const RunNorm& norm, const Communicator& world) {
  return ModelConfig{.kind = c.model, .height = d.height, .width = d.width, .channels = d.channels,
                     .classes = d.num_classes(), .norm = norm.kind, .norm_config = norm.config, .seed = c.seed,
                     .first_example = world.rank() * norm.group.rank_batch, .precision = c.precision};
}

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, const Model& model) {
  if (c.optimizer == OptimizerKind::Sgd)
    return std::make_unique<Sgd>(model.named_parameters(), c.lr, SgdOptions{c.momentum, c.weight_decay, c.nesterov},
                                 model.step_scalars());
  return std::make_unique<Adam>(model.named_parameters(), c.lr, AdamOptions{c.momentum, 0.999f, 1e-8f, c.weight_decay},
                                model.step_scalars());
}

int64_t total_steps(const TrainConfig& c, int64_t per_epoch) {
  if (c.steps > 0) return c.steps;
  const auto total = checked_mul(c.epochs, per_epoch);
  if (!total)
    throw ConfigError("--epochs " + std::to_string(c.epochs) + " of " + std::to_string(per_epoch) +
                      " steps each is more steps than a 64-bit count holds");
  return *total;
}

LrSchedule lr_schedule(const TrainConfig& c, int64_t total) {
  LrSchedule lrs;
  lrs.kind = c.lr_schedule;
  lrs.base = c.lr;
  lrs.warmup_steps = c.lr_warmup;
  lrs.total_steps = total;
  lrs.step_size = c.lr_step_size > 0 ? c.lr_step_size : std::max<int64_t>(1, total / 3);
  lrs.gamma = c.lr_gamma;
  return lrs;
}

// Everything one run holds, built from its (validated) settings, and what it does with it.
struct Run {
  // `grads`: the communicator gradients are averaged over (world itself on the CPU; NCCL on CUDA).
  Run(const TrainConfig& config, Communicator& world_comm, Communicator& grads)
      : c(config),
        world(world_comm),
        writer(world.rank() == 0),
        dev(parse_device(c.device)),
        train_set(load_split(c, true, world)),
        val_set(load_split(c, false, world, &val_total)),
        norm(Normalization::of(train_set)),
        train_loader(train_set, norm,
                     LoaderConfig{c.batch, true, c.augment, true, c.sampler, c.seed, world.rank(), world.size(),
                                  c.noniid_run},
                     dev),
        val_loader(val_set, norm, LoaderConfig{c.batch, false, false, false, Sampler::Iid, c.seed}, dev),
        per_epoch(train_loader.batches_per_epoch()),
        total(total_steps(c, per_epoch)),
        eval_every(c.eval_every > 0 ? c.eval_every : per_epoch),
        norm_settings(resolve_norm(c, world.size(), total)),
        val_groups(val_set, norm, LoaderConfig{norm_settings.group.rank_batch, false, false, true, Sampler::Iid, c.seed}, dev),
        val_group_batches(val_total / world.size() / norm_settings.group.rank_batch),
        model_ptr(make_model(model_config(c, train_set, norm_settings, world), dev)),
        model(*model_ptr),
        opt(make_optimizer(c, model)),
        lrs(lr_schedule(c, total)),
        ckpt_path(c.out_dir + "/checkpoint.safetensors"),
        metrics(writer ? c.out_dir + "/metrics.csv" : "", model.norm_positions()) {
    if (world.size() > 1) reducer = std::make_unique<GradReducer>(model.named_parameters(), model.named_buffers(), grads, dev);
    if (world.size() > 1 && c.sync_norm)
      for (BatchRenorm* n : model.norms()) n->set_sync(&grads);
    if (dev == Device::CUDA && world.size() == 1 && c.cuda_graph == OnOff::On) graph = std::make_unique<CudaGraph>();
  }

  const TrainConfig c;
  Communicator& world;
  const bool writer;  // rank 0: the one that writes files and displays progress
  const Device dev;
  int64_t val_total = 0;  // validation examples over all ranks (set by val_set's initializer)
  Dataset train_set, val_set;
  const Normalization norm;
  DataLoader train_loader, val_loader;
  const int64_t per_epoch, total, eval_every;
  // Resolved once for this rank and run (its group: this rank's share B/K and normalization group); the
  // model, the display and val_groups read it.
  const RunNorm norm_settings;
  DataLoader val_groups;  // the validation set in training's batches of B/K (evaluate_train_mode)
  const int64_t val_group_batches;
  const std::unique_ptr<Model> model_ptr;
  Model& model;
  std::unique_ptr<Optimizer> opt;
  std::unique_ptr<GradReducer> reducer;  // data parallel only
  const LrSchedule lrs;
  const std::string ckpt_path;
  MetricsLog metrics;
  NormStatsLog norm_stats{writer && c.norm_stats == OnOff::On && c.norm != NormKind::None ? c.out_dir + "/norm_stats.csv"
                                                                                         : ""};
  int64_t step = 0;
  double elapsed_before = 0;
  // The step's static buffers: the batch the loader refills, the loss and accuracy sums (zeroed at
  // each metrics row) — what a captured step reads and writes at the same addresses every step.
  Batch batch;
  Tensor loss_sum = Tensor::zeros(Shape{}, dev), acc_sum = Tensor::zeros(Shape{}, dev);
  // --cuda-graph on (CUDA, one process): kGraphWarmup eager steps inside the graph's pool, then the
  // step captured once and replayed; null: every step eager.
  static constexpr int kGraphWarmup = 2;
  std::unique_ptr<CudaGraph> graph;

  // Parameters, norm buffers and optimizer state: the whole state of the run with the step.
  NamedTensors state() const {
    NamedTensors all;
    for (auto& [n, t] : model.named_parameters()) all.emplace_back("param/" + n, t);
    for (auto& [n, t] : model.named_buffers()) all.emplace_back("buffer/" + n, t);
    for (auto& [n, t] : opt->named_state()) all.emplace_back("optim/" + n, t);
    return all;
  }

  // The checkpoint this run could be continued from: the last one written (or resumed from) after its
  // values were checked finite. Divergence messages name it.
  std::string last_good = "none written by this run";

  void resume() {
    const std::string from = c.resume_dir + "/checkpoint.safetensors";
    const SafeTensors ck = load_safetensors(from);
    const auto kind = ck.metadata.find("model");  // absent in checkpoints from before --model: the CNN's
    const std::string held = kind == ck.metadata.end() ? enum_name(ModelKind::CifarCnn) : kind->second;
    if (held != enum_name(c.model))
      throw ConfigError(from + ": holds a " + held + ", not the --model " + enum_name(c.model) + " of this run");
    restore_tensors(state(), ck, "", from);
    const std::string bad = first_nonfinite(state());
    if (!bad.empty()) throw IoError(from + ": " + bad + "; a diverged run cannot be resumed (use an earlier checkpoint)");
    step = metadata_int(ck, "step", from);
    if (step > total)
      throw IoError(from + ": checkpoint is at step " + std::to_string(step) + ", past the run's " + std::to_string(total) +
                    " steps");
    elapsed_before = metadata_seconds(ck, "elapsed_s", from);
    opt->set_steps(metadata_int(ck, "optimizer_steps", from));
    metrics.load(c.resume_dir + "/metrics.csv", step);
    const std::string stats = c.resume_dir + "/norm_stats.csv";
    if (probing_norms() && std::filesystem::exists(stats)) norm_stats.load(stats, step);
    last_good = from + " (step " + std::to_string(step) + ")";
  }

  // TrainingDiverged naming the first parameter, buffer or optimizer state that is not finite.
  void require_finite_state() const {
    const std::string bad = first_nonfinite(state());
    if (!bad.empty()) throw TrainingDiverged(nonfinite_note(bad, "checkpoint"));
  }

  // Writes the checkpoint of the step just taken. Callers check the state first (report() at a
  // validation, the signal path through require_finite_state): nothing non-finite is written.
  void write_checkpoint(double elapsed_s) {
    const Metadata meta{{"step", std::to_string(step + 1)}, {"elapsed_s", format_number(elapsed_s, 10)},
                        {"optimizer_steps", std::to_string(opt->steps())}, {"format", "renorm checkpoint v1"},
                        {"model", enum_name(c.model)},
                        // Data order, augmentation and dropout are counter-based: (seed, step) is their whole state.
                        {"seed", std::to_string(c.seed)}, {"data_position", std::to_string(train_loader.position())}};
    if (writer) save_safetensors(ckpt_path, state(), meta);
    last_good = ckpt_path + " (step " + std::to_string(step + 1) + ")";
  }
  std::string good_note() const { return "; last good checkpoint: " + last_good; }
  std::string nonfinite_note(const std::string& bad, const char* file) const {
    return "after step " + std::to_string(step + 1) + " " + bad + "; " + file + " not written" + good_note();
  }

  void save_model() const {
    NamedTensors weights = model.named_parameters();
    for (auto& [n, t] : model.named_buffers()) weights.emplace_back(n, t);
    const std::string bad = first_nonfinite(weights);
    if (!bad.empty()) throw TrainingDiverged(nonfinite_note(bad, "model"));
    if (writer) save_safetensors(c.out_dir + "/model.safetensors", weights, {{"norm", enum_name(c.norm)}, {"dataset", enum_name(c.dataset)}});
  }

  // One optimizer step: the batch into its buffers, this step's scalars (clipping bounds, dropout
  // step, learning rate, bias corrections) in one copy, then the step's work — eager, or replayed as the
  // captured graph. The loss and accuracy are summed on the device (no sync).
  void train_step() {
    train_loader.next_into(batch);
    opt->set_lr(lrs.at(step));
    model.write_step(step);
    opt->write_step();
    model.step_scalars()->upload();
    const bool probe = probing_norms() && row_now(step);
    if (graph && !probe) return graph->run([this] { step_work(); }, kGraphWarmup);
    for (BatchRenorm* n : model.norms()) n->set_stats_probe(probe);  // a probed step runs eager
    step_work();
    if (!probe) return;
    for (BatchRenorm* n : model.norms()) n->set_stats_probe(false);
    std::vector<NormProbe> layers;
    for (const BatchRenorm* n : model.norms()) layers.push_back(n->probe());
    norm_stats.add(step + 1, model.norms()[0]->rmax(), model.norms()[0]->dmax(), layers);
  }
  bool probing_norms() const { return writer && c.norm_stats == OnOff::On && !model.norms().empty(); }
  // The step after which a metrics row is written: every log_every steps, at each validation, the last.
  bool row_now(int64_t k) const { return (k + 1) % c.log_every == 0 || validation_now(k); }
  bool validation_now(int64_t k) const { return (k + 1) % eval_every == 0 || k + 1 == total; }

  // Forward, loss, backward, optimizer update and the sums: the work a graph captures. Reads the step's
  // values only from the device (the batch buffers, the step scalars).
  void step_work() {
    Tensor hits;
    Tensor loss = softmax_cross_entropy(model.forward(batch.images), batch.labels, &hits);
    opt->zero_grad();
    if (reducer) {  // data parallel: the moving averages and gradients averaged over the ranks
      reducer->start_buffers();
      reducer->backward(loss);
      reducer->finish();
    } else {
      loss.backward();
    }
    opt->apply();
    NoGradGuard ng;
    add_into(loss_sum, loss.detach());
    add_into(acc_sum, scale(sum(hits), 1.f / float(batch.labels.numel())));
  }

  // The metrics row after this step: the averages of the last `since` steps, a validation when eval_now
  // (then a checkpoint too). A non-finite training or validation loss is written to the row (nan, inf),
  // then TrainingDiverged is thrown and no checkpoint is written.
  MetricsRow report(int64_t since, double loss, double acc, double t, double row_time, bool eval_now, Eval* last) {
    const bool finite = std::isfinite(loss);
    // At a validation the state is checked first: a non-finite tensor is named, and never evaluated.
    const std::string bad = eval_now && finite ? first_nonfinite(state()) : "";
    const bool validate_now = eval_now && finite && bad.empty();
    Eval ev;
    if (validate_now) {
      ev = evaluate(model, val_loader, world);
      evaluate_train_mode(model, val_groups, val_group_batches, world, &ev);
      *last = ev;
    }
    const ClipFractions cf = model.clip_fractions();
    const BatchRenorm* n0 = model.norms().empty() ? nullptr : model.norms()[0];
    MetricsRow r{step + 1, double(step + 1) / per_epoch, loss, acc, validate_now, ev.loss, ev.acc,
                 n0 ? n0->rmax() : 1.0, n0 ? n0->dmax() : 0.0, cf.r, cf.d, opt->lr(), t,
                 double(since * c.batch) / std::max(t - row_time, 1e-9), ev.acc_train_mode, ev.gaps};
    metrics.add(r);
    if (!finite)
      throw TrainingDiverged("training loss became " + format_number(loss) + " between steps " +
                             std::to_string(step + 2 - since) + " and " + std::to_string(step + 1) + "; stopped" +
                             good_note());
    if (!bad.empty()) throw TrainingDiverged(nonfinite_note(bad, "checkpoint"));
    if (validate_now && !std::isfinite(ev.loss))  // finite weights, yet the model's outputs overflow
      throw TrainingDiverged("validation loss became " + format_number(ev.loss) + " at step " + std::to_string(step + 1) +
                             "; checkpoint not written" + good_note());
    if (eval_now) write_checkpoint(t);  // the state was checked above
    return r;
  }

  TrainResult loop(TrainObserver& obs);
};

TrainResult Run::loop(TrainObserver& obs) {
  const auto t0 = std::chrono::steady_clock::now();
  auto now_s = [&] { return elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  int64_t since = 0;
  double row_time = now_s(), last_loss = NAN, last_acc = NAN;
  Eval last;
  for (; step < total; ++step) {
    train_step();
    ++since;
    const bool eval_now = validation_now(step);
    if (row_now(step)) {
      double loss = loss_sum.item() / since, acc = acc_sum.item() / since;  // reporting: the one sync
      if (world.size() > 1) {  // every rank reports the means over all ranks' examples
        float both[2] = {float(loss), float(acc)};
        world.allreduce_sum(both, 2);
        loss = double(both[0]) / world.size();
        acc = double(both[1]) / world.size();
      }
      const double t = now_s();
      const MetricsRow r = report(since, loss, acc, t, row_time, eval_now, &last);
      if (writer) obs.row(r, total, eval_now, (t - row_time) / double(since) * double(total - step - 1));
      last_loss = loss;
      last_acc = acc;
      loss_sum.fill_(0.f);
      acc_sum.fill_(0.f);
      since = 0;
      row_time = t;
    }
    if (writer && since > 0 && (step + 1) % std::max<int64_t>(1, c.log_every / 10) == 0) {  // host clock only: no sync
      const double rate = double(since * c.batch) / std::max(now_s() - row_time, 1e-9);
      obs.tick(step + 1, total, rate, double(total - step - 1) * c.batch / std::max(rate, 1e-9), last_loss, last_acc);
    }
    if (c.stop_after > 0 && step + 1 == c.stop_after) return {step + 1, last.loss, last.acc, now_s(), false, ""};
    if (step + 1 < total && any_rank(obs.stop_requested(), world)) {  // a signal: the step is done; keep it, then stop
      require_finite_state();
      write_checkpoint(now_s());
      return {step + 1, last.loss, last.acc, now_s(), true, ckpt_path};
    }
  }
  if (writer) obs.finished();
  if (std::isnan(last.acc)) last = evaluate(model, val_loader, world);  // resumed at the last step: nothing ran
  save_model();
  return {total, last.loss, last.acc, now_s(), false, ""};
}
}  // namespace

namespace {
// What the gradients are averaged over: the world itself on the CPU (MPI); on CUDA, NCCL over the world,
// one GPU per rank chosen by its node-local rank (made before any CUDA tensor). Null for one process.
std::unique_ptr<Communicator> gradient_communicator(const TrainConfig& c, Communicator& world) {
  if (world.size() == 1 || parse_device(c.device) != Device::CUDA) return nullptr;
  return make_nccl_communicator(world);
}

// OpenMP threads: --threads, else (several ranks on one machine) the cores shared out among them.
void set_threads(const TrainConfig& c, const Communicator& world) {
  if (c.threads > 0) omp_set_num_threads(c.threads);
  else if (world.local_size() > 1) omp_set_num_threads(std::max(1, omp_get_num_procs() / world.local_size()));
}
}  // namespace

TrainResult train(const TrainConfig& config, TrainObserver* observer, std::shared_ptr<Communicator> world) {
  TrainObserver quiet;
  TrainObserver& obs = observer ? *observer : quiet;
  if (!world) world = single_communicator();
  const int ranks = world->size();
  TrainConfig c = settings_for_ranks(resolve_resume(config), ranks);
  validate(c);
  // One owner per folder; the rank that writes holds it. Past this line the folder is this run's.
  const FolderLock lock = world->rank() == 0 ? claim_run_folder(c) : FolderLock{};
  c.data_dir = std::filesystem::absolute(c.data_dir).lexically_normal().string();  // resumable from anywhere
  if (ranks > 1) require_same_settings(c, *world);
  set_threads(c, *world);
  const std::unique_ptr<Communicator> nccl = gradient_communicator(c, *world);
  Run run(c, *world, nccl ? *nccl : *world);
  if (!c.resume_dir.empty()) run.resume();
  run.model.set_step(run.step);
  run.train_loader.seek(run.step);
  if (run.writer)
    write_file_atomic(c.out_dir + "/config.json", config_to_json(c, device_description(run.dev), ranks,
                                                                 dataset_fingerprint(c.dataset, c.data_dir)));
  run.metrics.write();  // from the start, so that a run stopped before its first row can be resumed
  const RunNorm& norm = run.norm_settings;
  const ClipSchedule& clip = norm.config.schedule;
  if (run.writer && norm.kind == NormKind::BatchRenorm) write_file_atomic(c.out_dir + "/schedule.csv", schedule_csv(clip, run.total));
  if (run.writer)
    obs.started(RunStart{.dataset = enum_name(c.dataset), .model = enum_name(c.model), .norm = enum_name(norm.kind),
                         .device = device_description(run.dev), .out_dir = c.out_dir,
                         .parameters = run.model.parameter_count(), .batch = c.batch, .microbatch = norm.group.group,
                         .total_steps = run.total, .steps_per_epoch = run.per_epoch,
                         .renorm = norm.kind == NormKind::BatchRenorm, .clip_warmup = clip.warmup_steps,
                         .rmax_steps = clip.rmax_steps, .dmax_steps = clip.dmax_steps, .rmax = clip.rmax_final,
                         .dmax = clip.dmax_final, .alpha = norm.config.alpha, .ranks = ranks,
                         .precision = enum_name(c.precision),
                         .bf16_slow = c.precision == Precision::Bf16 && run.dev == Device::CPU && !cpu_has_bf16_math()});
  return run.loop(obs);
}

}  // namespace renorm
