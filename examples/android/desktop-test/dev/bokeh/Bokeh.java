// A desktop stand-in for the Kotlin class dev.bokeh.Bokeh: the same native methods, so that
// scripts/test_ffi.sh can load bokeh_jni.c into a real JVM and check the YUV_420_888 path
// (NV21 laid out as Android's Image planes: V and U views over one interleaved buffer) against
// the Rust API's output, through a processor and a stream, upright and turned.
// Usage: java -Djava.library.path=DIR dev.bokeh.Bokeh FIXTURES_DIR
package dev.bokeh;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

public final class Bokeh {
    static native long nativeCreate(boolean stream, int mode, int blur, float strength, int threads,
            boolean smoothing, int rotation, boolean mirror);
    static native void nativeDestroy(boolean stream, long handle);
    static native void nativeSetSettings(boolean stream, long handle, int mode, int blur, float strength,
            int threads, boolean smoothing, int rotation, boolean mirror);
    static native void nativePrepare(boolean stream, long handle, int width, int height);
    static native boolean nativeProcessYuv420(boolean stream, long handle, int width, int height, ByteBuffer y,
            int yStride, ByteBuffer u, ByteBuffer v, int uvRowStride, int uvPixelStride, boolean fullRange,
            ByteBuffer out, int outWidth, int outHeight, int outStride, int outFormat);

    public static void main(String[] args) throws Exception {
        System.loadLibrary("bokeh_jni");
        Path dir = Path.of(args[0]);
        // Fixture nv21_odd: 101x77 NV21, BT.601 limited, blur with strength 0.04, RGBA out.
        int w = 101, h = 77, cw = (w + 1) / 2, ch = (h + 1) / 2;
        byte[] in = Files.readAllBytes(dir.resolve("nv21_odd.in"));
        byte[] expected = Files.readAllBytes(dir.resolve("nv21_odd.expected"));
        ByteBuffer all = ByteBuffer.allocateDirect(in.length);
        all.put(in);
        ByteBuffer y = all.duplicate().position(0).limit(w * h).slice();
        // Android's planes for NV21: plane V starts at the interleaved data, plane U one byte
        // later, each view one byte shorter than the interleaved plane.
        int vuLength = cw * 2 * ch;
        ByteBuffer v = all.duplicate().position(w * h).limit(w * h + vuLength - 1).slice();
        ByteBuffer u = all.duplicate().position(w * h + 1).limit(w * h + vuLength).slice();
        ByteBuffer out = ByteBuffer.allocateDirect(w * h * 4);
        byte[] got = new byte[w * h * 4];

        // Smoothing on, as for a camera: the first frame is the model's mask as is.
        long handle = nativeCreate(false, 0, 0, 0.04f, 0, true, 0, false);
        nativePrepare(false, handle, w, h);
        nativeProcessYuv420(false, handle, w, h, y, w, u, v, cw * 2, 2, false, out, w, h, w * 4, 2);
        out.get(got).rewind();
        if (!java.util.Arrays.equals(got, expected)) throw new AssertionError("JNI output differs from the Rust API");

        // Errors arrive as exceptions with the library's message.
        try {
            nativeProcessYuv420(false, handle, w, h, y, w, u, v, cw * 2, 2, false, out, w, h, w * 2, 2);
            throw new AssertionError("a too-small output stride was accepted");
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().contains("BOKEH_STATUS_INVALID_FRAME")) throw e;
        }
        try {
            nativeSetSettings(false, handle, 0, 0, 9.0f, 0, true, 0, false);
            throw new AssertionError("strength 9 was accepted");
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().contains("strength")) throw e;
        }
        // The sensor at 90 degrees: the upright output is h x w, and a w x h one is refused.
        nativeSetSettings(false, handle, 0, 0, 0.04f, 0, true, 90, true);
        try {
            nativeProcessYuv420(false, handle, w, h, y, w, u, v, cw * 2, 2, false, out, w, h, w * 4, 2);
            throw new AssertionError("an output of the sensor's size was accepted for an upright output");
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().contains("BOKEH_STATUS_SIZE_MISMATCH")) throw e;
        }
        nativeProcessYuv420(false, handle, w, h, y, w, u, v, cw * 2, 2, false, out, h, w, h * 4, 2);
        nativeDestroy(false, handle);

        // A stream: the first push writes nothing, the second writes the first frame.
        long stream = nativeCreate(true, 0, 0, 0.04f, 0, true, 0, false);
        nativePrepare(true, stream, w, h);
        if (nativeProcessYuv420(true, stream, w, h, y, w, u, v, cw * 2, 2, false, out, w, h, w * 4, 2))
            throw new AssertionError("the first push wrote a frame");
        if (!nativeProcessYuv420(true, stream, w, h, y, w, u, v, cw * 2, 2, false, out, w, h, w * 4, 2))
            throw new AssertionError("the second push wrote nothing");
        out.get(got).rewind();
        if (!java.util.Arrays.equals(got, expected)) throw new AssertionError("the stream's frame differs");
        nativeDestroy(true, stream);
        System.out.println("JNI: NV21 through the JNI glue (processor, stream, turned) matches the Rust API; "
                + "errors become exceptions");
    }
}
