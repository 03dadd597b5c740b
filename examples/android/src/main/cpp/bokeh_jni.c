/*
 * JNI glue between dev.bokeh.Bokeh (Kotlin) and the bokeh C API (include/bokeh.h).
 * Camera frames arrive as the planes of an android.media.Image (YUV_420_888) in direct
 * ByteBuffers, or as an ARGB_8888 Bitmap processed in place. A handle is a bokeh_processor
 * (each call returns its frame) or, for a camera preview, a bokeh_stream (each push returns the
 * frame before it, the model running on its own thread meanwhile). The camera's rotation and
 * the front camera's mirror travel in the settings; the library turns the output upright.
 * Errors become Java exceptions carrying bokeh_last_error().
 *
 * scripts/test_ffi.sh compiles this file against the JDK's jni.h and runs it from Java on the
 * desktop (the YUV path); the Bitmap path needs the NDK's <android/bitmap.h> and is built only
 * for Android.
 */
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bokeh.h"

#ifdef __ANDROID__
#include <android/bitmap.h>
#endif

static void throw_last_error(JNIEnv *env, bokeh_status status) {
    char message[1024];
    snprintf(message, sizeof message, "%s: %s", bokeh_status_name((int)status), bokeh_last_error());
    jclass cls = (*env)->FindClass(env, status == BOKEH_STATUS_INVALID_FRAME || status == BOKEH_STATUS_INVALID_ARGUMENT ||
                                                status == BOKEH_STATUS_UNSUPPORTED_FORMAT ||
                                                status == BOKEH_STATUS_SIZE_MISMATCH
                                            ? "java/lang/IllegalArgumentException"
                                            : "java/lang/IllegalStateException");
    if (cls) (*env)->ThrowNew(env, cls, message);
}

static bokeh_processor *processor_of(jlong handle) { return (bokeh_processor *)(intptr_t)handle; }
static bokeh_stream *stream_of(jlong handle) { return (bokeh_stream *)(intptr_t)handle; }

/* Settings from the Kotlin arguments (out-of-range values are left for the library to refuse).
   The output is always upright: the app draws it as it comes. */
static bokeh_settings settings(jint mode, jint blur, jfloat strength, jint threads, jboolean smoothing,
                               jint rotation, jboolean mirror) {
    bokeh_settings s;
    bokeh_settings_init(&s);
    s.mode = (bokeh_mode)mode;
    s.blur = (bokeh_blur)blur;
    s.strength = strength;
    s.num_threads = threads < 0 ? 0u : (uint32_t)threads;
    s.temporal = smoothing ? 1u : 0u;
    s.rotation = rotation < 0 ? 1u : (uint32_t)rotation; /* 1: refused by the library, with its message */
    s.mirror = mirror ? 1u : 0u;
    s.upright_output = 1;
    return s;
}

JNIEXPORT jlong JNICALL Java_dev_bokeh_Bokeh_nativeCreate(JNIEnv *env, jclass cls, jboolean stream, jint mode,
                                                          jint blur, jfloat strength, jint threads,
                                                          jboolean smoothing, jint rotation, jboolean mirror) {
    (void)cls;
    bokeh_settings s = settings(mode, blur, strength, threads, smoothing, rotation, mirror);
    void *handle = NULL;
    bokeh_status status = stream ? bokeh_stream_create(&s, (bokeh_stream **)&handle)
                                 : bokeh_processor_create(&s, (bokeh_processor **)&handle);
    if (status != BOKEH_STATUS_OK) {
        throw_last_error(env, status);
        return 0;
    }
    return (jlong)(intptr_t)handle;
}

JNIEXPORT void JNICALL Java_dev_bokeh_Bokeh_nativeDestroy(JNIEnv *env, jclass cls, jboolean stream, jlong handle) {
    (void)env, (void)cls;
    if (stream) {
        bokeh_stream *s = stream_of(handle);
        bokeh_stream_destroy(&s);
    } else {
        bokeh_processor *p = processor_of(handle);
        bokeh_processor_destroy(&p);
    }
}

/* Never BUSY: may be called from the UI thread while the camera thread processes. */
JNIEXPORT void JNICALL Java_dev_bokeh_Bokeh_nativeSetSettings(JNIEnv *env, jclass cls, jboolean stream, jlong handle,
                                                              jint mode, jint blur, jfloat strength, jint threads,
                                                              jboolean smoothing, jint rotation, jboolean mirror) {
    (void)cls;
    bokeh_settings s = settings(mode, blur, strength, threads, smoothing, rotation, mirror);
    bokeh_status status = stream ? bokeh_stream_set_settings(stream_of(handle), &s)
                                 : bokeh_processor_set_settings(processor_of(handle), &s);
    if (status != BOKEH_STATUS_OK) throw_last_error(env, status);
}

/* Readies the handle for frames of this size (plans compiled, one black frame run): the first
   camera frame then costs what the others do. */
JNIEXPORT void JNICALL Java_dev_bokeh_Bokeh_nativePrepare(JNIEnv *env, jclass cls, jboolean stream, jlong handle,
                                                          jint width, jint height) {
    (void)cls;
    uint32_t w = width < 0 ? 0u : (uint32_t)width, h = height < 0 ? 0u : (uint32_t)height;
    bokeh_status status = stream ? bokeh_stream_prepare(stream_of(handle), w, h, BOKEH_FORMAT_NV21)
                                 : bokeh_processor_prepare(processor_of(handle), w, h, BOKEH_FORMAT_NV21);
    if (status != BOKEH_STATUS_OK) throw_last_error(env, status);
}

/* Address and capacity of a direct ByteBuffer, or NULL (with an exception pending). */
static uint8_t *direct(JNIEnv *env, jobject buffer, size_t *size, const char *what) {
    uint8_t *data = buffer ? (uint8_t *)(*env)->GetDirectBufferAddress(env, buffer) : NULL;
    jlong capacity = buffer ? (*env)->GetDirectBufferCapacity(env, buffer) : -1;
    if (!data || capacity < 0) {
        char message[128];
        snprintf(message, sizeof message, "%s must be a direct ByteBuffer", what);
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/IllegalArgumentException"), message);
        return NULL;
    }
    *size = (size_t)capacity;
    return data;
}

/*
 * YUV_420_888 planes as Image.getPlanes() gives them. With a chroma pixel stride of 1 the
 * planes are I420; with 2, U and V interleave in one buffer (NV12 when U comes first, NV21 when
 * V does), which is how most Android cameras deliver them. `out` is out_width x out_height
 * (the image's size turned upright). A stream writes the frame pushed before this one and
 * returns whether it wrote one; a processor always writes this frame's.
 */
JNIEXPORT jboolean JNICALL Java_dev_bokeh_Bokeh_nativeProcessYuv420(
    JNIEnv *env, jclass cls, jboolean stream, jlong handle, jint width, jint height, jobject y, jint y_stride, jobject u,
    jobject v, jint uv_row_stride, jint uv_pixel_stride, jboolean full_range, jobject out, jint out_width,
    jint out_height, jint out_stride, jint out_format) {
    (void)cls;
    size_t ys, us, vs, os;
    uint8_t *yp = direct(env, y, &ys, "y"), *up = NULL, *vp = NULL, *op = NULL;
    if (yp) up = direct(env, u, &us, "u");
    if (up) vp = direct(env, v, &vs, "v");
    if (vp) op = direct(env, out, &os, "out");
    if (!op) return JNI_FALSE;
    if (width <= 0 || height <= 0 || y_stride <= 0 || uv_row_stride <= 0 || out_stride <= 0 || out_width <= 0 ||
        out_height <= 0) {
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/IllegalArgumentException"), "sizes must be positive");
        return JNI_FALSE;
    }
    bokeh_frame in;
    memset(&in, 0, sizeof in);
    in.width = (uint32_t)width;
    in.height = (uint32_t)height;
    in.color = full_range ? BOKEH_COLOR_BT601_FULL : BOKEH_COLOR_BT601_LIMITED;
    in.planes[0] = yp, in.strides[0] = (size_t)y_stride, in.sizes[0] = ys;
    if (uv_pixel_stride == 1) {
        in.format = BOKEH_FORMAT_I420;
        in.planes[1] = up, in.strides[1] = (size_t)uv_row_stride, in.sizes[1] = us;
        in.planes[2] = vp, in.strides[2] = (size_t)uv_row_stride, in.sizes[2] = vs;
    } else if (uv_pixel_stride == 2 && vp == up + 1) {
        /* The V buffer's view ends one byte early; the interleaved plane is one byte longer. */
        in.format = BOKEH_FORMAT_NV12;
        in.planes[1] = up, in.strides[1] = (size_t)uv_row_stride, in.sizes[1] = vs + 1 > us ? vs + 1 : us;
    } else if (uv_pixel_stride == 2 && up == vp + 1) {
        in.format = BOKEH_FORMAT_NV21;
        in.planes[1] = vp, in.strides[1] = (size_t)uv_row_stride, in.sizes[1] = us + 1 > vs ? us + 1 : vs;
    } else {
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/IllegalArgumentException"),
                         "unsupported chroma layout (pixel stride must be 1, or 2 with interleaved U/V)");
        return JNI_FALSE;
    }
    bokeh_frame o;
    memset(&o, 0, sizeof o);
    o.width = (uint32_t)out_width;
    o.height = (uint32_t)out_height;
    o.format = (bokeh_pixel_format)out_format;
    o.planes[0] = op, o.strides[0] = (size_t)out_stride, o.sizes[0] = os;
    uint32_t written = 1;
    bokeh_status status = stream ? bokeh_stream_push(stream_of(handle), &in, &o, &written)
                                 : bokeh_processor_process(processor_of(handle), &in, &o);
    if (status != BOKEH_STATUS_OK) throw_last_error(env, status);
    return written ? JNI_TRUE : JNI_FALSE;
}

#ifdef __ANDROID__
/* An ARGB_8888 Bitmap (RGBA bytes in memory), processed in place. */
JNIEXPORT void JNICALL Java_dev_bokeh_Bokeh_nativeProcessBitmap(JNIEnv *env, jclass cls, jlong handle,
                                                                jobject bitmap) {
    (void)cls;
    AndroidBitmapInfo info;
    void *pixels = NULL;
    if (AndroidBitmap_getInfo(env, bitmap, &info) != ANDROID_BITMAP_RESULT_SUCCESS ||
        info.format != ANDROID_BITMAP_FORMAT_RGBA_8888) {
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/IllegalArgumentException"),
                         "bitmap must be ARGB_8888");
        return;
    }
    if (AndroidBitmap_lockPixels(env, bitmap, &pixels) != ANDROID_BITMAP_RESULT_SUCCESS) {
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/IllegalStateException"), "cannot lock bitmap");
        return;
    }
    bokeh_frame f;
    memset(&f, 0, sizeof f);
    f.width = info.width;
    f.height = info.height;
    f.format = BOKEH_FORMAT_RGBA;
    f.planes[0] = (uint8_t *)pixels, f.strides[0] = info.stride, f.sizes[0] = (size_t)info.stride * info.height;
    bokeh_status status = bokeh_processor_process(processor_of(handle), &f, &f);
    AndroidBitmap_unlockPixels(env, bitmap);
    if (status != BOKEH_STATUS_OK) throw_last_error(env, status);
}
#endif
