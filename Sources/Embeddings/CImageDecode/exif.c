/*
 * EXIF blocks, parsed with libexif: the orientation the decoders apply, and the date,
 * camera and location imgdec_read_metadata reports. A block is "Exif\0\0" + TIFF header
 * (JPEG APP1, HEIF) or a bare TIFF header (PNG eXIf, most WebP EXIF chunks, a TIFF file).
 * Nothing here fails: malformed data leaves the fields empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libexif/exif-data.h>

#include "imgdec_internal.h"

static const uint8_t exif_header[6] = {'E', 'x', 'i', 'f', 0, 0};

static ExifData *exif_load(const uint8_t *data, size_t size) {
    if (!data || size < 8 || size > 0x7fffffffu - sizeof exif_header) {
        return NULL;
    }
    const uint8_t *block = data;
    size_t block_size = size;
    uint8_t *copy = NULL;
    if (memcmp(data, exif_header, sizeof exif_header) != 0) {
        if (memcmp(data, "II*\0", 4) != 0 && memcmp(data, "MM\0*", 4) != 0) {
            return NULL;
        }
        copy = malloc(size + sizeof exif_header);  /* libexif wants the "Exif\0\0" header */
        if (!copy) {
            return NULL;
        }
        memcpy(copy, exif_header, sizeof exif_header);
        memcpy(copy + sizeof exif_header, data, size);
        block = copy;
        block_size = size + sizeof exif_header;
    }
    ExifData *ed = exif_data_new();
    if (ed) {
        /* no "fixing" of the data to the specification after loading: we only read */
        exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
        exif_data_load_data(ed, block, (unsigned int)block_size);
    }
    free(copy);
    return ed;
}

/* An unsigned SHORT or LONG with one value, or -1. */
static long exif_unsigned(ExifData *ed, ExifIfd ifd, ExifTag tag) {
    ExifEntry *entry = exif_content_get_entry(ed->ifd[ifd], tag);
    if (!entry || !entry->data || entry->components != 1) {
        return -1;
    }
    const ExifByteOrder order = exif_data_get_byte_order(ed);
    if (entry->format == EXIF_FORMAT_SHORT && entry->size >= 2) {
        return exif_get_short(entry->data, order);
    }
    if (entry->format == EXIF_FORMAT_LONG && entry->size >= 4) {
        return (long)exif_get_long(entry->data, order);
    }
    return -1;
}

int imgdec_internal_exif_orientation(const uint8_t *data, size_t size) {
    ExifData *ed = exif_load(data, size);
    if (!ed) {
        return 0;
    }
    const long orientation = exif_unsigned(ed, EXIF_IFD_0, EXIF_TAG_ORIENTATION);
    exif_data_unref(ed);
    return (orientation >= 1 && orientation <= 8) ? (int)orientation : 0;
}

/* An ASCII tag's text into out[capacity]: trailing spaces and NULs dropped, bytes outside
   printable ASCII replaced by '?'; "" when absent. */
static void exif_text(ExifData *ed, ExifIfd ifd, ExifTag tag, char *out, size_t capacity) {
    out[0] = 0;
    ExifEntry *entry = exif_content_get_entry(ed->ifd[ifd], tag);
    if (!entry || !entry->data || entry->format != EXIF_FORMAT_ASCII) {
        return;
    }
    size_t n = 0;
    while (n < entry->size && n + 1 < capacity && entry->data[n] != 0) {
        const uint8_t c = entry->data[n];
        out[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        n++;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = 0;
}

static int digits(const char *text, int count) {
    int value = 0;
    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -1;
        }
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/* EXIF "YYYY:MM:DD HH:MM:SS" as "YYYY-MM-DD HH:MM:SS"; "" when malformed or a placeholder. */
static void exif_date(ExifData *ed, char out[20]) {
    char text[32];
    exif_text(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, text, sizeof text);
    out[0] = 0;
    if (strlen(text) < 19 || text[4] != ':' || text[7] != ':' || text[10] != ' ' || text[13] != ':' || text[16] != ':') {
        return;
    }
    const int year = digits(text, 4), month = digits(text + 5, 2), day = digits(text + 8, 2);
    const int hour = digits(text + 11, 2), minute = digits(text + 14, 2), second = digits(text + 17, 2);
    if (year < 1800 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 60) {
        return;
    }
    snprintf(out, 20, "%04d-%02d-%02d %02d:%02d:%02d", year, month, day, hour, minute, second);
}

/* EXIF OffsetTimeOriginal (0x9011) "+HH:MM"; "" when absent or malformed. */
static void exif_offset(ExifData *ed, char out[7]) {
    char text[16];
    exif_text(ed, EXIF_IFD_EXIF, (ExifTag)0x9011, text, sizeof text);
    out[0] = 0;
    if (strlen(text) != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') {
        return;
    }
    const int hours = digits(text + 1, 2), minutes = digits(text + 4, 2);
    if (hours < 0 || hours > 14 || minutes < 0 || minutes > 59) {
        return;
    }
    memcpy(out, text, 7);
}

/* A GPS coordinate: three RATIONALs (degrees, minutes, seconds) and its reference letter
   (`negative` = 'S' or 'W'); false when absent or malformed. */
static bool exif_coordinate(ExifData *ed, ExifTag tag, ExifTag ref_tag, char negative, double limit, double *out) {
    ExifEntry *entry = exif_content_get_entry(ed->ifd[EXIF_IFD_GPS], tag);
    char ref[4];
    exif_text(ed, EXIF_IFD_GPS, ref_tag, ref, sizeof ref);
    if (!entry || !entry->data || entry->format != EXIF_FORMAT_RATIONAL || entry->components != 3 ||
        entry->size < 24 || ref[0] == 0) {
        return false;
    }
    const ExifByteOrder order = exif_data_get_byte_order(ed);
    double value = 0, unit = 1;
    for (int i = 0; i < 3; i++) {
        const ExifRational r = exif_get_rational(entry->data + 8 * i, order);
        if (r.denominator == 0) {
            return false;
        }
        value += (double)r.numerator / (double)r.denominator / unit;
        unit *= 60;
    }
    if (ref[0] == negative) {
        value = -value;
    }
    if (value < -limit || value > limit) {
        return false;
    }
    *out = value;
    return true;
}

void imgdec_internal_exif_metadata(const uint8_t *data, size_t size, imgdec_metadata *m) {
    ExifData *ed = exif_load(data, size);
    if (!ed) {
        return;
    }
    exif_date(ed, m->date_taken);
    if (m->date_taken[0]) {
        exif_offset(ed, m->utc_offset);
    }
    exif_text(ed, EXIF_IFD_0, EXIF_TAG_MAKE, m->make, sizeof m->make);
    exif_text(ed, EXIF_IFD_0, EXIF_TAG_MODEL, m->model, sizeof m->model);
    const long orientation = exif_unsigned(ed, EXIF_IFD_0, EXIF_TAG_ORIENTATION);
    if (orientation >= 1 && orientation <= 8) {
        m->orientation = (int32_t)orientation;
    }
    double latitude, longitude;
    if (exif_coordinate(ed, EXIF_TAG_GPS_LATITUDE, EXIF_TAG_GPS_LATITUDE_REF, 'S', 90, &latitude) &&
        exif_coordinate(ed, EXIF_TAG_GPS_LONGITUDE, EXIF_TAG_GPS_LONGITUDE_REF, 'W', 180, &longitude)) {
        m->has_location = true;
        m->latitude = latitude;
        m->longitude = longitude;
    }
    if (m->width == 0 || m->height == 0) {  /* a TIFF file: its own IFD0 says */
        const long width = exif_unsigned(ed, EXIF_IFD_0, EXIF_TAG_IMAGE_WIDTH);
        const long height = exif_unsigned(ed, EXIF_IFD_0, EXIF_TAG_IMAGE_LENGTH);
        if (width > 0 && height > 0 && width <= 0x7fffffff && height <= 0x7fffffff) {
            m->width = (int32_t)width;
            m->height = (int32_t)height;
        }
    }
    exif_data_unref(ed);
}
