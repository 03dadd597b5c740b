// Thin Kotlin wrapper over the bokeh C API through JNI (src/main/cpp/bokeh_jni.c).
// Not compiled in this repository's CI (no Android SDK/NDK or Kotlin there); see README.md.
package dev.bokeh

import android.graphics.Bitmap
import android.media.Image
import java.nio.ByteBuffer

/**
 * Portrait mode for one camera stream. Call it from one thread at a time (e.g. the
 * ImageAnalysis executor); close() it when the stream ends.
 */
class Bokeh(
    mode: Mode = Mode.BLUR,
    strength: Float = 0.03f,
    threads: Int = 0,
    /** Temporal smoothing of the mask: on for camera streams, off for unrelated stills. */
    smoothing: Boolean = true,
) : AutoCloseable {
    enum class Mode(val code: Int) { BLUR(0), REPLACE(1), CUTOUT(2), MASK(3) }

    private var handle: Long = nativeCreate(mode.code, 0, strength, threads, smoothing)

    /** Changes mode and strength between frames. */
    fun update(mode: Mode, strength: Float, threads: Int = 0, smoothing: Boolean = true) {
        nativeSetSettings(checkOpen(), mode.code, 0, strength, threads, smoothing)
        currentMaskMode = mode == Mode.MASK
    }

    /**
     * Processes a YUV_420_888 camera image (CameraX ImageAnalysis / Camera2 ImageReader) into
     * [out], a direct ByteBuffer of width × height RGBA pixels (one byte per pixel in MASK mode).
     */
    fun process(image: Image, out: ByteBuffer, fullRange: Boolean = true) {
        val (y, u, v) = image.planes
        require(u.rowStride == v.rowStride && u.pixelStride == v.pixelStride) { "chroma planes differ" }
        val bytesPerPixel = if (currentMaskMode) 1 else 4
        nativeProcessYuv420(
            checkOpen(), image.width, image.height,
            y.buffer, y.rowStride, u.buffer, v.buffer, u.rowStride, u.pixelStride,
            fullRange, out, image.width * bytesPerPixel, if (currentMaskMode) FORMAT_GRAY else FORMAT_RGBA,
        )
    }

    /** Processes an ARGB_8888 bitmap in place (BLUR or REPLACE mode). */
    fun process(bitmap: Bitmap) = nativeProcessBitmap(checkOpen(), bitmap)

    override fun close() {
        if (handle != 0L) nativeDestroy(handle)
        handle = 0L
    }

    private var currentMaskMode = mode == Mode.MASK

    private fun checkOpen(): Long {
        check(handle != 0L) { "Bokeh is closed" }
        return handle
    }

    companion object {
        private const val FORMAT_RGBA = 2
        private const val FORMAT_GRAY = 4

        init { System.loadLibrary("bokeh_jni") }

        @JvmStatic private external fun nativeCreate(
            mode: Int, blur: Int, strength: Float, threads: Int, smoothing: Boolean,
        ): Long
        @JvmStatic private external fun nativeDestroy(handle: Long)
        @JvmStatic private external fun nativeSetSettings(
            handle: Long, mode: Int, blur: Int, strength: Float, threads: Int, smoothing: Boolean,
        )
        @JvmStatic private external fun nativeProcessYuv420(
            handle: Long, width: Int, height: Int,
            y: ByteBuffer, yStride: Int, u: ByteBuffer, v: ByteBuffer, uvRowStride: Int, uvPixelStride: Int,
            fullRange: Boolean, out: ByteBuffer, outStride: Int, outFormat: Int,
        )
        @JvmStatic private external fun nativeProcessBitmap(handle: Long, bitmap: Bitmap)
    }
}
