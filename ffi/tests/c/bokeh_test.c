/*
 * The C API from C: real photos through every mode and camera format, checked against the
 * Rust API's output (written by `cargo run -p bokeh-ffi --example c_fixtures -- DIR`), then
 * every error path. Built and run by scripts/test_ffi.sh: linked statically and dynamically,
 * under valgrind, and cross-compiled for aarch64 under qemu.
 *
 *   bokeh_test DIR [MAX_ABS_DIFF [MAX_MEAN_DIFF]]   run the fixtures in DIR (default tolerance 0:
 *                                                    bit-exact; the aarch64 run passes a
 *                                                    tolerance because its float kernels differ)
 *   bokeh_test --bench WIDTH HEIGHT FRAMES [nv21]    time portrait frames through the C API (RGBA
 *                                                    in, or NV21 in as Android cameras give; RGBA out)
 */
#define _POSIX_C_SOURCE 200112L
#include "bokeh.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, " (last error: %s)\n", bokeh_last_error());                            \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Expects `call` to return `want` and leave a message containing `text`. */
#define EXPECT_STATUS(call, want, text)                                                            \
    do {                                                                                           \
        bokeh_status got_ = (call);                                                                \
        CHECK(got_ == (want), "%s returned %s, expected %s", #call, bokeh_status_name((int)got_), \
              bokeh_status_name((int)(want)));                                                     \
        CHECK(strstr(bokeh_last_error(), (text)) != NULL, "%s: message \"%s\" lacks \"%s\"",      \
              #call, bokeh_last_error(), (text));                                                  \
    } while (0)

static unsigned char *read_file(const char *dir, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static size_t bytes_per_pixel(bokeh_pixel_format format) {
    switch (format) {
    case BOKEH_FORMAT_RGB: return 3;
    case BOKEH_FORMAT_RGBA:
    case BOKEH_FORMAT_BGRA: return 4;
    default: return 1;
    }
}

/* Describes tightly packed planes stored one after another, as the fixtures are. */
static bokeh_frame describe(unsigned char *data, size_t len, uint32_t w, uint32_t h, bokeh_pixel_format format,
                            bokeh_color_space color) {
    bokeh_frame f;
    memset(&f, 0, sizeof f);
    f.width = w;
    f.height = h;
    f.format = format;
    f.color = color;
    size_t cw = (w + 1) / 2, ch = (h + 1) / 2;
    switch (format) {
    case BOKEH_FORMAT_NV12:
    case BOKEH_FORMAT_NV21:
        f.planes[0] = data, f.strides[0] = w, f.sizes[0] = (size_t)w * h;
        f.planes[1] = data + f.sizes[0], f.strides[1] = cw * 2, f.sizes[1] = cw * 2 * ch;
        break;
    case BOKEH_FORMAT_I420:
        f.planes[0] = data, f.strides[0] = w, f.sizes[0] = (size_t)w * h;
        f.planes[1] = data + f.sizes[0], f.strides[1] = cw, f.sizes[1] = cw * ch;
        f.planes[2] = f.planes[1] + f.sizes[1], f.strides[2] = cw, f.sizes[2] = cw * ch;
        break;
    case BOKEH_FORMAT_YUYV:
        f.planes[0] = data, f.strides[0] = cw * 4, f.sizes[0] = cw * 4 * h;
        break;
    default:
        f.planes[0] = data, f.strides[0] = w * bytes_per_pixel(format), f.sizes[0] = f.strides[0] * h;
        break;
    }
    size_t total = f.sizes[0] + f.sizes[1] + f.sizes[2];
    if (total != len) {
        fprintf(stderr, "fixture is %zu bytes, its description %zu\n", len, total);
        exit(2);
    }
    return f;
}

static void compare(const char *name, const unsigned char *got, const unsigned char *want, size_t len,
                    int max_abs, double max_mean) {
    int worst = 0;
    double sum = 0;
    for (size_t i = 0; i < len; i++) {
        int d = abs((int)got[i] - (int)want[i]);
        worst = d > worst ? d : worst;
        sum += d;
    }
    double mean = sum / (double)len;
    CHECK(worst <= max_abs && mean <= max_mean, "%s: max abs diff %d (allowed %d), mean %.4f (allowed %.4f)", name,
          worst, max_abs, mean, max_mean);
    printf("  %-12s max abs diff %d, mean %.4f\n", name, worst, mean);
}

/* Runs every case of DIR/manifest.txt through `p`. Returns the number of cases. */
static int run_fixtures(bokeh_processor *p, const char *dir, int max_abs, double max_mean, int only_first) {
    size_t len;
    char *manifest = (char *)read_file(dir, "manifest.txt", &len);
    manifest = realloc(manifest, len + 1);
    manifest[len] = '\0';
    int cases = 0;
    for (char *line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64], in_name[128], want_name[128];
        unsigned format, color, w, h, mode, blur, out_format;
        float strength;
        if (strncmp(line, "background ", 11) == 0) {
            unsigned bw, bh;
            size_t blen;
            if (sscanf(line, "background %u %u", &bw, &bh) != 2) exit(2);
            unsigned char *bg = read_file(dir, "background.rgb", &blen);
            bokeh_frame bgf = describe(bg, blen, bw, bh, BOKEH_FORMAT_RGB, 0);
            EXPECT_STATUS(bokeh_processor_set_background(p, &bgf), BOKEH_STATUS_OK, "");
            free(bg); /* the library keeps its own copy */
            continue;
        }
        if (strncmp(line, "rotated ", 8) == 0 || strncmp(line, "stream ", 7) == 0) continue; /* below */
        if (sscanf(line, "%63s %u %u %u %u %u %u %f %127s %127s %u", name, &format, &color, &w, &h, &mode, &blur,
                   &strength, in_name, want_name, &out_format) != 11) {
            fprintf(stderr, "bad manifest line: %s\n", line);
            exit(2);
        }
        size_t in_len, want_len;
        unsigned char *in = read_file(dir, in_name, &in_len);
        unsigned char *want = read_file(dir, want_name, &want_len);
        bokeh_frame inf = describe(in, in_len, w, h, format, color);
        unsigned char *out = malloc(want_len);
        bokeh_frame outf = describe(out, want_len, w, h, out_format, 0);

        bokeh_settings s;
        bokeh_settings_init(&s);
        s.mode = mode;
        s.blur = blur;
        s.strength = strength;
        EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_OK, "");
        EXPECT_STATUS(bokeh_processor_process(p, &inf, &outf), BOKEH_STATUS_OK, "");
        compare(name, out, want, want_len, max_abs, max_mean);

        if (format == BOKEH_FORMAT_RGBA || format == BOKEH_FORMAT_NV21) {
            /* Padded rows (as camera buffers have) give the same picture. */
            size_t pad = 16, rows = h;
            size_t stride0 = inf.strides[0] + pad;
            unsigned char *padded = calloc(stride0 * rows + inf.sizes[1], 1);
            for (size_t y = 0; y < rows; y++) memcpy(padded + y * stride0, inf.planes[0] + y * inf.strides[0], inf.strides[0]);
            bokeh_frame pf = inf;
            pf.planes[0] = padded, pf.strides[0] = stride0, pf.sizes[0] = stride0 * rows;
            if (format == BOKEH_FORMAT_NV21) {
                pf.planes[1] = padded + pf.sizes[0];
                memcpy(pf.planes[1], inf.planes[1], inf.sizes[1]);
            }
            unsigned char *out2 = malloc(want_len);
            bokeh_frame outf2 = describe(out2, want_len, w, h, out_format, 0);
            EXPECT_STATUS(bokeh_processor_process(p, &pf, &outf2), BOKEH_STATUS_OK, "");
            CHECK(memcmp(out, out2, want_len) == 0, "%s: padded stride changed the output", name);
            free(out2);
            free(padded);
        }
        if (format == BOKEH_FORMAT_RGBA && mode == BOKEH_MODE_BLUR) {
            /* In place: output over the input's own memory. */
            EXPECT_STATUS(bokeh_processor_process(p, &inf, &inf), BOKEH_STATUS_OK, "");
            CHECK(memcmp(in, out, want_len) == 0, "%s: in-place output differs", name);
            unsigned char *mask = malloc((size_t)w * h);
            bokeh_frame mf = describe(mask, (size_t)w * h, w, h, BOKEH_FORMAT_GRAY, 0);
            EXPECT_STATUS(bokeh_processor_get_mask(p, &mf), BOKEH_STATUS_OK, "");
            unsigned lo = 255, hi = 0;
            for (size_t i = 0; i < (size_t)w * h; i++) {
                lo = mask[i] < lo ? mask[i] : lo;
                hi = mask[i] > hi ? mask[i] : hi;
            }
            CHECK(lo < 30 && hi > 225, "%s: mask spans %u..%u, expected a person and a background", name, lo, hi);
            free(mask);
        }
        free(out);
        free(in);
        free(want);
        cases++;
        if (only_first) break;
    }
    free(manifest);
    return cases;
}

static void error_paths(bokeh_processor *p, const char *dir) {
    unsigned char px[4 * 8 * 6];
    memset(px, 100, sizeof px);
    unsigned char out[4 * 8 * 6];
    bokeh_frame in = describe(px, sizeof px, 8, 6, BOKEH_FORMAT_RGBA, 0);
    bokeh_frame o = describe(out, sizeof out, 8, 6, BOKEH_FORMAT_RGBA, 0);
    bokeh_settings s;
    bokeh_settings_init(&s);
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_OK, "");

    /* NULLs everywhere. */
    EXPECT_STATUS(bokeh_processor_process(NULL, &in, &o), BOKEH_STATUS_NULL_POINTER, "processor is NULL");
    EXPECT_STATUS(bokeh_processor_process(p, NULL, &o), BOKEH_STATUS_NULL_POINTER, "input is NULL");
    EXPECT_STATUS(bokeh_processor_process(p, &in, NULL), BOKEH_STATUS_NULL_POINTER, "output is NULL");
    EXPECT_STATUS(bokeh_settings_init(NULL), BOKEH_STATUS_NULL_POINTER, "settings is NULL");
    EXPECT_STATUS(bokeh_processor_create(NULL, NULL), BOKEH_STATUS_NULL_POINTER, "out");
    EXPECT_STATUS(bokeh_processor_set_settings(p, NULL), BOKEH_STATUS_NULL_POINTER, "settings is NULL");
    EXPECT_STATUS(bokeh_processor_reset(NULL), BOKEH_STATUS_NULL_POINTER, "processor is NULL");
    EXPECT_STATUS(bokeh_processor_reset(p), BOKEH_STATUS_OK, "");
    EXPECT_STATUS(bokeh_processor_get_settings(p, NULL), BOKEH_STATUS_NULL_POINTER, "settings is NULL");
    EXPECT_STATUS(bokeh_processor_get_timings(p, NULL), BOKEH_STATUS_NULL_POINTER, "timings is NULL");
    EXPECT_STATUS(bokeh_processor_get_mask(p, NULL), BOKEH_STATUS_NULL_POINTER, "mask is NULL");
    bokeh_frame nullplane = in;
    nullplane.planes[0] = NULL;
    EXPECT_STATUS(bokeh_processor_process(p, &nullplane, &o), BOKEH_STATUS_NULL_POINTER, "input.planes[0] is NULL");
    EXPECT_STATUS(bokeh_processor_process(p, &in, &nullplane), BOKEH_STATUS_NULL_POINTER,
                  "output.planes[0] is NULL");

    /* Impossible sizes and short buffers: nothing is read or written outside them. */
    bokeh_frame bad = in;
    bad.sizes[0] -= 1;
    EXPECT_STATUS(bokeh_processor_process(p, &in, &bad), BOKEH_STATUS_INVALID_FRAME, "too short");
    EXPECT_STATUS(bokeh_processor_process(p, &bad, &o), BOKEH_STATUS_INVALID_FRAME, "too short");
    bad = in;
    bad.strides[0] = 3;
    EXPECT_STATUS(bokeh_processor_process(p, &bad, &o), BOKEH_STATUS_INVALID_FRAME, "stride 3");
    bad = in;
    bad.width = 0;
    bokeh_frame bado = o;
    bado.width = 0;
    EXPECT_STATUS(bokeh_processor_process(p, &bad, &bado), BOKEH_STATUS_INVALID_FRAME, "empty frame");
    bad = in;
    bad.width = 0xFFFFFFFFu;
    bad.height = 0xFFFFFFFFu;
    bad.strides[0] = SIZE_MAX;
    bado = o;
    bado.width = bad.width;
    bado.height = bad.height;
    EXPECT_STATUS(bokeh_processor_process(p, &bad, &bado), BOKEH_STATUS_INVALID_FRAME, "input");
    bad = in;
    bad.sizes[0] = SIZE_MAX;
    EXPECT_STATUS(bokeh_processor_process(p, &bad, &o), BOKEH_STATUS_INVALID_FRAME, "larger than memory");
    bado = o;
    bado.width = 4;
    EXPECT_STATUS(bokeh_processor_process(p, &in, &bado), BOKEH_STATUS_SIZE_MISMATCH, "output is 4x6");
    bad = in;
    bad.format = 0;
    EXPECT_STATUS(bokeh_processor_process(p, &bad, &o), BOKEH_STATUS_UNSUPPORTED_FORMAT, "unknown pixel format 0");
    bado = o;
    bado.format = BOKEH_FORMAT_BGRA;
    EXPECT_STATUS(bokeh_processor_process(p, &in, &bado), BOKEH_STATUS_UNSUPPORTED_FORMAT, "input's format");
    bado.format = BOKEH_FORMAT_NV12;
    EXPECT_STATUS(bokeh_processor_process(p, &in, &bado), BOKEH_STATUS_UNSUPPORTED_FORMAT, "input format");
    unsigned char yuv[8 * 6 + 8 * 3];
    memset(yuv, 128, sizeof yuv);
    bokeh_frame nv = describe(yuv, sizeof yuv, 8, 6, BOKEH_FORMAT_NV12, 0);
    nv.sizes[1] = 7;
    EXPECT_STATUS(bokeh_processor_process(p, &nv, &o), BOKEH_STATUS_INVALID_FRAME, "plane 1");
    nv.sizes[1] = 24;
    nv.color = 42;
    EXPECT_STATUS(bokeh_processor_process(p, &nv, &o), BOKEH_STATUS_INVALID_ARGUMENT, "color space 42");

    /* Settings out of range, and a struct from an unknown header version. */
    s.strength = 2.0f;
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_INVALID_ARGUMENT, "strength");
    s.strength = 0.03f;
    s.temporal = 2;
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_INVALID_ARGUMENT, "temporal");
    s.temporal = 0;
    s.mode = 99;
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_INVALID_ARGUMENT, "mode");
    s.mode = BOKEH_MODE_BLUR;
    s.bloom = 0.5f;
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_INVALID_ARGUMENT, "settings: invalid option: highlight bloom");
    s.bloom = 8.0f;
    s.edge_feather = 0.0f;
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_INVALID_ARGUMENT, "settings: invalid option: refine feather");
    s.edge_feather = 0.5f;
    s.blur = BOKEH_BLUR_HEXAGON;
    s.refine = 0;
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_OK, "");
    EXPECT_STATUS(bokeh_processor_process(p, &in, &o), BOKEH_STATUS_OK, "");
    bokeh_settings_init(&s);
    s.mode = BOKEH_MODE_CUTOUT;
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_OK, "");
    bado = o;
    bado.format = BOKEH_FORMAT_BGRA;
    EXPECT_STATUS(bokeh_processor_process(p, &in, &bado), BOKEH_STATUS_UNSUPPORTED_FORMAT, "CUTOUT writes RGBA");
    bokeh_settings_init(&s);
    s.struct_size = 3;
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_VERSION, "struct_size is 3");
    bokeh_settings got;
    bokeh_settings_init(&got);
    EXPECT_STATUS(bokeh_processor_get_settings(p, &got), BOKEH_STATUS_OK, "");
    CHECK(got.mode == BOKEH_MODE_CUTOUT, "failed set_settings changed the settings (mode %u)", got.mode);
    bokeh_settings_init(&s);
    EXPECT_STATUS(bokeh_processor_set_settings(p, &s), BOKEH_STATUS_OK, "");
    EXPECT_STATUS(bokeh_processor_process(p, &in, &o), BOKEH_STATUS_OK, "");
    bokeh_timings t;
    EXPECT_STATUS(bokeh_processor_get_timings(p, &t), BOKEH_STATUS_OK, "");
    CHECK(t.total_ms > 0 && t.inference_ms > 0, "timings %f %f", t.total_ms, t.inference_ms);

    /* Models that cannot be loaded. */
    bokeh_processor *q = (bokeh_processor *)&s; /* must be overwritten with NULL on failure */
    unsigned char garbage[64];
    memset(garbage, 7, sizeof garbage);
    EXPECT_STATUS(bokeh_processor_create_from_memory(garbage, sizeof garbage, NULL, NULL, &q), BOKEH_STATUS_MODEL,
                  "model");
    CHECK(q == NULL, "failed create left a handle");
    EXPECT_STATUS(bokeh_processor_create_from_memory(NULL, 10, NULL, NULL, &q), BOKEH_STATUS_NULL_POINTER, "data");
    EXPECT_STATUS(bokeh_processor_create_from_file("/nonexistent/model.onnx", NULL, NULL, &q), BOKEH_STATUS_IO,
                  "/nonexistent/model.onnx");
    EXPECT_STATUS(bokeh_processor_create_from_file(NULL, NULL, NULL, &q), BOKEH_STATUS_NULL_POINTER, "path");
    char model[4096];
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    EXPECT_STATUS(bokeh_processor_create_from_file(model, "no-such-preset", NULL, &q), BOKEH_STATUS_INVALID_ARGUMENT,
                  "unknown preset");
    EXPECT_STATUS(bokeh_processor_create_from_file("", NULL, NULL, &q), BOKEH_STATUS_INVALID_ARGUMENT, "path is empty");
    /* The embedded model's file is NCHW; the default spec says NHWC: the message names the spec. */
    EXPECT_STATUS(bokeh_processor_create_from_file(model, NULL, NULL, &q), BOKEH_STATUS_MODEL, "model_spec was");
    bokeh_settings_init(&s);
    s.struct_size = 1002; /* no layout's size (a newer, larger one would be a multiple of 4) */
    EXPECT_STATUS(bokeh_processor_create(&s, &q), BOKEH_STATUS_VERSION, "struct_size");
    CHECK(q == NULL, "failed create left a handle");
    bokeh_settings_init(&s);
    s.struct_size = 28; /* inside the first two layouts, neither of them */
    EXPECT_STATUS(bokeh_processor_create(&s, &q), BOKEH_STATUS_VERSION, "not the size of a bokeh_settings layout");
    /* Replace mode at create: frames wait for a background. */
    bokeh_settings_init(&s);
    s.mode = BOKEH_MODE_REPLACE;
    EXPECT_STATUS(bokeh_processor_create(&s, &q), BOKEH_STATUS_OK, "");
    EXPECT_STATUS(bokeh_processor_get_timings(q, &t), BOKEH_STATUS_NOT_READY, "no frame");
    EXPECT_STATUS(bokeh_processor_process(q, &in, &o), BOKEH_STATUS_NOT_READY, "needs a background");
    EXPECT_STATUS(bokeh_processor_set_background(q, &in), BOKEH_STATUS_OK, "");
    EXPECT_STATUS(bokeh_processor_process(q, &in, &o), BOKEH_STATUS_OK, "");
    bokeh_processor_destroy(&q);

    /* Destroy is NULL-safe and nulls the handle. */
    bokeh_processor_destroy(NULL);
    bokeh_processor_destroy(&q);
    CHECK(q == NULL, "destroy of NULL");
}

/* Finds the manifest line starting with `key` and parses its numbers; 0 if absent. */
static int manifest_numbers(const char *dir, const char *key, unsigned *v, int n) {
    size_t len;
    char *manifest = (char *)read_file(dir, "manifest.txt", &len);
    manifest = realloc(manifest, len + 1);
    manifest[len] = '\0';
    int found = 0;
    for (char *line = strtok(manifest, "\n"); line && !found; line = strtok(NULL, "\n")) {
        size_t k = strlen(key);
        if (strncmp(line, key, k) != 0 || line[k] != ' ') continue;
        char *p = line + k;
        for (int i = 0; i < n; i++) v[i] = (unsigned)strtoul(p, &p, 10);
        found = 1;
    }
    free(manifest);
    return found;
}

/* A phone frame stored sideways and mirrored, given with its rotation: the upright output
   matches the Rust API's. */
static void rotated_case(const char *dir, int max_abs, double max_mean) {
    unsigned v[4];
    if (!manifest_numbers(dir, "rotated", v, 4)) return;
    size_t in_len, want_len;
    unsigned char *in = read_file(dir, "rotated.in", &in_len);
    unsigned char *want = read_file(dir, "rotated.expected", &want_len);
    unsigned char *out = malloc(want_len);
    bokeh_frame inf = describe(in, in_len, v[0], v[1], BOKEH_FORMAT_RGBA, 0);
    bokeh_frame wrong = describe(out, want_len, v[0], v[1], BOKEH_FORMAT_RGBA, 0);
    bokeh_frame outf = describe(out, want_len, v[1], v[0], BOKEH_FORMAT_RGBA, 0);
    bokeh_settings s;
    bokeh_settings_init(&s);
    s.rotation = v[2];
    s.mirror = v[3];
    s.upright_output = 1;
    bokeh_processor *p = NULL;
    EXPECT_STATUS(bokeh_processor_create(&s, &p), BOKEH_STATUS_OK, "");
    EXPECT_STATUS(bokeh_processor_prepare(p, v[0], v[1], BOKEH_FORMAT_RGBA), BOKEH_STATUS_OK, "");
    EXPECT_STATUS(bokeh_processor_process(p, &inf, &wrong), BOKEH_STATUS_SIZE_MISMATCH, "turned upright");
    EXPECT_STATUS(bokeh_processor_process(p, &inf, &outf), BOKEH_STATUS_OK, "");
    compare("rotated", out, want, want_len, max_abs, max_mean);
    bokeh_processor_destroy(&p);
    free(in);
    free(want);
    free(out);
}

/* A UI thread changing settings while the camera thread pushes frames. */
struct ui_thread {
    bokeh_stream *stream;
    volatile int stop;
    int calls, failed;
};

static void *ui_thread_main(void *arg) {
    struct ui_thread *ui = arg;
    bokeh_settings s;
    bokeh_timings t;
    while (!ui->stop) {
        bokeh_stream_get_settings(ui->stream, (bokeh_settings_init(&s), &s));
        /* The same values as in force, so the pictures stay comparable. */
        if (bokeh_stream_set_settings(ui->stream, &s) != BOKEH_STATUS_OK) ui->failed++;
        bokeh_status st = bokeh_stream_get_timings(ui->stream, &t);
        if (st != BOKEH_STATUS_OK && st != BOKEH_STATUS_NOT_READY) ui->failed++;
        ui->calls++;
    }
    return NULL;
}

/* The stream: frames pushed, the previous one written, against the Rust stream's outputs;
   settings calls from a second thread succeed every time. */
static void stream_case(const char *dir, int max_abs, double max_mean) {
    unsigned v[3];
    if (!manifest_numbers(dir, "stream", v, 3)) return;
    unsigned w = v[0], h = v[1], n = v[2];
    bokeh_stream *st = NULL;
    EXPECT_STATUS(bokeh_stream_create(NULL, &st), BOKEH_STATUS_OK, "");
    if (!st) return;
    CHECK(bokeh_stream_latency_frames(st) == 1, "latency");
    EXPECT_STATUS(bokeh_stream_prepare(st, w, h, BOKEH_FORMAT_RGBA), BOKEH_STATUS_OK, "");
    struct ui_thread ui = {st, 0, 0, 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, ui_thread_main, &ui) == 0, "pthread_create");
    size_t len = (size_t)w * h * 4;
    unsigned char *out = malloc(len);
    bokeh_frame outf = describe(out, len, w, h, BOKEH_FORMAT_RGBA, 0);
    unsigned written = 0, k_out = 0;
    char name[64];
    for (unsigned k = 0; k <= n; k++) {
        if (k < n) {
            size_t in_len;
            snprintf(name, sizeof name, "stream_%u.in", k);
            unsigned char *in = read_file(dir, name, &in_len);
            bokeh_frame inf = describe(in, in_len, w, h, BOKEH_FORMAT_RGBA, 0);
            EXPECT_STATUS(bokeh_stream_push(st, &inf, &outf, &written), BOKEH_STATUS_OK, "");
            free(in); /* the stream copied it */
            CHECK(written == (k > 0), "push %u wrote %u", k, written);
        } else {
            EXPECT_STATUS(bokeh_stream_finish(st, &outf, &written), BOKEH_STATUS_OK, "");
            CHECK(written == 1, "finish wrote nothing");
        }
        if (!written) continue;
        size_t want_len;
        snprintf(name, sizeof name, "stream_%u.expected", k_out);
        unsigned char *want = read_file(dir, name, &want_len);
        snprintf(name, sizeof name, "stream %u", k_out++);
        compare(name, out, want, want_len, max_abs, max_mean);
        free(want);
    }
    ui.stop = 1;
    pthread_join(thread, NULL);
    CHECK(ui.failed == 0, "%d of %d settings calls from the UI thread failed", ui.failed, ui.calls);
    printf("  stream: %u frames; %d settings calls from a second thread, all OK\n", k_out, ui.calls);
    bokeh_stream_destroy(&st);
    CHECK(st == NULL, "stream destroy");
    free(out);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One frame through `p`, in milliseconds (negative on error). */
static double timed_frame(bokeh_processor *p, const bokeh_frame *in, const bokeh_frame *out) {
    double t0 = now_ms();
    if (bokeh_processor_process(p, in, out) != BOKEH_STATUS_OK) {
        fprintf(stderr, "process: %s\n", bokeh_last_error());
        return -1;
    }
    return now_ms() - t0;
}

static int bench(uint32_t w, uint32_t h, int frames, int nv21) {
    size_t len = (size_t)w * h * 4;
    unsigned char *in = malloc(len), *out = malloc(len);
    for (size_t i = 0; i < len; i++) in[i] = (unsigned char)((i * 7 + i / (w * 4) * 3) & 0xFF);
    size_t nv21_len = (size_t)w * h + (size_t)((w + 1) / 2) * 2 * ((h + 1) / 2);
    bokeh_frame inf = nv21 ? describe(in, nv21_len, w, h, BOKEH_FORMAT_NV21, BOKEH_COLOR_BT601_FULL)
                           : describe(in, len, w, h, BOKEH_FORMAT_RGBA, 0);
    bokeh_frame outf = describe(out, len, w, h, BOKEH_FORMAT_RGBA, 0);
    /* A camera stream (temporal smoothing and tracking): the first frame with and without
       bokeh_processor_prepare, then the steady frames. */
    bokeh_settings s;
    bokeh_settings_init(&s);
    s.temporal = 1;
    bokeh_processor *cold = NULL, *p = NULL;
    if (bokeh_processor_create(&s, &cold) != BOKEH_STATUS_OK || bokeh_processor_create(&s, &p) != BOKEH_STATUS_OK) {
        fprintf(stderr, "create: %s\n", bokeh_last_error());
        return 1;
    }
    double first_cold = timed_frame(cold, &inf, &outf);
    bokeh_processor_destroy(&cold);
    double t0 = now_ms();
    if (bokeh_processor_prepare(p, w, h, inf.format) != BOKEH_STATUS_OK) {
        fprintf(stderr, "prepare: %s\n", bokeh_last_error());
        return 1;
    }
    double prepare = now_ms() - t0;
    double first = timed_frame(p, &inf, &outf);
    bokeh_timings sum, t;
    memset(&sum, 0, sizeof sum);
    double start = now_ms();
    for (int i = 0; i < frames; i++) {
        if (timed_frame(p, &inf, &outf) < 0) return 1;
        if (bokeh_processor_get_timings(p, &t) == BOKEH_STATUS_OK) {
            sum.convert_ms += t.convert_ms;
            sum.preprocess_ms += t.preprocess_ms, sum.inference_ms += t.inference_ms;
            sum.upsample_ms += t.upsample_ms, sum.blur_ms += t.blur_ms, sum.composite_ms += t.composite_ms;
        }
    }
    double per_frame = (now_ms() - start) / frames;
    printf("%ux%u %s, %d frames: %.2f ms/frame (convert %.2f, preprocess %.2f, inference %.2f, upsample %.2f, "
           "blur %.2f, composite %.2f)\n",
           w, h, nv21 ? "NV21" : "RGBA", frames, per_frame, sum.convert_ms / frames, sum.preprocess_ms / frames,
           sum.inference_ms / frames, sum.upsample_ms / frames, sum.blur_ms / frames, sum.composite_ms / frames);
    printf("first frame: %.1f ms without prepare, %.1f ms after prepare (%.2fx steady; prepare took %.1f ms)\n",
           first_cold, first, first / per_frame, prepare);
    bokeh_processor_destroy(&p);
    free(in);
    free(out);
    return 0;
}

int main(int argc, char **argv) {
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "--bench") == 0)
        return bench((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), atoi(argv[4]),
                     argc == 6 && strcmp(argv[5], "nv21") == 0);
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [MAX_ABS_DIFF [MAX_MEAN_DIFF]] | --bench W H FRAMES\n", argv[0]);
        return 2;
    }
    int max_abs = argc > 2 ? atoi(argv[2]) : 0;
    double max_mean = argc > 3 ? atof(argv[3]) : 0.0;

    CHECK(bokeh_abi_version() == BOKEH_ABI_VERSION, "ABI %u, header %d", bokeh_abi_version(), BOKEH_ABI_VERSION);
    printf("bokeh %s (ABI %u)\n", bokeh_version(), bokeh_abi_version());
    CHECK(strcmp(bokeh_status_name(BOKEH_STATUS_BUSY), "BOKEH_STATUS_BUSY") == 0, "status name");

    bokeh_processor *p = NULL;
    EXPECT_STATUS(bokeh_processor_create(NULL, &p), BOKEH_STATUS_OK, "");
    if (!p) return 1;
    unsigned char m[4];
    bokeh_frame mf = describe(m, 4, 2, 2, BOKEH_FORMAT_GRAY, 0);
    EXPECT_STATUS(bokeh_processor_get_mask(p, &mf), BOKEH_STATUS_NOT_READY, "no frame");

    int cases = run_fixtures(p, argv[1], max_abs, max_mean, 0);
    error_paths(p, argv[1]);
    rotated_case(argv[1], max_abs, max_mean);
    stream_case(argv[1], max_abs, max_mean);
    bokeh_processor_destroy(&p);
    CHECK(p == NULL, "destroy did not null the handle");

    /* The same model from a file (square model only: the fixtures are not wide). */
    char model[4096];
    snprintf(model, sizeof model, "%s/model.onnx", argv[1]);
    bokeh_settings s;
    bokeh_settings_init(&s);
    s.num_threads = 2;
    EXPECT_STATUS(bokeh_processor_create_from_file(model, "mediapipe,layout=nchw", &s, &p), BOKEH_STATUS_OK, "");
    if (p) {
        printf("model from a file, own pool of 2 threads:\n");
        run_fixtures(p, argv[1], max_abs, max_mean, 1);
        bokeh_processor_destroy(&p);
    }

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("C API: %d fixture cases and all error paths passed\n", cases);
    return 0;
}
