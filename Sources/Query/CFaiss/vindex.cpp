// The C boundary over FAISS: every call runs inside `guarded` (guarded.hpp), so no exception
// crosses it.
#include "vindex.h"
#include "guarded.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <memory>
#include <string>

#include <faiss/AutoTune.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

// FAISS runs on GCC's OpenMP runtime (libgomp); Swift's clang ships no omp.h, so declare
// the one entry point used here.
extern "C" void omp_set_num_threads(int threads);

struct vindex {
    std::unique_ptr<faiss::IndexIDMap> index;
};

using namespace vindex_detail;

extern "C" {

vindex *vindex_create(int32_t dimension, const char *description, vindex_error *err) {
    vindex *created = nullptr;
    guarded(err, [&] {
        require(dimension > 0, "dimension must be positive");
        std::string factory = (description == nullptr || *description == '\0') ? "Flat" : description;
        std::unique_ptr<faiss::Index> inner(
            faiss::index_factory(dimension, factory.c_str(), faiss::METRIC_INNER_PRODUCT));
        auto map = std::make_unique<faiss::IndexIDMap>(inner.release());
        map->own_fields = true;
        created = new vindex{std::move(map)};
    });
    return created;
}

void vindex_free(vindex *index) { delete index; }

int32_t vindex_dimension(const vindex *index) { return index ? index->index->d : 0; }

int64_t vindex_count(const vindex *index) { return index ? index->index->ntotal : 0; }

int32_t vindex_is_trained(const vindex *index) { return index && index->index->is_trained ? 1 : 0; }

int vindex_train(vindex *index, const float *vectors, int64_t count, vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && vectors != nullptr && count > 0, "nothing to train on");
        index->index->train(count, vectors);
    });
}

int vindex_add(vindex *index, const float *vectors, const int64_t *ids, int64_t count,
               vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && vectors != nullptr && ids != nullptr && count >= 0,
                "vectors and ids are required");
        if (!index->index->is_trained) {
            throw Failure{VINDEX_ERROR_NOT_TRAINED, "the index must be trained before vectors are added"};
        }
        index->index->add_with_ids(count, vectors, ids);
    });
}

int vindex_remove(vindex *index, const int64_t *ids, int64_t count, int64_t *removed,
                  vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && (ids != nullptr || count == 0), "ids are required");
        faiss::IDSelectorBatch selector(count, ids);
        size_t gone = 0;
        try {
            gone = index->index->remove_ids(selector);
        } catch (const faiss::FaissException &e) {
            throw Failure{VINDEX_ERROR_UNSUPPORTED,
                          std::string("this index kind cannot remove vectors: ") + e.msg};
        }
        if (removed != nullptr) *removed = static_cast<int64_t>(gone);
    });
}

int vindex_search(const vindex *index, const float *queries, int64_t query_count, int64_t k,
                  float *scores, int64_t *ids, vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && queries != nullptr && scores != nullptr && ids != nullptr,
                "queries and result buffers are required");
        require(query_count > 0 && k > 0, "query_count and k must be positive");
        index->index->search(query_count, queries, k, scores, ids);
    });
}

int vindex_set_parameter(vindex *index, const char *name, double value, vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && name != nullptr, "index and parameter name are required");
        faiss::ParameterSpace space;
        space.set_index_parameter(index->index->index, name, value);
    });
}

int vindex_save(const vindex *index, const char *path, vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && path != nullptr, "index and path are required");
        faiss::write_index(index->index.get(), path);
    });
}

vindex *vindex_load(const char *path, vindex_error *err) {
    vindex *loaded = nullptr;
    guarded(err, [&] {
        require(path != nullptr, "path is required");
        std::unique_ptr<faiss::Index> read;
        try {
            read.reset(faiss::read_index(path));
        } catch (const faiss::FaissException &e) {
            throw Failure{VINDEX_ERROR_IO, std::string(path) + ": " + e.msg};
        }
        auto *map = dynamic_cast<faiss::IndexIDMap *>(read.get());
        if (map == nullptr) throw Failure{VINDEX_ERROR_IO, std::string(path) + ": not an imgsearch index"};
        read.release();
        loaded = new vindex{std::unique_ptr<faiss::IndexIDMap>(map)};
    });
    return loaded;
}

void vindex_set_threads(int32_t threads) {
    if (threads > 0) omp_set_num_threads(threads);
}

int vindex_similar_pairs(const float *vectors, int64_t count, int32_t dimension, float threshold, int64_t **pairs,
                         float **products, int64_t *pair_count, vindex_error *err) {
    if (pairs != nullptr) *pairs = nullptr;
    if (products != nullptr) *products = nullptr;
    if (pair_count != nullptr) *pair_count = 0;
    return guarded(err, [&] {
        require(vectors != nullptr && pairs != nullptr && products != nullptr && pair_count != nullptr,
                "vectors and result pointers are required");
        require(count >= 0 && dimension > 0, "count must not be negative and dimension must be positive");
        if (count < 2) return;
        faiss::IndexFlatIP flat(dimension);
        flat.add(count, vectors);
        faiss::RangeSearchResult found(count);
        flat.range_search(count, vectors, threshold, &found);
        std::vector<int64_t> kept_pairs;
        std::vector<float> kept_products;
        for (int64_t i = 0; i < count; ++i) {
            for (size_t r = found.lims[i]; r < found.lims[i + 1]; ++r) {
                if (found.labels[r] <= i) continue;  // each pair once, and not a vector with itself
                kept_pairs.push_back(i);
                kept_pairs.push_back(found.labels[r]);
                kept_products.push_back(found.distances[r]);
            }
        }
        const size_t n = kept_products.size();
        *pairs = static_cast<int64_t *>(std::malloc(std::max<size_t>(1, 2 * n) * sizeof(int64_t)));
        *products = static_cast<float *>(std::malloc(std::max<size_t>(1, n) * sizeof(float)));
        if (*pairs == nullptr || *products == nullptr) {
            std::free(*pairs);
            std::free(*products);
            *pairs = nullptr;
            *products = nullptr;
            throw std::bad_alloc();
        }
        if (n > 0) {
            std::memcpy(*pairs, kept_pairs.data(), 2 * n * sizeof(int64_t));
            std::memcpy(*products, kept_products.data(), n * sizeof(float));
        }
        *pair_count = int64_t(n);
    });
}

void vindex_free_pairs(int64_t *pairs, float *products) {
    std::free(pairs);
    std::free(products);
}

}  // extern "C"
