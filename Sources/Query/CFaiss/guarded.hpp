// The C boundary's error handling, shared by vindex.cpp and image_ivf.cpp: every call
// catches every exception (faiss::FaissException, std::exception) and returns a status
// with a one-line message.
#ifndef IMGSEARCH_GUARDED_HPP
#define IMGSEARCH_GUARDED_HPP

#include <cstdio>
#include <new>
#include <stdexcept>
#include <string>

#include <faiss/impl/FaissException.h>

#include "vindex.h"

namespace vindex_detail {

inline int fail(vindex_error *err, vindex_status status, const std::string &message) {
    if (err != nullptr) {
        err->code = status;
        std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
    }
    return status;
}

struct Failure {
    vindex_status status;
    std::string message;
};

template <typename Body>
int guarded(vindex_error *err, Body body) {
    try {
        body();
        if (err != nullptr) {
            err->code = VINDEX_OK;
            err->message[0] = '\0';
        }
        return VINDEX_OK;
    } catch (const Failure &f) {
        return fail(err, f.status, f.message);
    } catch (const faiss::FaissException &e) {
        return fail(err, VINDEX_ERROR_FAISS, std::string("faiss: ") + e.msg);
    } catch (const std::bad_alloc &) {
        return fail(err, VINDEX_ERROR_FAISS, "out of memory");
    } catch (const std::exception &e) {
        return fail(err, VINDEX_ERROR_FAISS, e.what());
    } catch (...) {
        return fail(err, VINDEX_ERROR_FAISS, "unknown C++ exception");
    }
}

inline void require(bool condition, const char *message) {
    if (!condition) throw Failure{VINDEX_ERROR_INVALID_ARGUMENT, message};
}

}  // namespace vindex_detail

#endif
