// Thin Kotlin wrapper over the bokeh C API through JNI (src/main/cpp/bokeh_jni.c).
// Not compiled in this repository's CI (no Android SDK/NDK or Kotlin there); its native methods
// are exercised from Java on the desktop (desktop-test/). See README.md.
package dev.bokeh

import android.graphics.Bitmap
import android.media.Image
import java.nio.ByteBuffer

/**
 * Portrait mode for one camera stream. Frame calls come from one thread (the ImageAnalysis
 * executor); [update] may be called from any thread, also while a frame is processed (it never
 * blocks: the settings apply from the next frame). close() it when the stream ends.
 *
 * With [stream] (the default for previews) the model runs on the frame just given while the one
 * before it is finished, so each [process] writes the previous frame: one frame of latency for
 * about half the time per frame on a phone's cores.
 */
class Bokeh(
    private var mode: Mode = Mode.BLUR,
    private var strength: Float = 0.03f,
    private val threads: Int = 0,
    /** Temporal smoothing of the mask (and the tracking crop): on for camera streams. */
    private var smoothing: Boolean = true,
    val stream: Boolean = true,
) : AutoCloseable {
    enum class Mode(val code: Int) { BLUR(0), REPLACE(1), CUTOUT(2), MASK(3) }

    private var rotation = 0
    private var mirror = false
    private var handle: Long = nativeCreate(stream, mode.code, 0, strength, threads, smoothing, rotation, mirror)

    /** Changes mode and strength; from any thread, applied at the next frame. */
    fun update(mode: Mode = this.mode, strength: Float = this.strength, smoothing: Boolean = this.smoothing) {
        this.mode = mode
        this.strength = strength
        this.smoothing = smoothing
        apply()
    }

    /** Compiles the model for this camera size ahead of the first frame (call off the UI thread). */
    fun prepare(width: Int, height: Int) = nativePrepare(stream, checkOpen(), width, height)

    /**
     * Processes a YUV_420_888 camera image (CameraX ImageAnalysis / Camera2 ImageReader) into
     * [out], a direct ByteBuffer of RGBA pixels (one byte per pixel in MASK mode) of the image
     * turned upright: width and height swapped when [rotationDegrees] is 90 or 270.
     *
     * @param rotationDegrees `imageProxy.imageInfo.rotationDegrees`: the clockwise turn that makes
     *   the image upright. The model sees the person upright whatever the phone's orientation.
     * @param mirror true for the front camera: the output is a mirror image, as previews show.
     * @return false when nothing was written yet (a stream's first frame).
     */
    fun process(image: Image, rotationDegrees: Int, mirror: Boolean, out: ByteBuffer, fullRange: Boolean = true): Boolean {
        if (rotationDegrees != rotation || mirror != this.mirror) {
            rotation = rotationDegrees
            this.mirror = mirror
            apply()
        }
        val (y, u, v) = image.planes
        require(u.rowStride == v.rowStride && u.pixelStride == v.pixelStride) { "chroma planes differ" }
        val turned = rotationDegrees % 180 != 0
        val outWidth = if (turned) image.height else image.width
        val outHeight = if (turned) image.width else image.height
        val bytesPerPixel = if (mode == Mode.MASK) 1 else 4
        return nativeProcessYuv420(
            stream, checkOpen(), image.width, image.height,
            y.buffer, y.rowStride, u.buffer, v.buffer, u.rowStride, u.pixelStride,
            fullRange, out, outWidth, outHeight, outWidth * bytesPerPixel,
            if (mode == Mode.MASK) FORMAT_GRAY else FORMAT_RGBA,
        )
    }

    /** Processes an upright ARGB_8888 bitmap in place (BLUR or REPLACE mode; not for streams). */
    fun process(bitmap: Bitmap) {
        check(!stream) { "bitmaps go through a Bokeh(stream = false)" }
        if (rotation != 0 || mirror) {
            rotation = 0
            mirror = false
            apply()
        }
        nativeProcessBitmap(checkOpen(), bitmap)
    }

    override fun close() {
        if (handle != 0L) nativeDestroy(stream, handle)
        handle = 0L
    }

    private fun apply() =
        nativeSetSettings(stream, checkOpen(), mode.code, 0, strength, threads, smoothing, rotation, mirror)

    private fun checkOpen(): Long {
        check(handle != 0L) { "Bokeh is closed" }
        return handle
    }

    companion object {
        private const val FORMAT_RGBA = 2
        private const val FORMAT_GRAY = 4

        init { System.loadLibrary("bokeh_jni") }

        @JvmStatic private external fun nativeCreate(
            stream: Boolean, mode: Int, blur: Int, strength: Float, threads: Int, smoothing: Boolean,
            rotation: Int, mirror: Boolean,
        ): Long
        @JvmStatic private external fun nativeDestroy(stream: Boolean, handle: Long)
        @JvmStatic private external fun nativeSetSettings(
            stream: Boolean, handle: Long, mode: Int, blur: Int, strength: Float, threads: Int, smoothing: Boolean,
            rotation: Int, mirror: Boolean,
        )
        @JvmStatic private external fun nativePrepare(stream: Boolean, handle: Long, width: Int, height: Int)
        @JvmStatic private external fun nativeProcessYuv420(
            stream: Boolean, handle: Long, width: Int, height: Int,
            y: ByteBuffer, yStride: Int, u: ByteBuffer, v: ByteBuffer, uvRowStride: Int, uvPixelStride: Int,
            fullRange: Boolean, out: ByteBuffer, outWidth: Int, outHeight: Int, outStride: Int, outFormat: Int,
        ): Boolean
        @JvmStatic private external fun nativeProcessBitmap(handle: Long, bitmap: Bitmap)
    }
}
