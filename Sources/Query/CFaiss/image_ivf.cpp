// The C boundary of image_ivf.h: argument checks and the exception guard around
// image_ivf_index.hpp.
#include "image_ivf_index.hpp"

using namespace image_ivf_detail;

extern "C" {

image_ivf *image_ivf_create(int32_t dimension, int32_t vectors_per_image, int32_t lists, vindex_error *err) {
    image_ivf *created = nullptr;
    guarded(err, [&] {
        require(dimension > 0 && dimension % 4 == 0, "the dimension must be a positive multiple of 4");
        require(vectors_per_image > 0, "images need at least one vector");
        require(lists > 0, "an index needs at least one list");
        created = new image_ivf(dimension, vectors_per_image, lists);
    });
    return created;
}

void image_ivf_free(image_ivf *index) { delete index; }

int64_t image_ivf_count(const image_ivf *index) { return index ? int64_t(index->locations.size()) : 0; }
int32_t image_ivf_lists(const image_ivf *index) { return index ? index->list_count : 0; }
int32_t image_ivf_is_trained(const image_ivf *index) { return index && index->trained ? 1 : 0; }

int image_ivf_train(image_ivf *index, const float *means, int64_t mean_count, const float *images,
                    int64_t image_count, vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && means != nullptr && images != nullptr, "a NULL argument");
        index->train(means, mean_count, images, image_count);
    });
}

int image_ivf_image_means(const image_ivf *index, const float *images, int64_t count, float *means,
                          vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && count >= 0 && (count == 0 || (images != nullptr && means != nullptr)),
                "a NULL argument or a negative count");
        std::vector<float> computed = index->image_means(images, count);
        std::copy(computed.begin(), computed.end(), means);
    });
}

int image_ivf_add(image_ivf *index, const int64_t *ids, const float *images, int64_t count, vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && count >= 0 && (count == 0 || (ids != nullptr && images != nullptr)),
                "a NULL argument or a negative count");
        index->add(ids, images, count);
    });
}

int image_ivf_remove(image_ivf *index, const int64_t *ids, int64_t count, int64_t *removed, vindex_error *err) {
    int64_t count_removed = 0;
    int status = guarded(err, [&] {
        require(index != nullptr && count >= 0 && (count == 0 || ids != nullptr), "a NULL argument or a negative count");
        count_removed = index->remove(ids, count);
    });
    if (removed != nullptr) *removed = count_removed;
    return status;
}

int image_ivf_search(const image_ivf *index, const float *search, int32_t search_count, int32_t probes,
                     int64_t k, int32_t threads, int64_t *ids, float *scores, int64_t *found, vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && search != nullptr && found != nullptr && (k == 0 || (ids != nullptr && scores != nullptr)),
                "a NULL argument");
        require(search_count > 0 && k >= 0, "bad search size");
        auto result = index->search(search, search_count, probes, k, threads);
        for (size_t i = 0; i < result.size(); i++) {
            scores[i] = result[i].first;
            ids[i] = result[i].second;
        }
        *found = int64_t(result.size());
    });
}

int64_t image_ivf_memory_bytes(const image_ivf *index) { return index ? index->memory_bytes() : 0; }

int image_ivf_save(const image_ivf *index, const char *path, vindex_error *err) {
    return guarded(err, [&] {
        require(index != nullptr && path != nullptr, "a NULL argument");
        if (!index->save(path)) throw Failure{VINDEX_ERROR_IO, std::string(path) + ": cannot write the index"};
    });
}

image_ivf *image_ivf_load(const char *path, int32_t dimension, int32_t vectors_per_image) {
    image_ivf *loaded = nullptr;
    guarded(nullptr, [&] {
        if (path == nullptr || dimension <= 0 || dimension % 4 != 0 || vectors_per_image <= 0) return;
        loaded = image_ivf::read(path, dimension, vectors_per_image).release();
    });
    return loaded;
}

}  // extern "C"
