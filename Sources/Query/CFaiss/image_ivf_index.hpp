// The partitioned index behind image_ivf.h: lists, codes, training and search. Internal to
// CFaiss; image_ivf.cpp is the C boundary, image_ivf_file.cpp the cache file.
#ifndef IMGSEARCH_IMAGE_IVF_INDEX_HPP
#define IMGSEARCH_IMAGE_IVF_INDEX_HPP

#include "image_ivf.h"
#include "guarded.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

namespace image_ivf_detail {

using namespace vindex_detail;

constexpr int kCentroidsPerPiece = 16;  // 4 bits
constexpr int kPieceDimension = 2;

/// One list: its images' ids and, per image, vectors_per_image codes of code_bytes each.
struct ImageList {
    std::vector<int64_t> ids;
    std::vector<uint8_t> codes;
};

/// Where an image is: its list and its position in that list.
struct Location {
    int32_t list;
    int64_t position;
};

/// The best `capacity` (score, id) pairs seen, as a min-heap on score (ties: larger id out first).
class TopImages {
public:
    explicit TopImages(size_t capacity) : capacity_(capacity) { heap_.reserve(capacity); }

    float threshold() const {
        return heap_.size() < capacity_ ? -std::numeric_limits<float>::infinity() : heap_.front().first;
    }

    void offer(float score, int64_t id) {
        if (capacity_ == 0) return;
        if (heap_.size() < capacity_) {
            heap_.emplace_back(score, id);
            std::push_heap(heap_.begin(), heap_.end(), worse_on_top);
        } else if (better({score, id}, heap_.front())) {
            std::pop_heap(heap_.begin(), heap_.end(), worse_on_top);
            heap_.back() = {score, id};
            std::push_heap(heap_.begin(), heap_.end(), worse_on_top);
        }
    }

    const std::vector<std::pair<float, int64_t>> &entries() const { return heap_; }

    static bool better(const std::pair<float, int64_t> &a, const std::pair<float, int64_t> &b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    }

private:
    static bool worse_on_top(const std::pair<float, int64_t> &a, const std::pair<float, int64_t> &b) {
        return better(a, b);
    }
    size_t capacity_;
    std::vector<std::pair<float, int64_t>> heap_;
};

inline size_t worker_count(int32_t threads, size_t work_items) {
    size_t workers = threads > 0 ? size_t(threads) : std::max(1u, std::thread::hardware_concurrency());
    return std::max<size_t>(1, std::min(workers, work_items));
}

/// Runs body(worker) on `workers` threads (the calling thread is worker 0).
template <typename Body>
void run_parallel(size_t workers, Body body) {
    std::vector<std::thread> pool;
    for (size_t w = 1; w < workers; w++) pool.emplace_back(body, w);
    body(0);
    for (auto &thread : pool) thread.join();
}

struct ChecksummedFile;

}  // namespace image_ivf_detail

// The struct of the C header's opaque type: global, and written with the detail names.
using namespace image_ivf_detail;

struct image_ivf {
    int dimension;
    int vectors_per_image;
    int list_count;
    int pieces;      // dimension / 2
    int code_bytes;  // dimension / 4: two 4-bit codes a byte
    bool trained = false;
    std::vector<float> centroids;  // [list_count, dimension], unit length
    std::vector<float> codebooks;  // [pieces, 16, 2]
    std::vector<ImageList> lists;
    std::unordered_map<int64_t, Location> locations;

    image_ivf(int dimension, int vectors_per_image, int list_count)
        : dimension(dimension), vectors_per_image(vectors_per_image), list_count(list_count),
          pieces(dimension / kPieceDimension), code_bytes(dimension / 4), lists(list_count) {}

    size_t image_code_bytes() const { return size_t(vectors_per_image) * code_bytes; }

    /// The unit-length mean of each image's vectors: [count, dimension].
    std::vector<float> image_means(const float *images, int64_t count) const {
        std::vector<float> means(size_t(count) * dimension, 0.0f);
        for (int64_t i = 0; i < count; i++) {
            float *mean = &means[size_t(i) * dimension];
            const float *vectors = images + size_t(i) * vectors_per_image * dimension;
            for (int v = 0; v < vectors_per_image; v++)
                for (int d = 0; d < dimension; d++) mean[d] += vectors[size_t(v) * dimension + d];
            float norm = 0;
            for (int d = 0; d < dimension; d++) norm += mean[d] * mean[d];
            norm = norm > 0 ? 1.0f / std::sqrt(norm) : 0.0f;
            for (int d = 0; d < dimension; d++) mean[d] *= norm;
        }
        return means;
    }

    /// The list of each image: the centroid with the largest inner product with its mean.
    std::vector<int32_t> assign(const float *images, int64_t count) const {
        std::vector<float> means = image_means(images, count);
        faiss::IndexFlatIP quantizer(dimension);
        quantizer.add(list_count, centroids.data());
        std::vector<float> scores(count);
        std::vector<faiss::Index::idx_t> labels(count);
        quantizer.search(count, means.data(), 1, scores.data(), labels.data());
        return std::vector<int32_t>(labels.begin(), labels.end());
    }

    /// Encodes one vector's residual from `centroid` into code_bytes bytes.
    void encode(const float *vector, const float *centroid, uint8_t *code) const {
        for (int b = 0; b < code_bytes; b++) {
            uint8_t byte = 0;
            for (int half = 0; half < 2; half++) {
                int piece = 2 * b + half;
                float x = vector[2 * piece] - centroid[2 * piece];
                float y = vector[2 * piece + 1] - centroid[2 * piece + 1];
                const float *book = &codebooks[size_t(piece) * kCentroidsPerPiece * kPieceDimension];
                int best = 0;
                float best_distance = std::numeric_limits<float>::infinity();
                for (int j = 0; j < kCentroidsPerPiece; j++) {
                    float dx = x - book[2 * j], dy = y - book[2 * j + 1];
                    float distance = dx * dx + dy * dy;
                    if (distance < best_distance) best_distance = distance, best = j;
                }
                byte |= uint8_t(best << (4 * half));
            }
            code[b] = byte;
        }
    }

    void train(const float *means, int64_t mean_count, const float *images, int64_t count) {
        require(mean_count >= list_count, "training needs at least as many image means as lists");
        require(count > 0, "training needs sample images for the residual codebooks");
        faiss::ClusteringParameters parameters;
        parameters.spherical = true;
        parameters.niter = 12;
        parameters.max_points_per_centroid = 64;
        parameters.min_points_per_centroid = 1;  // small libraries train on what they have, without FAISS's warning
        parameters.seed = 1234;
        faiss::Clustering coarse(dimension, list_count, parameters);
        faiss::IndexFlatIP coarse_index(dimension);
        coarse.train(mean_count, means, coarse_index);
        centroids = coarse.centroids;

        // Residual codebooks: per 2-d piece, k-means (16) on the pieces of up to 65k residuals.
        std::vector<int32_t> assignment = assign(images, count);
        const int64_t total_vectors = count * vectors_per_image;
        const int64_t sample = std::min<int64_t>(total_vectors, 65536);
        const int64_t stride = std::max<int64_t>(1, total_vectors / sample);
        std::vector<float> residuals;
        residuals.reserve(size_t(sample) * dimension);
        for (int64_t v = 0; v < total_vectors && int64_t(residuals.size()) < sample * dimension; v += stride) {
            const float *vector = images + size_t(v) * dimension;
            const float *centroid = &centroids[size_t(assignment[v / vectors_per_image]) * dimension];
            for (int d = 0; d < dimension; d++) residuals.push_back(vector[d] - centroid[d]);
        }
        // k-means needs a point a centroid: a tiny library's residuals are repeated.
        const std::vector<float> once = residuals;
        while (int64_t(residuals.size()) < kCentroidsPerPiece * dimension)
            residuals.insert(residuals.end(), once.begin(), once.end());
        const int64_t n = int64_t(residuals.size()) / dimension;
        codebooks.assign(size_t(pieces) * kCentroidsPerPiece * kPieceDimension, 0.0f);
        std::vector<float> piece_points(size_t(n) * kPieceDimension);
        for (int piece = 0; piece < pieces; piece++) {
            for (int64_t i = 0; i < n; i++) {
                piece_points[2 * i] = residuals[size_t(i) * dimension + 2 * piece];
                piece_points[2 * i + 1] = residuals[size_t(i) * dimension + 2 * piece + 1];
            }
            faiss::ClusteringParameters piece_parameters;
            piece_parameters.niter = 20;
            piece_parameters.min_points_per_centroid = 1;
            piece_parameters.seed = 1234 + piece;
            piece_parameters.verbose = false;
            faiss::Clustering clustering(kPieceDimension, kCentroidsPerPiece, piece_parameters);
            faiss::IndexFlatL2 piece_index(kPieceDimension);
            clustering.train(n, piece_points.data(), piece_index);
            std::copy(clustering.centroids.begin(), clustering.centroids.end(),
                      codebooks.begin() + size_t(piece) * kCentroidsPerPiece * kPieceDimension);
        }
        trained = true;
    }

    void add(const int64_t *ids, const float *images, int64_t count) {
        require(trained, "the index must be trained before images are added");
        std::unordered_set<int64_t> seen;
        for (int64_t i = 0; i < count; i++) {
            if (locations.count(ids[i]) || !seen.insert(ids[i]).second)
                throw Failure{VINDEX_ERROR_INVALID_ARGUMENT, "image " + std::to_string(ids[i]) + " is already in the index"};
        }
        std::vector<int32_t> assignment = assign(images, count);
        std::vector<uint8_t> codes(size_t(count) * image_code_bytes());
        size_t workers = worker_count(0, size_t(count));
        run_parallel(workers, [&](size_t worker) {
            for (int64_t i = int64_t(worker); i < count; i += int64_t(workers)) {
                const float *centroid = &centroids[size_t(assignment[i]) * dimension];
                for (int v = 0; v < vectors_per_image; v++) {
                    encode(images + (size_t(i) * vectors_per_image + v) * dimension, centroid,
                           &codes[size_t(i) * image_code_bytes() + size_t(v) * code_bytes]);
                }
            }
        });
        for (int64_t i = 0; i < count; i++) {
            ImageList &list = lists[assignment[i]];
            locations[ids[i]] = Location{assignment[i], int64_t(list.ids.size())};
            list.ids.push_back(ids[i]);
            const uint8_t *code = &codes[size_t(i) * image_code_bytes()];
            list.codes.insert(list.codes.end(), code, code + image_code_bytes());
        }
    }

    int64_t remove(const int64_t *ids, int64_t count) {
        int64_t removed = 0;
        for (int64_t i = 0; i < count; i++) {
            auto found = locations.find(ids[i]);
            if (found == locations.end()) continue;
            ImageList &list = lists[found->second.list];
            const int64_t position = found->second.position, last = int64_t(list.ids.size()) - 1;
            if (position != last) {  // the last image takes the removed one's place
                list.ids[position] = list.ids[last];
                std::memcpy(&list.codes[size_t(position) * image_code_bytes()],
                            &list.codes[size_t(last) * image_code_bytes()], image_code_bytes());
                locations[list.ids[position]].position = position;
            }
            list.ids.pop_back();
            list.codes.resize(list.codes.size() - image_code_bytes());
            locations.erase(found);
            removed++;
        }
        return removed;
    }

    /// For each search vector and code byte, the 256 partial scores of that byte's two codes.
    std::vector<float> byte_tables(const float *search, int search_count) const {
        std::vector<float> tables(size_t(search_count) * code_bytes * 256);
        float piece_scores[2][kCentroidsPerPiece];
        for (int s = 0; s < search_count; s++) {
            const float *t = search + size_t(s) * dimension;
            for (int b = 0; b < code_bytes; b++) {
                for (int half = 0; half < 2; half++) {
                    int piece = 2 * b + half;
                    const float *book = &codebooks[size_t(piece) * kCentroidsPerPiece * kPieceDimension];
                    for (int j = 0; j < kCentroidsPerPiece; j++)
                        piece_scores[half][j] = t[2 * piece] * book[2 * j] + t[2 * piece + 1] * book[2 * j + 1];
                }
                float *table = &tables[(size_t(s) * code_bytes + b) * 256];
                for (int byte = 0; byte < 256; byte++) table[byte] = piece_scores[0][byte & 15] + piece_scores[1][byte >> 4];
            }
        }
        return tables;
    }

    /// One vector's residual score: the sum of its code bytes' table entries, in four
    /// independent sums (one chain of float adds would wait on each add's latency).
    float code_score(const float *table, const uint8_t *code) const {
        float sums[4] = {0, 0, 0, 0};
        int b = 0;
        for (; b + 4 <= code_bytes; b += 4) {
            for (int lane = 0; lane < 4; lane++) sums[lane] += table[size_t(b + lane) * 256 + code[b + lane]];
        }
        for (; b < code_bytes; b++) sums[0] += table[size_t(b) * 256 + code[b]];
        return (sums[0] + sums[1]) + (sums[2] + sums[3]);
    }

    std::vector<std::pair<float, int64_t>> search(const float *search, int search_count, int probes, int64_t k,
                                                  int32_t threads) const {
        require(trained, "the index is not trained");
        // Coarse scores: t·c for every (search vector, list); lists ranked by their best.
        std::vector<float> coarse(size_t(search_count) * list_count);
        for (int s = 0; s < search_count; s++)
            for (int l = 0; l < list_count; l++) {
                const float *t = search + size_t(s) * dimension, *c = &centroids[size_t(l) * dimension];
                float dot = 0;
                for (int d = 0; d < dimension; d++) dot += t[d] * c[d];
                coarse[size_t(s) * list_count + l] = dot;
            }
        std::vector<std::pair<float, int32_t>> ranked(list_count);
        for (int l = 0; l < list_count; l++) {
            float best = -std::numeric_limits<float>::infinity();
            for (int s = 0; s < search_count; s++) best = std::max(best, coarse[size_t(s) * list_count + l]);
            ranked[l] = {best, l};
        }
        const int probed = std::min(std::max(probes, 1), list_count);
        std::partial_sort(ranked.begin(), ranked.begin() + probed, ranked.end(),
                          [](const auto &a, const auto &b) { return a.first > b.first; });

        const std::vector<float> tables = byte_tables(search, search_count);
        size_t workers = worker_count(threads, size_t(probed));
        std::vector<TopImages> tops(workers, TopImages(size_t(k)));
        run_parallel(workers, [&](size_t worker) {
            TopImages &top = tops[worker];
            for (int p = int(worker); p < probed; p += int(workers)) {
                const int32_t l = ranked[p].second;
                const ImageList &list = lists[l];
                for (size_t image = 0; image < list.ids.size(); image++) {
                    const uint8_t *codes = &list.codes[image * image_code_bytes()];
                    float best = -std::numeric_limits<float>::infinity();
                    for (int s = 0; s < search_count; s++) {
                        const float *table = &tables[size_t(s) * code_bytes * 256];
                        const float base = coarse[size_t(s) * list_count + l];
                        for (int v = 0; v < vectors_per_image; v++) {
                            best = std::max(best, base + code_score(table, codes + size_t(v) * code_bytes));
                        }
                    }
                    if (best >= top.threshold()) top.offer(best, list.ids[image]);
                }
            }
        });
        TopImages merged{size_t(k)};
        for (const auto &top : tops)
            for (const auto &entry : top.entries()) merged.offer(entry.first, entry.second);
        std::vector<std::pair<float, int64_t>> result = merged.entries();
        std::sort(result.begin(), result.end(), TopImages::better);
        return result;
    }

    /// Writes the index to `path` (via path.tmp and a rename, so a crash leaves the old
    /// file), followed by the checksum of its bytes (image_ivf_file.cpp).
    bool save(const char *path) const;

    /// Reads what `save` wrote; nullptr for a missing, truncated, damaged (checksum) or
    /// foreign file, or one of other sizes.
    static std::unique_ptr<image_ivf> read(const char *path, int dimension, int vectors_per_image);

    /// The centroids, codebooks and lists that follow the header, and the checksum; false
    /// when they do not fill the rest of the file exactly or the checksum differs.
    bool read_contents(image_ivf_detail::ChecksummedFile &in, long size);

    int64_t memory_bytes() const {
        int64_t bytes = int64_t((centroids.size() + codebooks.size()) * sizeof(float));
        for (const auto &list : lists) bytes += int64_t(list.ids.capacity() * sizeof(int64_t) + list.codes.capacity());
        return bytes + int64_t(locations.size() * (sizeof(int64_t) + sizeof(Location) + 2 * sizeof(void *)));
    }
};

#endif
