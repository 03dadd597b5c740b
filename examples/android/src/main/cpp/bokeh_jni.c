/*
 * JNI glue between dev.bokeh.Bokeh (Kotlin) and the bokeh C API (include/bokeh.h).
 * Camera frames arrive as the planes of an android.media.Image (YUV_420_888) in direct
 * ByteBuffers, or as an ARGB_8888 Bitmap processed in place. Errors become Java exceptions
 * carrying bokeh_last_error().
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

/* Settings from the Kotlin arguments (out-of-range values are left for the library to refuse). */
static bokeh_settings settings(jint mode, jint blur, jfloat strength, jint threads, jboolean smoothing) {
    bokeh_settings s;
    bokeh_settings_init(&s);
    s.mode = (bokeh_mode)mode;
    s.blur = (bokeh_blur)blur;
    s.strength = strength;
    s.num_threads = threads < 0 ? 0u : (uint32_t)threads;
    s.temporal = smoothing ? 1u : 0u;
    return s;
}

JNIEXPORT jlong JNICALL Java_dev_bokeh_Bokeh_nativeCreate(JNIEnv *env, jclass cls, jint mode, jint blur,
                                                          jfloat strength, jint threads, jboolean smoothing) {
    (void)cls;
    bokeh_settings s = settings(mode, blur, strength, threads, smoothing);
    bokeh_processor *p = NULL;
    bokeh_status status = bokeh_processor_create(&s, &p);
    if (status != BOKEH_STATUS_OK) {
        throw_last_error(env, status);
        return 0;
    }
    return (jlong)(intptr_t)p;
}

JNIEXPORT void JNICALL Java_dev_bokeh_Bokeh_nativeDestroy(JNIEnv *env, jclass cls, jlong handle) {
    (void)env, (void)cls;
    bokeh_processor *p = processor_of(handle);
    bokeh_processor_destroy(&p);
}

JNIEXPORT void JNICALL Java_dev_bokeh_Bokeh_nativeSetSettings(JNIEnv *env, jclass cls, jlong handle, jint mode,
                                                              jint blur, jfloat strength, jint threads,
                                                              jboolean smoothing) {
    (void)cls;
    bokeh_settings s = settings(mode, blur, strength, threads, smoothing);
    bokeh_status status = bokeh_processor_set_settings(processor_of(handle), &s);
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
 * V does), which is how most Android cameras deliver them.
 */
JNIEXPORT void JNICALL Java_dev_bokeh_Bokeh_nativeProcessYuv420(JNIEnv *env, jclass cls, jlong handle, jint width,
                                                                jint height, jobject y, jint y_stride, jobject u,
                                                                jobject v, jint uv_row_stride, jint uv_pixel_stride,
                                                                jboolean full_range, jobject out, jint out_stride,
                                                                jint out_format) {
    (void)cls;
    size_t ys, us, vs, os;
    uint8_t *yp = direct(env, y, &ys, "y"), *up = NULL, *vp = NULL, *op = NULL;
    if (yp) up = direct(env, u, &us, "u");
    if (up) vp = direct(env, v, &vs, "v");
    if (vp) op = direct(env, out, &os, "out");
    if (!op) return;
    if (width <= 0 || height <= 0 || y_stride <= 0 || uv_row_stride <= 0 || out_stride <= 0) {
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/IllegalArgumentException"), "sizes must be positive");
        return;
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
        return;
    }
    bokeh_frame o;
    memset(&o, 0, sizeof o);
    o.width = (uint32_t)width;
    o.height = (uint32_t)height;
    o.format = (bokeh_pixel_format)out_format;
    o.planes[0] = op, o.strides[0] = (size_t)out_stride, o.sizes[0] = os;
    bokeh_status status = bokeh_processor_process(processor_of(handle), &in, &o);
    if (status != BOKEH_STATUS_OK) throw_last_error(env, status);
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
