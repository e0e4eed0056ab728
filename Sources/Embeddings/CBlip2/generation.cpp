#include "generation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include <ATen/CPUGeneratorImpl.h>

#include "blip2_error.hpp"

namespace blip2 {
namespace {

constexpr float kBanned = -std::numeric_limits<float>::infinity();

/** The ids the logits processors look at, per row: transformers' `input_ids` of the LM. */
using History = std::vector<std::vector<int64_t>>;

/** RepetitionPenaltyLogitsProcessor: divides positive, multiplies negative scores of seen ids. */
void penalize_repetition(torch::Tensor &scores, const History &history, float penalty) {
    auto rows = scores.accessor<float, 2>();
    for (size_t row = 0; row < history.size(); ++row) {
        // gather-then-scatter: a repeated id is penalized once, from its original score.
        std::map<int64_t, float> original;
        for (int64_t id : history[row]) original.emplace(id, rows[row][id]);
        for (const auto &[id, score] : original) {
            rows[row][id] = score < 0 ? score * penalty : score / penalty;
        }
    }
}

/** NoRepeatNGramLogitsProcessor: bans the ids that would repeat an n-gram of the row. */
void ban_repeated_ngrams(torch::Tensor &scores, const History &history, int32_t size) {
    auto rows = scores.accessor<float, 2>();
    for (size_t row = 0; row < history.size(); ++row) {
        const std::vector<int64_t> &ids = history[row];
        const int64_t length = static_cast<int64_t>(ids.size());
        if (length + 1 < size) continue;
        const int64_t prefix_start = length + 1 - size;
        for (int64_t start = 0; start + size <= length; ++start) {
            if (std::equal(ids.begin() + start, ids.begin() + start + size - 1, ids.begin() + prefix_start)) {
                rows[row][ids[start + size - 1]] = kBanned;
            }
        }
    }
}

/** The processors of `_get_logits_processor` that this engine offers, in its order. */
void process_scores(torch::Tensor &scores, const History &history, int64_t generated,
                    const blip2_generation_params &params) {
    if (params.repetition_penalty != 1.0f) penalize_repetition(scores, history, params.repetition_penalty);
    if (params.no_repeat_ngram_size > 0) ban_repeated_ngrams(scores, history, params.no_repeat_ngram_size);
    if (generated < params.min_new_tokens) scores.select(1, params.eos_token_id).fill_(kBanned);
}

/** TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper (min_tokens_to_keep 1). */
torch::Tensor warp_for_sampling(torch::Tensor scores, const blip2_generation_params &params) {
    if (params.temperature != 1.0f) scores = scores / params.temperature;
    if (params.top_k > 0) {
        const int64_t k = std::min<int64_t>(params.top_k, scores.size(1));
        torch::Tensor kth = std::get<0>(torch::topk(scores, k)).select(1, k - 1).unsqueeze(1);
        scores = scores.masked_fill(scores < kth, kBanned);
    }
    if (params.top_p < 1.0f) {
        auto [sorted, order] = torch::sort(scores, /*dim=*/-1, /*descending=*/false);
        torch::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
        torch::Tensor remove = cumulative <= (1.0 - params.top_p);
        remove.select(1, remove.size(1) - 1).fill_(false);
        scores = scores.masked_fill(remove.scatter(1, order, remove), kBanned);
    }
    return scores;
}

History initial_history(const LanguageModel &model, int64_t rows, const blip2_generation_params &params) {
    return History(rows, model.has_decoder_start() ? std::vector<int64_t>{params.decoder_start_token_id}
                                                   : std::vector<int64_t>{});
}

/** Throws BLIP2_ERROR_CANCELLED when the caller's should_stop asks to stop. */
void stop_if_asked(const blip2_generation_params &params) {
    if (params.should_stop != nullptr && params.should_stop(params.should_stop_context) != 0) {
        throw Error(BLIP2_ERROR_CANCELLED, "cancelled");
    }
}

std::vector<std::vector<int64_t>> greedy_or_sample(const LanguageModel &model, const torch::Tensor &embeds,
                                                   const torch::Tensor &mask,
                                                   const blip2_generation_params &params) {
    const int64_t rows = embeds.size(0);
    KeyValueCache cache;
    torch::Tensor logits = model.start(embeds, mask, params.decoder_start_token_id, cache);
    History history = initial_history(model, rows, params);
    std::vector<std::vector<int64_t>> generated(rows);
    std::vector<bool> finished(rows, false);
    torch::Generator generator = at::detail::createCPUGenerator(params.seed);

    for (int64_t produced = 0; produced < params.max_new_tokens; ++produced) {
        stop_if_asked(params);
        torch::Tensor scores = logits.to(torch::kCPU).contiguous();
        process_scores(scores, history, produced, params);
        torch::Tensor next;
        if (params.do_sample) {
            torch::Tensor probabilities = torch::softmax(warp_for_sampling(scores, params), -1);
            next = torch::multinomial(probabilities, 1, /*replacement=*/false, generator).squeeze(1);
        } else {
            next = scores.argmax(-1);
        }
        auto chosen = next.accessor<int64_t, 1>();
        bool all_finished = true;
        std::vector<int64_t> fed(rows);
        for (int64_t row = 0; row < rows; ++row) {
            fed[row] = finished[row] ? params.pad_token_id : chosen[row];
            history[row].push_back(fed[row]);
            if (!finished[row]) {
                generated[row].push_back(fed[row]);
                finished[row] = fed[row] == params.eos_token_id;
            }
            all_finished = all_finished && finished[row];
        }
        if (all_finished || produced + 1 == params.max_new_tokens) break;
        torch::Tensor tokens = torch::tensor(fed).to(embeds.device());
        logits = model.step(tokens, cache);
    }
    return generated;
}

/** BeamHypotheses: the best `beams` finished sequences of one row, by length-penalized score. */
class FinishedHypotheses {
public:
    FinishedHypotheses(int32_t beams, float length_penalty) : beams_(beams), length_penalty_(length_penalty) {}

    void add(std::vector<int64_t> tokens, double sum_logprobs, int64_t generated_length) {
        const double score = sum_logprobs / std::pow(static_cast<double>(generated_length), length_penalty_);
        if (static_cast<int32_t>(entries_.size()) < beams_ || score > worst_score_) {
            entries_.push_back({score, std::move(tokens)});
            if (static_cast<int32_t>(entries_.size()) > beams_) {
                // Python's sorted() is stable: the first-added of equal scores goes.
                std::vector<size_t> order(entries_.size());
                for (size_t i = 0; i < order.size(); ++i) order[i] = i;
                std::stable_sort(order.begin(), order.end(),
                                 [&](size_t a, size_t b) { return entries_[a].first < entries_[b].first; });
                worst_score_ = entries_[order[1]].first;
                entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(order[0]));
            } else {
                worst_score_ = std::min(score, worst_score_);
            }
        }
    }

    bool done(double best_sum_logprobs, int64_t generated_length) const {
        if (static_cast<int32_t>(entries_.size()) < beams_) return false;
        return worst_score_ >= best_sum_logprobs / std::pow(static_cast<double>(generated_length), length_penalty_);
    }

    const std::vector<int64_t> &best() const {
        // sorted(...).pop(): the last of the stable ascending order among equal best scores.
        size_t best = 0;
        for (size_t i = 1; i < entries_.size(); ++i) {
            if (entries_[i].first >= entries_[best].first) best = i;
        }
        return entries_[best].second;
    }

private:
    int32_t beams_;
    double length_penalty_;
    double worst_score_ = 1e9;
    std::vector<std::pair<double, std::vector<int64_t>>> entries_;
};

std::vector<std::vector<int64_t>> beam_search(const LanguageModel &model, const torch::Tensor &embeds,
                                              const torch::Tensor &mask, const blip2_generation_params &params) {
    const int64_t batch = embeds.size(0);
    const int64_t beams = params.num_beams;
    const int64_t prompt = model.has_decoder_start() ? 1 : 0;
    KeyValueCache cache;
    torch::Tensor logits = model.start(embeds, mask, params.decoder_start_token_id, cache);
    // Every beam of a row starts from the same prompt: copy its cache rows.
    torch::Tensor expand = torch::arange(batch, torch::kInt64).repeat_interleave(beams);
    cache.select_rows(expand.to(embeds.device()));
    logits = logits.index_select(0, expand.to(logits.device()));

    History history = initial_history(model, batch * beams, params);
    std::vector<float> beam_scores(batch * beams, 0.0f);
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t k = 1; k < beams; ++k) beam_scores[b * beams + k] = -1e9f;
    std::vector<FinishedHypotheses> finished(batch, FinishedHypotheses(params.num_beams, params.length_penalty));
    std::vector<bool> done(batch, false);

    for (int64_t produced = 0;; ++produced) {
        stop_if_asked(params);
        torch::Tensor scores = torch::log_softmax(logits.to(torch::kCPU), -1).contiguous();
        process_scores(scores, history, produced, params);
        torch::Tensor totals = scores + torch::tensor(beam_scores).unsqueeze(1);
        const int64_t vocab = totals.size(1);
        auto [top_scores, top_ids] = torch::topk(totals.view({batch, beams * vocab}), 2 * beams, 1, true, true);
        auto top_score = top_scores.accessor<float, 2>();
        auto top_id = top_ids.accessor<int64_t, 2>();
        const int64_t current_length = prompt + produced + 1;  // cur_len: history plus this token

        std::vector<int64_t> next_rows(batch * beams), next_tokens(batch * beams);
        std::vector<float> next_scores(batch * beams);
        for (int64_t b = 0; b < batch; ++b) {
            if (done[b]) {
                for (int64_t k = 0; k < beams; ++k) {
                    next_rows[b * beams + k] = b * beams;
                    next_tokens[b * beams + k] = params.pad_token_id;
                    next_scores[b * beams + k] = 0.0;
                }
                continue;
            }
            int64_t filled = 0;
            for (int64_t rank = 0; rank < 2 * beams && filled < beams; ++rank) {
                const int64_t row = b * beams + top_id[b][rank] / vocab;
                const int64_t token = top_id[b][rank] % vocab;
                if (token == params.eos_token_id) {
                    if (rank >= beams) continue;
                    std::vector<int64_t> tokens(history[row].begin() + prompt, history[row].end());
                    finished[b].add(std::move(tokens), top_score[b][rank], current_length - prompt);
                } else {
                    next_rows[b * beams + filled] = row;
                    next_tokens[b * beams + filled] = token;
                    next_scores[b * beams + filled] = top_score[b][rank];
                    ++filled;
                }
            }
            float best = top_score[b][0];
            for (int64_t rank = 1; rank < 2 * beams; ++rank) best = std::max(best, top_score[b][rank]);
            done[b] = finished[b].done(best, current_length - prompt);
        }

        History reordered(batch * beams);
        for (int64_t i = 0; i < batch * beams; ++i) {
            reordered[i] = history[next_rows[i]];
            reordered[i].push_back(next_tokens[i]);
        }
        history = std::move(reordered);
        beam_scores = next_scores;

        const bool all_done = std::all_of(done.begin(), done.end(), [](bool d) { return d; });
        if (all_done || produced + 1 >= params.max_new_tokens) break;
        torch::Tensor rows = torch::tensor(next_rows).to(embeds.device());
        cache.select_rows(rows);
        logits = model.step(torch::tensor(next_tokens).to(embeds.device()), cache);
    }

    std::vector<std::vector<int64_t>> results(batch);
    for (int64_t b = 0; b < batch; ++b) {
        if (!done[b]) {
            for (int64_t k = 0; k < beams; ++k) {
                const int64_t row = b * beams + k;
                std::vector<int64_t> tokens(history[row].begin() + prompt, history[row].end());
                const int64_t length = static_cast<int64_t>(tokens.size());
                finished[b].add(std::move(tokens), beam_scores[row], length);
            }
        }
        results[b] = finished[b].best();
    }
    // finalize: an EOS follows a hypothesis shorter than the longest of the batch, when room is left.
    size_t longest = 0;
    for (const auto &tokens : results) longest = std::max(longest, tokens.size());
    const size_t room = std::min<size_t>(longest + 1, static_cast<size_t>(params.max_new_tokens));
    for (auto &tokens : results) {
        if (tokens.size() < room) tokens.push_back(params.eos_token_id);
    }
    return results;
}

}  // namespace

void KeyValueCache::select_rows(const torch::Tensor &rows) {
    for (auto *tensors : {&self_keys, &self_values, &cross_keys, &cross_values}) {
        for (torch::Tensor &tensor : *tensors) {
            if (tensor.defined()) tensor = tensor.index_select(0, rows);
        }
    }
    if (mask.defined()) mask = mask.index_select(0, rows);
}

void check_generation_params(const blip2_generation_params &params, int64_t vocab_size) {
    auto invalid = [](const std::string &message) { return Error(BLIP2_ERROR_INVALID_ARGUMENT, message); };
    if (params.max_new_tokens < 1) throw invalid("max_new_tokens must be at least 1");
    if (params.min_new_tokens < 0 || params.min_new_tokens > params.max_new_tokens)
        throw invalid("min_new_tokens must be between 0 and max_new_tokens");
    if (params.num_beams < 1) throw invalid("num_beams must be at least 1");
    if (params.do_sample && params.num_beams > 1) throw invalid("sampling works with one beam only");
    if (!std::isfinite(params.length_penalty)) throw invalid("length_penalty must be finite");
    if (!(params.repetition_penalty > 0) || !std::isfinite(params.repetition_penalty))
        throw invalid("repetition_penalty must be a positive number");
    if (params.no_repeat_ngram_size < 0) throw invalid("no_repeat_ngram_size must not be negative");
    if (!(params.temperature > 0) || !std::isfinite(params.temperature))
        throw invalid("temperature must be a positive number");
    if (params.top_k < 0) throw invalid("top_k must not be negative");
    if (!(params.top_p > 0 && params.top_p <= 1)) throw invalid("top_p must be in (0, 1]");
    for (auto [id, name] : {std::pair<int64_t, const char *>{params.eos_token_id, "eos_token_id"},
                            {params.pad_token_id, "pad_token_id"},
                            {params.decoder_start_token_id, "decoder_start_token_id"}}) {
        if (id < 0 || id >= vocab_size) throw invalid(std::string(name) + " is outside the vocabulary");
    }
}

std::vector<std::vector<int64_t>> generate_tokens(const LanguageModel &model, const torch::Tensor &embeds,
                                                  const torch::Tensor &mask,
                                                  const blip2_generation_params &params) {
    check_generation_params(params, model.vocab_size());
    stop_if_asked(params);
    if (params.num_beams > 1) return beam_search(model, embeds, mask, params);
    return greedy_or_sample(model, embeds, mask, params);
}

}  // namespace blip2
